package alarms

import (
	"testing"

	"github.com/ponte-city/ponte/internal/yamlconf"
)

// FuzzDecodeState feeds arbitrary bytes to the state file's decoder: it
// must never panic, and what it accepts must load into an engine.
func FuzzDecodeState(f *testing.F) {
	f.Add([]byte(`{"version":1,"seq":7,"alarms":[{"id":"al-7","rule":"pm10","severity":"major","state":"raised","entity":"s1","label":{"it":"a","en":"b"},"raisedAt":"2026-03-02T08:00:00Z","updatedAt":"2026-03-02T08:00:00Z"}]}`))
	f.Add([]byte(`{"version":1,"alarms":[{"id":"a","rule":"r","severity":"minor","state":"closed","entity":"e","acknowledged":{"by":"x","remote":"","at":"2026-03-02T08:00:00Z"}}]}`))
	f.Add([]byte(`{"version":2}`))
	f.Add([]byte(`{"version":1,"alarms":[{"id":"a","rule":"r","severity":"minor","state":"raised","entity":"e"},{"id":"b","rule":"r","severity":"minor","state":"cleared","entity":"e"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data)
		if err != nil {
			return
		}
		for _, a := range st.Alarms {
			if a.ID == "" || !a.State.open() && a.State != Closed {
				t.Fatalf("accepted %+v", a)
			}
		}
	})
}

// FuzzRules feeds arbitrary YAML to the rules' decoding and checking, as
// ingest's config does: never a panic, and rules that pass are usable.
func FuzzRules(f *testing.F) {
	f.Add([]byte("rules:\n  - {id: eu-pm10-daily, above: 45}\n  - {id: x, point: pm10, below: 3, severity: minor, label: {it: a, en: b}, window: 1h, mean: energy}\n"))
	f.Add([]byte("rules:\n  - {id: y, indicator: noise_laeq_mean, above: .nan, hysteresis: -1, severity: loud}\n"))
	f.Add([]byte("defaults: false\nrules: [{id: z, category: air, point: o3, above: 1e308, min_duration: 1s}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var v struct {
			Defaults *bool      `yaml:"defaults"`
			Rules    []RuleSpec `yaml:"rules"`
		}
		if _, err := yamlconf.Decode("alarms.yaml", data, &v); err != nil {
			return
		}
		rules, _ := Rules(v.Rules, v.Defaults == nil || *v.Defaults, "rules", func(string, string, ...any) {})
		for _, r := range rules {
			if r.Label.IT == "" || r.Window < 0 || r.MinDuration < 0 || r.Hysteresis < 0 {
				t.Fatalf("accepted %+v", r)
			}
			r.exceeds(r.Threshold)
		}
	})
}
