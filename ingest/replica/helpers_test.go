package replica_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/replica"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// devices per gateway: d0..d3 air stations, d4 an energy meter.
const devices = 5

var gateways = []string{"gw-a", "gw-b", "gw-c", "gw-d"}

// instance is one ingest instance's replica and twin.
type instance struct {
	r   *replica.Replica
	tw  *twin.Twin
	reg *prometheus.Registry
}

func newTwin(t testing.TB) (*twin.Twin, *prometheus.Registry) {
	t.Helper()
	var sites []twin.Site
	for g, gw := range gateways {
		for d := range devices {
			cat := wire.CategoryAir
			if d == devices-1 {
				cat = wire.CategoryEnergy
			}
			sites = append(sites, twin.Site{Gateway: gw, Device: fmt.Sprintf("d%d", d), Category: cat,
				Lon: 11.25 + float64(g)/100, Lat: 43.77 + float64(d)/1000, Interval: time.Hour})
		}
	}
	reg := prometheus.NewRegistry()
	tw, err := twin.New(twin.Config{Sites: sites, Registerer: reg, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return tw, reg
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start opens a replica on c, restores its twin and runs it until the
// test ends.
func start(t testing.TB, c *natstest.Cluster, name string) *instance {
	t.Helper()
	tw, reg := newTwin(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := replica.Open(ctx, replica.Config{URLs: c.URLs(), Name: name, SnapshotInterval: time.Hour, MaxBytes: 64 << 20,
		CloseGrace: time.Second, Logger: testenv.Logger(t, slog.LevelWarn), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(ctx, tw); err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); _ = r.Run(rctx, tw) }()
	t.Cleanup(func() { stop(); wg.Wait(); r.Close() })
	return &instance{r: r, tw: tw, reg: reg}
}

// batch is batch number i of gateway gw: every device's reading, the air
// stations' pm10 and the meter's counter equal to i, at base+i seconds.
func batch(gw string, i int, base time.Time) *wire.Batch {
	b := &wire.Batch{Gateway: gw, Epoch: 1}
	for d := range devices {
		r := wire.Reading{Device: fmt.Sprintf("d%d", d), Point: "pm10", Value: wire.Float(float64(i)),
			Unit: "ug/m3", Time: base.Add(time.Duration(i) * time.Second)}
		if d == devices-1 {
			r.Point, r.Unit = "import_energy", "kWh"
		}
		b.Seqs = append(b.Seqs, uint64(i*devices+d+1))
		b.Readings = append(b.Readings, r)
	}
	return b
}

// counter returns the value of a counter without labels.
func counter(reg *prometheus.Registry, name string) float64 {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return -1
}

// readings returns the twin's reading counters: good and late.
func readings(reg *prometheus.Registry) (good, late float64) {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() != "ponte_twin_readings_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				switch l.GetValue() {
				case "good":
					good = m.GetCounter().GetValue()
				case "late":
					late = m.GetCounter().GetValue()
				}
			}
		}
	}
	return good, late
}

// state is a twin's comparable state: its sites (values, times,
// freshness) and indicators, as JSON.
func state(t testing.TB, tw *twin.Twin) string { return stateOf(t, tw, false) }

// stateOf is state, without the indicators' update times if values: a
// twin restored from a snapshot dates its sums at the restore until the
// next batch.
func stateOf(t testing.TB, tw *twin.Twin, values bool) string {
	t.Helper()
	sites := tw.Entities(twin.Filter{Types: []string{string(twin.KindSite)}})
	ind := tw.Indicators()
	ind.Generated = time.Time{}
	if values {
		for i := range ind.City {
			ind.City[i].UpdatedAt = time.Time{}
		}
		for _, a := range ind.Areas {
			for i := range a.Indicators {
				a.Indicators[i].UpdatedAt = time.Time{}
			}
		}
	}
	b, err := json.Marshal(struct {
		Sites []twin.Entity
		Ind   twin.Indicators
	}{sites, ind})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
