package system_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	// Looked at from street zoom: the map draws its sites from tiles, a
	// site out of view or in a cluster is not drawn.
	look := fmt.Sprintf("window.ponteMap.map.jumpTo({center: [%f, %f], zoom: 15}); true", baDevices[0].lon, baDevices[0].lat)
	if err := p.Eval(ctx, look, nil); err != nil {
		b.Fatal(err)
	}
	if err := p.Eval(ctx, browser.WaitJS(fmt.Sprintf("window.ponteMap.featureColor(%q) !== null", site), 30000), &ms); err != nil || ms < 0 {
		b.Fatalf("site %s not drawn at street zoom: %v", site, err)
	}
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

// BenchmarkCommandApplied measures write-back (issue 16) end to end over
// loopback: from the operator's POST /api/v1/commands to the gateway's
// applied report (written to the DALI line on ponte-sim over Modbus TCP
// and read back) reaching ingest's broker, through ingest, the embedded
// broker, the edge agent's executor and its durable journal. Each
// iteration sets the line's level to a new value. It reports p50 and p99
// in ms; then a burst of 100 commands to the line issued at once (the
// edge writes one device's commands one at a time), in ms until the last
// is applied: EMQX Neuron publishes writes of 100 points in 85 to 778 ms.
func BenchmarkCommandApplied(b *testing.B) {
	testenv.Integration(b, "ingest, an edge agent, ponte-sim and Mosquitto")
	s := startCommands(b, "  device_rate: {burst: 100000, refill: 1ms}\n  operator_rate: {burst: 100000, refill: 1ms}\n  max_open: 100000\n")
	applied := s.watch.onApplied()
	issue := func(v int) string {
		body := fmt.Sprintf(`{"entity":%q,"point":"line_level","value":%d,"reason":"benchmark","operator":"bench"}`, daliEntity, v)
		code, resp := s.do(b, "POST", "/api/v1/commands", e2eToken, body)
		var c apiCommand
		if code != http.StatusAccepted || json.Unmarshal([]byte(resp), &c) != nil {
			b.Fatalf("issue: %d %s", code, resp)
		}
		return c.ID
	}
	wait := func(ids map[string]bool) {
		deadline := time.After(30 * time.Second)
		for len(ids) > 0 {
			select {
			case id := <-applied:
				delete(ids, id)
			case <-deadline:
				b.Fatalf("%d commands not applied within 30 s", len(ids))
			}
		}
	}
	var lat []time.Duration
	v := 0
	for b.Loop() {
		v = 1 + (v+7)%100
		t0 := time.Now()
		wait(map[string]bool{issue(v): true})
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	t0 := time.Now()
	ids := map[string]bool{}
	for i := range 100 {
		ids[issue(i+1)] = true
	}
	wait(ids)
	burst := time.Since(t0)
	slices.Sort(lat)
	q := func(f float64) float64 { return float64(lat[int(f*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(float64(burst.Microseconds())/1000, "burst100-ms")
	b.ReportMetric(0, "ns/op")
}
