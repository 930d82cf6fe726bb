package config

import (
	"github.com/ponte-city/ponte/twin/alarms"
)

// Alarms configures the twin's alarms (twin.alarms). Without the section
// the shipped rules run (package twin/alarms, defaults.go).
//
//	twin:
//	  alarms:
//	    defaults: true            # the shipped rules (EU air-quality limits, noise class IV by day)
//	    rules:
//	      - id: eu-pm10-daily     # a shipped rule's ID: override the fields given
//	        min_duration: 30m
//	      - id: noise-class-iv-day
//	        enabled: false
//	      - id: pm10-early        # a new rule
//	        category: air
//	        point: pm10
//	        above: 40
//	        hysteresis: 5
//	        window: 1h
//	        min_duration: 10m
//	        severity: minor       # critical, major, minor, warning
//	        unit: µg/m³
//	        label: {it: "PM10 in aumento", en: "PM10 rising"}
//	    max_open: 1000
//	    max_closed: 500
type Alarms struct {
	// Defaults turns the shipped rules on (default true).
	Defaults *bool `yaml:"defaults"`
	// Rules override shipped rules by ID or add new ones.
	Rules []alarms.RuleSpec `yaml:"rules"`
	// MaxOpen and MaxClosed cap the alarms kept (0: the package defaults).
	MaxOpen   int `yaml:"max_open"`
	MaxClosed int `yaml:"max_closed"`
}

// alarmsOf returns the twin's alarms section, or an empty one.
func (c *Config) alarmsOf() Alarms {
	if c.Twin == nil || c.Twin.Alarms == nil {
		return Alarms{}
	}
	return *c.Twin.Alarms
}

func (c *Config) validateAlarms(bad func(path, format string, args ...any)) {
	if c.Twin == nil {
		return
	}
	a := c.alarmsOf()
	alarms.Rules(a.Rules, a.Defaults == nil || *a.Defaults, "twin.alarms.rules", bad)
	if a.MaxOpen < 0 {
		bad("twin.alarms.max_open", "%d (expected a number of alarms; 0 for the default %d)", a.MaxOpen, alarms.DefaultMaxOpen)
	}
	if a.MaxClosed < 0 {
		bad("twin.alarms.max_closed", "%d (expected a number of alarms; 0 for the default %d)", a.MaxClosed, alarms.DefaultMaxClosed)
	}
}

// AlarmRules returns the twin's alarm rules: the shipped ones (unless
// turned off) with the config's overrides and additions. The config was
// validated, so they are all good.
func (c *Config) AlarmRules() []alarms.Rule {
	a := c.alarmsOf()
	rules, _ := alarms.Rules(a.Rules, a.Defaults == nil || *a.Defaults, "twin.alarms.rules", func(string, string, ...any) {})
	return rules
}

// AlarmLimits returns twin.alarms.max_open and max_closed (0: defaults).
func (c *Config) AlarmLimits() (maxOpen, maxClosed int) {
	a := c.alarmsOf()
	return a.MaxOpen, a.MaxClosed
}
