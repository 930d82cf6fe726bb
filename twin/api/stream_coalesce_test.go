package api

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// coalesceTwin is a real twin of n air sites of one gateway behind the
// API, with mod applied to its config.
func coalesceTwin(t *testing.T, n int, mod func(*twin.Config), modAPI func(*Config)) (*twin.Twin, *API, string) {
	t.Helper()
	sites := make([]twin.Site, n)
	for i := range sites {
		sites[i] = twin.Site{Gateway: "gw", Device: "aq" + strconv.Itoa(i), Category: "air",
			Lon: 11.25 + float64(i)*0.0001, Lat: 43.77, Interval: time.Minute}
	}
	cfg := twin.Config{Sites: sites, Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	tw, err := twin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	acfg := Config{Reader: tw, Tokens: []string{testToken}, Registerer: prometheus.NewRegistry(), Logger: slog.New(slog.DiscardHandler)}
	if modAPI != nil {
		modAPI(&acfg)
	}
	a, err := New(acfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(hs.Close)
	return tw, a, hs.URL
}

// applyAll applies one reading of every one of n sites in one batch, as
// the gateway's round number round.
func applyAll(tw *twin.Twin, n, round int) {
	b := &wire.Batch{Gateway: "gw", Epoch: 1}
	now := time.Now()
	for i := range n {
		b.Seqs = append(b.Seqs, uint64(round*n+i+1))
		b.Readings = append(b.Readings, wire.Reading{Device: "aq" + strconv.Itoa(i), Point: "no2",
			Value: wire.Float(float64(round*1000 + i)), Unit: "ug/m3", Time: now, Quality: wire.QualityGood})
	}
	tw.Apply("gw", 1, b)
}

// TestStreamCoalescedKeepsEveryEvent: changes that reach a stream faster
// than it writes are coalesced into fewer writes, and still every one is
// sent once, in order, with the twin's id; a client resuming from one of
// those ids gets exactly the ones after it.
func TestStreamCoalescedKeepsEveryEvent(t *testing.T) {
	const sites, rounds = 50, 20
	tw, a, srv := coalesceTwin(t, sites, nil, nil)
	ref, unsubscribe := tw.Subscribe(twin.Filter{}, 0) // the twin's own order
	defer unsubscribe()
	c := openStream(t, srv+"/api/v1/stream", nil)
	if te := c.resp.TransferEncoding; len(te) != 0 || c.resp.ContentLength != -1 {
		t.Errorf("transfer encoding %v, length %d: want the body to end with the connection", te, c.resp.ContentLength)
	}
	testenv.Eventually(t, 10*time.Second, "the stream to open", func() bool { return a.streams.Load() == 1 })
	for r := range rounds {
		applyAll(tw, sites, r)
	}
	var want []uint64
	for len(want) < sites*rounds {
		select {
		case ch := <-ref:
			if ch.Entity.Kind == twin.KindSite {
				want = append(want, ch.Seq)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the twin's channel gave %d site changes, want %d", len(want), sites*rounds)
		}
	}
	// Areas change too (their indicators): the site events must be the
	// twin's, in its order, among them.
	var ids, sitesGot []uint64
	for len(sitesGot) < len(want) {
		ev := c.next(t, func(ev sseEvent) bool { return ev.Event == "entity" && ev.ID != "" })
		seq, err := strconv.ParseUint(ev.ID, 10, 64)
		if err != nil {
			t.Fatalf("event %d: id %q", len(ids), ev.ID)
		}
		ids = append(ids, seq)
		if seq == want[len(sitesGot)] {
			sitesGot = append(sitesGot, seq)
		} else if slices.Contains(want, seq) {
			t.Fatalf("event %d: site change %d out of the twin's order (want %d next)", len(ids)-1, seq, want[len(sitesGot)])
		}
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("event %d: id %d after %d", i, ids[i], ids[i-1])
		}
	}
	entities := testutil.ToFloat64(a.metrics.entityEvents)
	if entities < float64(len(want)) {
		t.Errorf("entity events counted %v, want at least %d", entities, len(want))
	}

	// Resume from the middle: exactly the later changes follow.
	mid := len(ids) / 2
	r := openStream(t, srv+"/api/v1/stream", map[string]string{"Last-Event-ID": strconv.FormatUint(ids[mid], 10)})
	for i := mid + 1; i < len(ids); i++ {
		ev := r.next(t, func(ev sseEvent) bool { return ev.ID != "" })
		if ev.ID != strconv.FormatUint(ids[i], 10) {
			t.Fatalf("resumed event %d: id %s (%s), want %d", i, ev.ID, ev.Event, ids[i])
		}
	}
}

// TestStreamSlowClientDoesNotHoldOthers: a client that stops reading
// does not hold back another: the fast one gets every change of every
// round while the slow one reads nothing, and the twin drops the slow one
// once its queue is full; its stream ends at its write timeout.
func TestStreamSlowClientDoesNotHoldOthers(t *testing.T) {
	const sites, rounds = 100, 200 // ~20,000 events of ~700 bytes: more than the sockets buffer
	reg := prometheus.NewRegistry()
	tw, a, srv := coalesceTwin(t, sites, func(c *twin.Config) { c.SubscriberQueue, c.Registerer = 2*sites, reg },
		func(c *Config) { c.WriteTimeout = time.Second })
	slow, err := net.Dial("tcp", srv[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	_ = slow.(*net.TCPConn).SetReadBuffer(4 << 10)
	fmt.Fprintf(slow, "GET /api/v1/stream?type=AirQualityObserved HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", testToken)
	status, err := bufio.NewReader(slow).ReadString('\n') // then it never reads again
	if err != nil || status != "HTTP/1.1 200 OK\r\n" {
		t.Fatalf("slow stream: %q, %v", status, err)
	}
	fast := openStream(t, srv+"/api/v1/stream?type=AirQualityObserved", nil)
	testenv.Eventually(t, 10*time.Second, "both streams to open", func() bool { return a.streams.Load() == 2 })
	last := uint64(0)
	for r := range rounds {
		applyAll(tw, sites, r)
		for range sites {
			ev := fast.next(t, isEvent("entity"))
			seq, _ := strconv.ParseUint(ev.ID, 10, 64)
			if seq <= last {
				t.Fatalf("round %d: id %d after %d", r, seq, last)
			}
			last = seq
		}
	}
	testenv.Eventually(t, 10*time.Second, "the twin to drop the slow stream", func() bool {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "ponte_twin_subscribers_dropped_total" {
				return mf.GetMetric()[0].GetCounter().GetValue() == 1
			}
		}
		return false
	})
	testenv.Eventually(t, 10*time.Second, "the slow stream to end", func() bool { return a.streams.Load() == 1 })
}
