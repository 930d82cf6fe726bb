package service_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// TestSeriesCap: with unknown devices accepted, a gateway adds at most
// MaxNewDevices unlisted devices per hour; readings of further ones are
// dead-lettered (series_limit) and counted; admitted devices keep being
// written; the next hour admits more; each gateway has its own cap, also
// one without a device list under the default policy.
func TestSeriesCap(t *testing.T) {
	ctx := context.Background()
	now := ingesttest.Base.Add(time.Minute)
	e := newEnv(t, func(c *service.Config) {
		c.Devices = map[string][]string{"gw1": {"dev1"}, "gw3": {"dev1"}}
		c.UnknownDevices = service.PolicyAccept
		c.MaxNewDevices = 3
		c.Now = func() time.Time { return now }
	})
	refused := func(gw string) float64 { return seriesLimited(t, e, gw) }
	// Readings of seqs 1..10 are of dev1..dev9, dev0: dev1 is listed, the
	// first three unlisted ones (dev2, dev3, dev4) are admitted.
	steps := []struct {
		name          string
		gw            string
		first, last   uint64
		advance       time.Duration
		written, dead int
		refusedSoFar  float64
	}{
		{"first hour", "gw1", 1, 10, 0, 4, 6, 6},
		{"admitted devices stay admitted", "gw1", 11, 20, 0, 4, 6, 12},
		{"next hour admits three more", "gw1", 21, 30, time.Hour, 7, 3, 15},
		{"another gateway has its own cap", "gw3", 1, 10, 0, 4, 6, 15},
	}
	for _, st := range steps {
		now = now.Add(st.advance)
		res := e.svc.Process(ctx, job(st.gw, batch(st.gw, 1, st.first, st.last)))
		if res.Err != nil || res.Written != st.written || res.DeadLettered != st.dead || res.Ack.Seq != st.last {
			t.Fatalf("%s: result %+v, want %d written, %d dead-lettered, ack %d", st.name, res, st.written, st.dead, st.last)
		}
		if got := refused("gw1"); got != st.refusedSoFar {
			t.Errorf("%s: series_limit readings of gw1 = %v, want %v", st.name, got, st.refusedSoFar)
		}
	}
	if got := refused("gw3"); got != 6 {
		t.Errorf("series_limit readings of gw3 = %v, want 6", got)
	}
	letters, err := deadletter.List(e.dlDir)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, l := range letters {
		if l.Reason != service.ReasonSeriesLimit {
			t.Errorf("letter %+v, want reason %s", l, service.ReasonSeriesLimit)
		}
		n += l.Readings
	}
	if n != 21 {
		t.Errorf("%d readings in series_limit letters, want 21", n)
	}
}

// TestSeriesCapWithoutDeviceList: under the default policy a gateway that
// lists no devices is capped too: one batch of 5,000 invented devices
// makes at most MaxNewDevices (default) series.
func TestSeriesCapWithoutDeviceList(t *testing.T) {
	e := newEnv(t, nil)
	b := &wire.Batch{Gateway: "gw1", Epoch: 1}
	for seq := uint64(1); seq <= 5000; seq++ {
		r := ingesttest.ReadingFor(seq)
		r.Device = fmt.Sprintf("invented-%d", seq)
		b.Seqs = append(b.Seqs, seq)
		b.Readings = append(b.Readings, r)
	}
	res := e.svc.Process(context.Background(), job("gw1", encode(t, b)))
	if res.Err != nil || res.Written != service.DefaultMaxNewDevices || res.DeadLettered != 5000-service.DefaultMaxNewDevices {
		t.Fatalf("result %+v, want %d written and the rest dead-lettered", res, service.DefaultMaxNewDevices)
	}
	devices := map[string]bool{}
	for k := range e.sink.Points() {
		devices[k.Device] = true
	}
	if len(devices) != service.DefaultMaxNewDevices {
		t.Errorf("%d devices reached the sink, want %d", len(devices), service.DefaultMaxNewDevices)
	}
}

// seriesLimited reads ponte_ingest_series_limit_readings_total of gw.
func seriesLimited(t *testing.T, e *env, gw string) float64 {
	t.Helper()
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ponte_ingest_series_limit_readings_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "gateway" && l.GetValue() == gw {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
