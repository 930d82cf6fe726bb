package config

import (
	"testing"
	"time"
)

// TestAlarmRules: without twin.alarms the shipped rules run; the section
// overrides a shipped rule's fields, turns one off and adds one.
func TestAlarmRules(t *testing.T) {
	base := "influx:\n  url: http://127.0.0.1:8086\ngateways:\n  - {id: gw-1, password: a-long-enough-password}\n" +
		"twin:\n  areas: [../../geo/data/firenze-metro-municipalities.geojson]\n  tokens: [a-long-enough-operator-token]\n"
	c, err := Parse("ingest.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	shipped := c.AlarmRules()
	if len(shipped) < 7 {
		t.Fatalf("%d shipped rules", len(shipped))
	}
	c, err = Parse("ingest.yaml", []byte(base+`  alarms:
    max_open: 50
    rules:
      - {id: eu-pm10-daily, min_duration: 30m}
      - {id: noise-class-iv-day, enabled: false}
      - id: pm10-early
        category: air
        point: pm10
        above: 40
        severity: minor
        label: {it: "PM10 in aumento", en: "PM10 rising"}
`))
	if err != nil {
		t.Fatal(err)
	}
	rules := c.AlarmRules()
	if len(rules) != len(shipped) {
		t.Fatalf("%d rules, want %d (one off, one added)", len(rules), len(shipped))
	}
	byID := map[string]int{}
	for i, r := range rules {
		byID[r.ID] = i
	}
	if i, ok := byID["eu-pm10-daily"]; !ok || rules[i].MinDuration != 30*time.Minute || rules[i].Threshold != 50 || rules[i].Window != 24*time.Hour {
		t.Errorf("override: %+v", rules[i])
	}
	if _, ok := byID["noise-class-iv-day"]; ok {
		t.Error("a rule turned off still runs")
	}
	if i, ok := byID["pm10-early"]; !ok || rules[i].Threshold != 40 {
		t.Error("the added rule is missing")
	}
	if open, _ := c.AlarmLimits(); open != 50 {
		t.Errorf("max_open %d", open)
	}
}
