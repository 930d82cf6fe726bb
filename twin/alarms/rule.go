package alarms

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/ponte-city/ponte/internal/yamlconf"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// Text is a label or description in Italian and English.
type Text struct {
	IT string `yaml:"it" json:"it"`
	EN string `yaml:"en" json:"en"`
}

// Severity ranks alarms; the map colours them by it.
type Severity string

// Severities, most severe first.
const (
	Critical Severity = "critical"
	Major    Severity = "major"
	Minor    Severity = "minor"
	Warning  Severity = "warning"
)

// severities lists the severities, most severe first.
var severities = []Severity{Critical, Major, Minor, Warning}

// Mean is how a rule averages the readings of its window.
type Mean string

// Means.
const (
	// Arithmetic is the plain mean (concentrations).
	Arithmetic Mean = "arithmetic"
	// Energy is 10*log10(mean(10^(L/10))), the mean of sound levels in dB.
	Energy Mean = "energy"
)

// RuleSpec is one rule as written in YAML (ingest's twin.alarms.rules, or
// a rules file). A spec whose ID is a shipped default's overrides the
// fields it sets and keeps the others; "enabled: false" turns a rule off.
type RuleSpec struct {
	// ID names the rule (letters, digits, '-', '_', '.').
	ID      string `yaml:"id"`
	Enabled *bool  `yaml:"enabled"`
	// Category and Point select a measured quantity of sites: the
	// attribute of that name of the sites of that category (the profile's
	// point name for air pollutants and noise: pm10, pm25, no2, o3, LAeq).
	// Category may be left empty to watch every site with the attribute.
	Category wire.Category `yaml:"category"`
	Point    string        `yaml:"point"`
	// Indicator selects an area indicator (twin.Ind*), watched for every
	// area and for the city.
	Indicator string `yaml:"indicator"`
	// Above or Below is the threshold (exactly one).
	Above *float64 `yaml:"above"`
	Below *float64 `yaml:"below"`
	// Hysteresis: a raised alarm clears only once the value is back past
	// the threshold by this much (above: <= threshold-hysteresis).
	Hysteresis *float64 `yaml:"hysteresis"`
	// Window, if set, compares the mean of the readings of the last
	// Window (a rolling window) instead of the latest value; Mean says
	// which mean (default arithmetic).
	Window *yamlconf.Duration `yaml:"window"`
	Mean   Mean               `yaml:"mean"`
	// MinDuration: raised only after the condition held this long, cleared
	// after it held false this long.
	MinDuration *yamlconf.Duration `yaml:"min_duration"`
	Severity    Severity           `yaml:"severity"`
	// Unit is shown with the values (e.g. µg/m³).
	Unit        string `yaml:"unit"`
	Label       Text   `yaml:"label"`
	Description Text   `yaml:"description"`
}

// Rule is a checked rule, as the engine evaluates it and the API shows it.
type Rule struct {
	ID          string        `json:"id"`
	Category    wire.Category `json:"category,omitempty"`
	Point       string        `json:"point,omitempty"`
	Indicator   string        `json:"indicator,omitempty"`
	Above       bool          `json:"-"`
	Direction   string        `json:"direction"` // "above" or "below"
	Threshold   float64       `json:"threshold"`
	Hysteresis  float64       `json:"hysteresis"`
	Window      time.Duration `json:"-"`
	Mean        Mean          `json:"mean"`
	MinDuration time.Duration `json:"-"`
	Severity    Severity      `json:"severity"`
	Unit        string        `json:"unit,omitempty"`
	Label       Text          `json:"label"`
	Description Text          `json:"description"`
}

// exceeds says whether v is past the threshold (the alarm condition).
func (r *Rule) exceeds(v float64) bool {
	if r.Above {
		return v > r.Threshold
	}
	return v < r.Threshold
}

// normal says whether v is back past the threshold by the hysteresis.
func (r *Rule) normal(v float64) bool {
	if r.Above {
		return v <= r.Threshold-r.Hysteresis
	}
	return v >= r.Threshold+r.Hysteresis
}

// quantity is the point or indicator the rule watches.
func (r *Rule) quantity() string {
	if r.Indicator != "" {
		return r.Indicator
	}
	return r.Point
}

var ruleID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Indicators are the indicator names a rule may watch.
var indicatorNames = []string{twin.IndTrafficIntensity, twin.IndCongestionShare, twin.IndAirBandWorst, twin.IndAirBandMean,
	twin.IndNoiseLAeqMean, twin.IndParkingOccupancy, twin.IndLightingPower, twin.IndLightingEnergy}

// Rules merges specs over the shipped defaults (none when withDefaults is
// false) and checks the result. Problems are reported through bad with
// the field's path under prefix (e.g. "twin.alarms.rules"), so a config
// loader can name the file and line; ok is false if there was one.
func Rules(specs []RuleSpec, withDefaults bool, prefix string, bad func(path, format string, args ...any)) (rules []Rule, ok bool) {
	ok = true
	report := func(path, format string, args ...any) {
		ok = false
		bad(path, format, args...)
	}
	var merged []RuleSpec
	if withDefaults {
		merged = Defaults()
	}
	origin := make([]int, len(merged)) // index into specs, -1 for a default
	for i := range origin {
		origin[i] = -1
	}
	seen := map[string]int{}
	for i, s := range specs {
		p := fmt.Sprintf("%s[%d]", prefix, i)
		if !ruleID.MatchString(s.ID) {
			report(p+".id", "%q is not a rule ID (expected 1 to 64 letters, digits, '-', '_', '.')", s.ID)
			continue
		}
		if j, dup := seen[s.ID]; dup {
			report(p+".id", "%q already used by %s[%d]", s.ID, prefix, j)
			continue
		}
		seen[s.ID] = i
		if k := slices.IndexFunc(merged, func(d RuleSpec) bool { return d.ID == s.ID }); k >= 0 {
			merged[k] = overlay(merged[k], s)
			origin[k] = i
			continue
		}
		merged = append(merged, s)
		origin = append(origin, i)
	}
	for k, s := range merged {
		if s.Enabled != nil && !*s.Enabled {
			continue
		}
		p := prefix + "[" + s.ID + "]" // a default's problem (cannot happen unless overridden)
		if origin[k] >= 0 {
			p = fmt.Sprintf("%s[%d]", prefix, origin[k])
		}
		if r, good := compile(s, p, report); good {
			rules = append(rules, r)
		}
	}
	return rules, ok
}

// overlay returns base with the fields that o sets.
func overlay(base, o RuleSpec) RuleSpec {
	if o.Enabled != nil {
		base.Enabled = o.Enabled
	}
	if o.Category != "" || o.Point != "" || o.Indicator != "" {
		base.Category, base.Point, base.Indicator = o.Category, o.Point, o.Indicator
	}
	if o.Above != nil || o.Below != nil {
		base.Above, base.Below = o.Above, o.Below
	}
	if o.Hysteresis != nil {
		base.Hysteresis = o.Hysteresis
	}
	if o.Window != nil {
		base.Window = o.Window
	}
	if o.Mean != "" {
		base.Mean = o.Mean
	}
	if o.MinDuration != nil {
		base.MinDuration = o.MinDuration
	}
	if o.Severity != "" {
		base.Severity = o.Severity
	}
	if o.Unit != "" {
		base.Unit = o.Unit
	}
	for _, t := range []struct{ dst, src *Text }{{&base.Label, &o.Label}, {&base.Description, &o.Description}} {
		if t.src.IT != "" {
			t.dst.IT = t.src.IT
		}
		if t.src.EN != "" {
			t.dst.EN = t.src.EN
		}
	}
	return base
}

// compile checks one merged spec.
func compile(s RuleSpec, p string, bad func(path, format string, args ...any)) (Rule, bool) {
	n := 0
	fail := func(path, format string, args ...any) {
		n++
		bad(p+"."+path, format, args...)
	}
	r := Rule{ID: s.ID, Category: s.Category, Point: s.Point, Indicator: s.Indicator, Mean: s.Mean,
		Severity: s.Severity, Unit: s.Unit, Label: s.Label, Description: s.Description}
	switch {
	case s.Point != "" && s.Indicator != "":
		fail("indicator", "give point (a measured quantity of sites) or indicator (of areas), not both")
	case s.Point == "" && s.Indicator == "":
		fail("point", "required: the measured quantity to watch (e.g. pm10), or indicator")
	case s.Indicator != "" && !slices.Contains(indicatorNames, s.Indicator):
		fail("indicator", "%q is not an indicator (expected one of %s)", s.Indicator, strings.Join(indicatorNames, ", "))
	case s.Indicator != "" && s.Category != "":
		fail("category", "an indicator rule watches areas; category is for point rules")
	}
	if s.Category != "" && !s.Category.Valid() {
		fail("category", "%q is not a category (expected one of %v)", s.Category, wire.Categories())
	}
	finite := func(f *float64) bool { return f != nil && !math.IsNaN(*f) && !math.IsInf(*f, 0) }
	switch {
	case s.Above != nil && s.Below != nil:
		fail("below", "give above or below, not both")
	case s.Above == nil && s.Below == nil:
		fail("above", "required: the threshold, as above: <value> or below: <value>")
	case s.Above != nil && !finite(s.Above):
		fail("above", "expected a finite number")
	case s.Below != nil && !finite(s.Below):
		fail("below", "expected a finite number")
	case s.Above != nil:
		r.Above, r.Direction, r.Threshold = true, "above", *s.Above
	default:
		r.Direction, r.Threshold = "below", *s.Below
	}
	if s.Hysteresis != nil {
		if !finite(s.Hysteresis) || *s.Hysteresis < 0 {
			fail("hysteresis", "%v (expected a number, 0 or more, in the quantity's unit)", *s.Hysteresis)
		} else {
			r.Hysteresis = *s.Hysteresis
		}
	}
	if s.Window != nil {
		if r.Window = s.Window.D(); r.Window < 0 {
			fail("window", "%v (expected a duration, 0 for the latest value)", r.Window)
		}
	}
	if s.MinDuration != nil {
		if r.MinDuration = s.MinDuration.D(); r.MinDuration < 0 {
			fail("min_duration", "%v (expected a duration, 0 or more)", r.MinDuration)
		}
	}
	switch r.Mean {
	case "":
		r.Mean = Arithmetic
	case Arithmetic, Energy:
	default:
		fail("mean", "%q (expected arithmetic or energy)", r.Mean)
	}
	switch {
	case r.Severity == "":
		fail("severity", "required (expected one of %v)", severities)
	case !slices.Contains(severities, r.Severity):
		fail("severity", "%q (expected one of %v)", r.Severity, severities)
	}
	if r.Label.IT == "" || r.Label.EN == "" {
		fail("label", "required in Italian and English (label: {it: ..., en: ...})")
	}
	return r, n == 0
}
