package modbus

import (
	"context"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
)

// Every Modbus profile shipped in firmware-profiles plans into valid
// requests and reads back, every point good, from the simulator serving it.
func TestShippedProfiles(t *testing.T) {
	all, err := profile.LoadDir(filepath.Join("..", "..", "..", "firmware-profiles"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for name, p := range all {
		if p.Kind == profile.KindModbus {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		t.Fatal("no modbus profile in firmware-profiles")
	}
	for _, name := range names {
		p := all[name]
		t.Run(name, func(t *testing.T) {
			checkPlan(t, p.Modbus, profile.PollFast, Plan(p.Modbus, profile.PollFast))
			checkPlan(t, p.Modbus, profile.PollSlow, Plan(p.Modbus, profile.PollSlow))
			u := newUnit(t, p, 1, nil)
			u.Update(time.Date(2026, 5, 12, 8, 30, 0, 0, time.UTC))
			addr, _ := serveTCP(t, u)
			res, err := Probe(context.Background(), source.Device{Name: "dev", Profile: p, Address: addr, Unit: 1, Timeout: 2 * time.Second}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != len(p.Modbus.Points) {
				t.Fatalf("%d results for %d points", len(res), len(p.Modbus.Points))
			}
			for _, r := range res {
				if !r.Reading.Quality.Good() {
					t.Errorf("%s: %s: %s (raw % X)", r.Reading.Point, r.Reading.Quality, r.Reading.Reason, r.Raw)
				}
			}
		})
	}
}
