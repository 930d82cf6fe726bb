package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/yamlconf"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// influxConfig is a config for gateways gw1..gwN on brokerURL writing to srv.
func influxConfig(t testing.TB, srv *influxtest.Server, brokerURL string, n int) *config.Config {
	t.Helper()
	cfg, _ := writeConfig(t, t.TempDir(), brokerURL, "", n)
	cfg.Influx.URL = srv.URL
	cfg.Influx.Bucket = srv.Bucket
	cfg.Influx.RetryBase = 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// runGateways publishes total readings from each of n gateways and waits
// for all acknowledgements.
func runGateways(t testing.TB, url string, n int, total uint64, limit time.Duration, mod func(*ingesttest.Gateway)) []*ingesttest.Gateway {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	var gws []*ingesttest.Gateway
	errs := make(chan error, n)
	for i := 1; i <= n; i++ {
		g := &ingesttest.Gateway{ID: fmt.Sprintf("gw%d", i), Epoch: 42, Topics: wire.Topics{}}
		if mod != nil {
			mod(g)
		}
		gws = append(gws, g)
		c, err := g.Connect(url, password(g.ID))
		if err != nil {
			t.Fatal(err)
		}
		go func() { defer c.Disconnect(50); errs <- g.Run(ctx, c, total) }()
	}
	for range gws {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	return gws
}

// countPerField returns, per field p0..p3, the number of points of gateway gw.
func countPerField(t testing.TB, srv *influxtest.Server, gw string) map[string]int64 {
	out := map[string]int64{}
	for f := 0; f < 4; f++ {
		name := "p" + strconv.Itoa(f)
		out[name] = srv.Count(t, fmt.Sprintf(`SELECT count(%q) FROM "ponte" WHERE "gateway" = '%s'`, name, gw))
	}
	return out
}

// TestInfluxRoundTrip: readings published by a gateway come back from
// InfluxDB with their types, values and nanosecond timestamps.
func TestInfluxRoundTrip(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := influxConfig(t, srv, "", 1)
	applier := ingesttest.NewCountingApplier()
	addrs := start(t, cfg, app.Options{Applier: applier})
	const total = 400
	gws := runGateways(t, addrs.BrokerURL, 1, total, 60*time.Second, nil)
	if t.Failed() {
		return
	}
	types := map[string]string{}
	for _, s := range srv.Query(t, `SHOW FIELD KEYS FROM "ponte"`) {
		for _, row := range s.Values {
			types[row[0].(string)] = row[1].(string)
		}
	}
	for f, want := range map[string]string{"p0": "float", "p1": "integer", "p2": "boolean", "p3": "string"} {
		if types[f] != want {
			t.Errorf("field %s: type %q, want %q (all %v)", f, types[f], want, types)
		}
	}
	for f, n := range countPerField(t, srv, gws[0].ID) {
		if n != total/4 {
			t.Errorf("field %s: %d points, want %d", f, n, total/4)
		}
	}
	for _, seq := range []uint64{4, 9, 14, 399} {
		r := ingesttest.ReadingFor(seq)
		rows := srv.Query(t, fmt.Sprintf(`SELECT %q FROM "ponte" WHERE "gateway" = 'gw1' AND "device" = '%s' AND time = %d`, r.Point, r.Device, r.Time.UnixNano()))
		if len(rows) != 1 || len(rows[0].Values) != 1 {
			t.Errorf("seq %d: %+v, want one row", seq, rows)
			continue
		}
		row := rows[0].Values[0]
		if ts := row[0].(json.Number).String(); ts != strconv.FormatInt(r.Time.UnixNano(), 10) {
			t.Errorf("seq %d: time %s, want %d", seq, ts, r.Time.UnixNano())
		}
		var got string
		switch v := row[1].(type) {
		case json.Number:
			got = v.String()
		default:
			got = fmt.Sprint(v)
		}
		want := r.Value.String()
		if r.Value.Kind == wire.KindString {
			want = r.Value.S
		}
		if got != want {
			t.Errorf("seq %d: value %s, want %s", seq, got, want)
		}
	}
	if applier.Total() != total {
		t.Errorf("applied %d, want %d", applier.Total(), total)
	}
}

// TestInfluxOutage: InfluxDB is stopped for a minute while gateways keep
// sending, then restarted. Ingest holds back (readiness fails, nothing is
// acknowledged), and afterwards every reading is in InfluxDB once and was
// applied to the twin once.
func TestInfluxOutage(t *testing.T) {
	srv := influxtest.Start(t)
	b := testenv.Mosquitto(t)
	cfg := influxConfig(t, srv, b.URL, 3)
	cfg.Influx.RetryMax = yamlconf.Duration(2 * time.Second)
	applier := ingesttest.NewCountingApplier()
	addrs := start(t, cfg, app.Options{Applier: applier})
	const gateways, total = 3, 20000
	outage := make(chan string, 1)
	var gws []*ingesttest.Gateway
	go func() {
		// Wait for the first acknowledgements, then stop InfluxDB.
		deadline := time.Now().Add(60 * time.Second)
		for applier.Total() < 2000 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		srv.Stop()
		before := applier.Total()
		sawUnready := false
		end := time.Now().Add(time.Minute)
		for time.Now().Before(end) {
			if !sawUnready {
				resp, err := http.Get("http://" + addrs.Ops + "/readyz")
				if err == nil {
					body, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					sawUnready = resp.StatusCode == 503 && strings.Contains(string(body), "sink")
				}
			}
			time.Sleep(200 * time.Millisecond)
		}
		during := applier.Total() - before
		srv.Start()
		outage <- fmt.Sprintf("unready seen: %v; applied during the outage: %d", sawUnready, during)
	}()
	gws = runGateways(t, b.URL, gateways, total, 4*time.Minute, func(g *ingesttest.Gateway) {
		g.Batch = 200
		g.ResendAfter = 5 * time.Second
	})
	report := <-outage
	t.Log(report)
	if !strings.HasPrefix(report, "unready seen: true") {
		t.Errorf("/readyz never reported the sink down during the outage (%s)", report)
	}
	// A batch in flight when InfluxDB stopped may complete; nothing more.
	if !strings.HasSuffix(report, ": 0") {
		t.Logf("note: %s", report)
	}
	for _, g := range gws {
		var sum int64
		for f, n := range countPerField(t, srv, g.ID) {
			if n != total/4 {
				t.Errorf("%s field %s: %d points, want %d", g.ID, f, n, total/4)
			}
			sum += n
		}
		if sum != total {
			t.Errorf("%s: %d points, want %d", g.ID, sum, total)
		}
	}
	counts := applier.Counts()
	if len(counts) != gateways*total || applier.Total() != gateways*total {
		t.Errorf("twin: %d readings applied %d times in all, want %d once each", len(counts), applier.Total(), gateways*total)
	}
	for k, n := range counts {
		if n != 1 {
			t.Errorf("%+v applied %d times", k, n)
			break
		}
	}
}
