package twin

import (
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/wire"
)

// t0 is the fixed start of the test clock.
var t0 = time.Date(2026, 5, 4, 8, 0, 0, 0, time.UTC)

// clock is an injectable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: t0} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// metroAreas loads the shipped municipalities of Firenze and Bari.
func metroAreas(t testing.TB) *geo.Layer {
	t.Helper()
	opts := geo.LoadOptions{IDProperty: "com_istat_code"}
	fi, err := geo.LoadLayer("../geo/data/firenze-metro-municipalities.geojson", geo.KindAreas, opts)
	if err != nil {
		t.Fatal(err)
	}
	ba, err := geo.LoadLayer("../geo/data/bari-metro-municipalities.geojson", geo.KindAreas, opts)
	if err != nil {
		t.Fatal(err)
	}
	m, err := geo.Merge("metro", fi, ba)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// fixtureRoads loads geo's road fixture.
func fixtureRoads(t testing.TB) *geo.Layer {
	t.Helper()
	l, err := geo.LoadLayer("../geo/testdata/roads.geojson", geo.KindRoads, geo.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// newTwin builds a twin on the real areas and fixture roads with a test clock.
func newTwin(t testing.TB, sites []Site, mod ...func(*Config)) (*Twin, *clock) {
	t.Helper()
	clk := newClock()
	cfg := Config{Areas: metroAreas(t), Roads: fixtureRoads(t), Sites: sites, Now: clk.Now, Logger: quietLogger()}
	for _, m := range mod {
		m(&cfg)
	}
	tw, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return tw, clk
}

// Places used by the tests.
var (
	duomo      = [2]float64{11.2558, 43.7731} // Firenze 048017
	lavagnini  = [2]float64{11.2555, 43.7838} // Firenze, on FI-04
	fiesole    = [2]float64{11.2930, 43.8066} // Fiesole 048015
	aldoMoro   = [2]float64{16.8716, 41.1177} // Bari 072006
	cavourBari = [2]float64{16.8757, 41.1215} // Bari
)

func siteAt(gw, dev string, cat wire.Category, at [2]float64) Site {
	return Site{Gateway: gw, Device: dev, Category: cat, Lon: at[0], Lat: at[1], Interval: time.Minute}
}

// rd makes a good reading.
func rd(dev, pt string, v wire.Value, unit string, at time.Time) wire.Reading {
	return wire.Reading{Device: dev, Point: pt, Value: v, Unit: unit, Time: at}
}

func batch(gw string, rs ...wire.Reading) *wire.Batch {
	return &wire.Batch{Gateway: gw, Epoch: 1, Readings: rs}
}

// indicator finds an indicator by name.
func indicator(t testing.TB, inds []Indicator, name string) Indicator {
	t.Helper()
	for _, in := range inds {
		if in.Name == name {
			return in
		}
	}
	t.Fatalf("no indicator %s", name)
	return Indicator{}
}

func areaIndicators(t testing.TB, tw *Twin, id string) []Indicator {
	t.Helper()
	for _, a := range tw.Indicators().Areas {
		if a.ID == id {
			return a.Indicators
		}
	}
	t.Fatalf("no area %s", id)
	return nil
}

// drain reads changes until none arrives for a while or n were read.
func drain(ch <-chan Change, n int, wait time.Duration) []Change {
	var out []Change
	for len(out) < n {
		select {
		case c, ok := <-ch:
			if !ok {
				return out
			}
			out = append(out, c)
		case <-time.After(wait):
			return out
		}
	}
	return out
}
