package system_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/internal/testenv/browser"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// BenchmarkGatewayOfflineToMap measures the whole chain of a state change
// that TestEndToEnd only checks arrives: a gateway's status published to
// ingest's embedded broker, through ingest's intake and the twin, over the
// SSE stream, to the map in headless Chromium painting the gateway's first
// site in its new colour. Each iteration flips the Bari gateway offline or
// back online. It reports the p50 and p99 of that latency in ms.
func BenchmarkGatewayOfflineToMap(b *testing.B) {
	testenv.Integration(b, "headless Chromium and the whole chain in-process")
	needBuilt(b)
	sys := startSystem(b, b.TempDir())
	tw := sys.ing.Twin
	gw := connectBari(b, sys.ing.BrokerURL)
	topics := sys.cfg.Topics()
	publishBari(b, gw, topics)
	testenv.Eventually(b, 10*time.Second, "the Bari sites fresh in the twin", func() bool {
		e, _ := tw.Entity(baDevices[0].entity)
		return e.Freshness == twin.Fresh
	})

	br := browser.Start(b)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p := br.NewPage(ctx)
	defer p.DrainLog()
	if err := p.Navigate(ctx, "http://"+sys.ing.HTTP+"/map/#token="+e2eToken); err != nil {
		b.Fatal(err)
	}
	var ms float64
	if err := p.Eval(ctx, browser.WaitJS("window.ponteMap && document.getElementById('status').dataset.state === 'live'", 30000), &ms); err != nil || ms < 0 {
		b.Fatalf("the map's stream never went live: %v", err)
	}

	site := baDevices[0].entity
	var lat []time.Duration
	online := true
	for b.Loop() {
		online = !online
		state, want := wire.StateOffline, colorOffline
		if online {
			state, want = wire.StateOnline, colorFresh
		}
		st := wire.EncodeStatus(wire.Status{Gateway: baGW, State: state, Time: time.Now()})
		t0 := time.Now()
		tok := gw.Publish(topics.Status(baGW), 1, true, st)
		cond := fmt.Sprintf("window.ponteMap.featureColor(%q) === %q", site, want)
		if err := p.Eval(ctx, browser.WaitJS(cond, 10000), &ms); err != nil {
			b.Fatal(err)
		}
		if ms < 0 {
			b.Fatalf("site %s not painted %s within 10 s of its gateway's status %s", site, want, state)
		}
		lat = append(lat, time.Since(t0))
		if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			b.Fatalf("publish the Bari status: %v", tok.Error())
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
