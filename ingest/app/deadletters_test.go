package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/opsctl"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// runUntil runs app.Run in the background until the returned stop is
// called or the test ends, and returns its addresses once it is ready.
func runUntil(t testing.TB, cfg *config.Config, opts app.Options) (app.Addrs, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan app.Addrs, 1)
	done := make(chan error, 1)
	opts.Started = func(a app.Addrs) { started <- a }
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	go func() { done <- app.Run(ctx, cfg, opts) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("app.Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("app.Run did not return 20s after cancel")
			}
		})
	}
	t.Cleanup(stop)
	select {
	case a := <-started:
		waitReady(t, a.Ops)
		return a, stop
	case err := <-done:
		t.Fatalf("app.Run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("app did not start within 20s")
	}
	return app.Addrs{}, stop
}

// ctlRun runs ponte-ctl and returns its exit status and output.
func ctlRun(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	if len(args) == 0 || args[0] != "deadletter" {
		panic("ctlRun runs ponte-ctl deadletter only")
	}
	code := opsctl.Deadletter(context.Background(), opsctl.Env{Stdout: &out, Stderr: &errOut}, args[1:])
	return code, out.String(), errOut.String()
}

// TestReplayUnknownDevice: a batch with readings of a device ingest does
// not know is written except those readings, which are dead-lettered
// naming the device; replayed before the fix they are refused again;
// after the device is added (ingest restarted with it) `ponte-ctl
// deadletter replay` puts them through the pipeline into the real
// InfluxDB and the twin, once: a second replay is a duplicate.
func TestReplayUnknownDevice(t *testing.T) {
	srv := influxtest.Start(t)
	dir := t.TempDir()
	extra := fmt.Sprintf("unknown_devices: dead_letter\nsites: [gw1.yaml]\nprofiles: %s\ntwin:\n  areas: [%s]\n  tokens: [%s]\n",
		abs(t, "../../firmware-profiles"), abs(t, "../../geo/data/firenze-metro-municipalities.geojson"), operatorToken)
	// ReadingFor(seq) is of device dev<seq%10>: dev9 is not in gw1's site config.
	var devs []string
	for i := range 9 {
		devs = append(devs, fmt.Sprintf("dev%d", i))
	}
	writeSite(t, dir, "gw1", devs...)
	cfg, cfgPath := writeConfig(t, dir, "", extra, 1)
	cfg.Influx.URL, cfg.Influx.Bucket = srv.URL, srv.Bucket
	applier := ingesttest.NewCountingApplier()
	addrs, stop := runUntil(t, cfg, app.Options{Applier: applier})

	req, _ := http.NewRequest("POST", "http://"+addrs.HTTP+"/v1/gateways/gw1/batches", bytes.NewReader(ingesttest.BatchFor("gw1", 42, 1, 20)))
	req.Header.Set("Authorization", "Bearer "+token("gw1"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("post batch: %s", resp.Status)
	}
	// gw1's site config makes its devices energy meters: measurement "energy".
	dev9 := `SELECT count(*) FROM "energy" WHERE "device" = 'dev9'`
	all := `SELECT count(*) FROM "energy" WHERE "gateway" = 'gw1'`
	if n := countAny(t, srv, all); n != 18 {
		t.Fatalf("%d points written, want 18 (20 less dev9's two)", n)
	}
	letters, err := deadletter.List(cfg.DeadLetter.Dir)
	if err != nil || len(letters) != 1 {
		t.Fatalf("letters %+v, %v; want one", letters, err)
	}
	l := letters[0]
	if l.Reason != "unknown_device" || l.Gateway != "gw1" || len(l.Entries) != 2 ||
		l.Entries[0].Device != "dev9" || l.Entries[0].Seq != 9 || l.Entries[1].Seq != 19 || !strings.Contains(l.Detail, "device list") {
		t.Fatalf("letter %+v", l)
	}

	// Without a token: refused.
	noTok, _ := http.NewRequest("POST", "http://"+addrs.HTTP+"/api/v1/deadletters/"+l.ID+"/replay", nil)
	if resp, err := http.DefaultClient.Do(noTok); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replay without a token: %v %v", resp.Status, err)
	}
	// Before the fix: refused again, as a new letter.
	code, out, errOut := ctlRun("deadletter", "replay", l.ID, "--config", cfgPath, "--url", "http://"+addrs.HTTP)
	if code != opsctl.ExitFail || !strings.Contains(out, "dead-lettered again 2") {
		t.Fatalf("replay before the fix: exit %d, %q %q", code, out, errOut)
	}
	if n := countAny(t, srv, dev9); n != 0 {
		t.Fatalf("dev9 has %d points before it is known", n)
	}
	letters, _ = deadletter.List(cfg.DeadLetter.Dir)
	if len(letters) != 2 || letters[1].Transport != "replay" || letters[1].Readings != 2 {
		t.Fatalf("after the refused replay: %+v", letters)
	}
	again := letters[1].ID
	stop()

	// The fix: dev9 is added to gw1's site config; ingest restarts with it.
	writeSite(t, dir, "gw1", append(devs, "dev9")...)
	cfg, err = config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Influx.URL, cfg.Influx.Bucket = srv.URL, srv.Bucket
	applier = ingesttest.NewCountingApplier()
	addrs, _ = runUntil(t, cfg, app.Options{Applier: applier})
	code, out, errOut = ctlRun("deadletter", "replay", again, "--config", cfgPath, "--url", "http://"+addrs.HTTP, "--json")
	if code != opsctl.ExitOK {
		t.Fatalf("replay after the fix: exit %d, %q %q", code, out, errOut)
	}
	var res deadletter.ReplayResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Written != 2 || res.Path != "letter" {
		t.Fatalf("replay answer %q (%v)", out, err)
	}
	if n := countAny(t, srv, dev9); n != 2 {
		t.Errorf("dev9 has %d points in InfluxDB after the replay, want 2", n)
	}
	if applier.Total() != 2 {
		t.Errorf("twin applied %d readings, want 2", applier.Total())
	}
	// Twice is once.
	code, out, _ = ctlRun("deadletter", "replay", again, "--config", cfgPath, "--url", "http://"+addrs.HTTP)
	if code != opsctl.ExitOK || !strings.Contains(out, "already replayed") {
		t.Errorf("second replay: exit %d, %q", code, out)
	}
	if applier.Total() != 2 || countAny(t, srv, dev9) != 2 {
		t.Errorf("after a second replay: twin %d, InfluxDB %d; want 2 and 2", applier.Total(), countAny(t, srv, dev9))
	}
	// list shows it replayed.
	code, out, _ = ctlRun("deadletter", "list", "--config", cfgPath)
	if code != opsctl.ExitOK || !strings.Contains(out, again) || !strings.Contains(out, "2 written") {
		t.Errorf("list after the replay: exit %d\n%s", code, out)
	}
	// A forged batch's letter is not replayable.
	forged := ingesttest.BatchFor("gw2", 1, 1, 1)
	req, _ = http.NewRequest("POST", "http://"+addrs.HTTP+"/v1/gateways/gw1/batches", bytes.NewReader(forged))
	req.Header.Set("Authorization", "Bearer "+token("gw1"))
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	letters, _ = deadletter.List(cfg.DeadLetter.Dir)
	last := letters[len(letters)-1]
	if last.Reason != "gateway_mismatch" {
		t.Fatalf("newest letter %+v, want gateway_mismatch", last)
	}
	code, _, errOut = ctlRun("deadletter", "replay", last.ID, "--config", cfgPath, "--url", "http://"+addrs.HTTP)
	if code != opsctl.ExitFail || !strings.Contains(errOut, "422") {
		t.Errorf("replay of a forged batch: exit %d, %q", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(cfg.StateDir, "replay", again)); err != nil {
		t.Errorf("no replay ledger: %v", err)
	}
}

// countAny returns the points an InfluxQL count(*) query counts, summed
// over its fields (0 when there are none).
func countAny(t *testing.T, srv *influxtest.Server, q string) int64 {
	t.Helper()
	var n int64
	for _, s := range srv.Query(t, q) {
		for _, row := range s.Values {
			for _, v := range row[1:] {
				if c, ok := v.(json.Number); ok {
					if i, err := c.Int64(); err == nil {
						n += i
					}
				}
			}
		}
	}
	return n
}

// TestLetterNamesTimeWindow: a reading from a gateway whose clock is years
// ahead is dead-lettered with its device, point and time, and the detail
// names the window ingest accepts.
func TestLetterNamesTimeWindow(t *testing.T) {
	cfg, _ := writeConfig(t, t.TempDir(), "", "max_future: 5m\n", 1)
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	at := time.Now().UTC().AddDate(3, 0, 0).Truncate(time.Second)
	payload, err := wire.Encode(nil, &wire.Batch{Gateway: "gw1", Epoch: 7, Seqs: []uint64{1, 2}, Readings: []wire.Reading{
		{Device: "meter-1", Point: "voltage", Value: wire.Float(230.5), Unit: "V", Time: time.Now().UTC()},
		{Device: "meter-1", Point: "energy", Value: wire.Int(1200), Unit: "kWh", Time: at},
	}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", "http://"+addrs.HTTP+"/v1/gateways/gw1/batches", bytes.NewReader(payload))
	req.Header.Set("Authorization", "Bearer "+token("gw1"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	letters, err := deadletter.List(cfg.DeadLetter.Dir)
	if err != nil || len(letters) != 1 {
		t.Fatalf("letters %+v, %v; want one", letters, err)
	}
	l := letters[0]
	if l.Reason != "time_out_of_range" || len(l.Entries) != 1 {
		t.Fatalf("letter %+v", l)
	}
	if e := l.Entries[0]; e.Device != "meter-1" || e.Point != "energy" || !e.Time.Equal(at) || e.Value != "1200" || e.Seq != 2 {
		t.Errorf("entry %+v, want meter-1/energy at %s = 1200", e, at)
	}
	for _, want := range []string{"accepted window", "max_future 5m0s", "max_age 720h0m0s", "ingest's clock"} {
		if !strings.Contains(l.Detail, want) {
			t.Errorf("detail %q lacks %q", l.Detail, want)
		}
	}
}

// TestReplayUnknownGateway: a gateway the broker admits but ingest does
// not list has its batch dead-lettered as a whole; once it is added, the
// replay goes through the live pipeline and the gateway's own dedup, into
// InfluxDB and the twin, and the gateway's later resend of that batch is
// a duplicate: acknowledged, not written or counted again.
func TestReplayUnknownGateway(t *testing.T) {
	srv := influxtest.Start(t)
	b := testenv.Mosquitto(t)
	dir := t.TempDir()
	extra := fmt.Sprintf("twin:\n  areas: [%s]\n  tokens: [%s]\n", abs(t, "../../geo/data/firenze-metro-municipalities.geojson"), operatorToken)
	cfg, cfgPath := writeConfig(t, dir, b.URL, extra, 1)
	cfg.Influx.URL, cfg.Influx.Bucket = srv.URL, srv.Bucket
	_, stop := runUntil(t, cfg, app.Options{})

	gw2, err := ingesttest.Connect(b.URL, "gw2", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer gw2.Disconnect(50)
	acks := make(chan wire.Ack, 16)
	if tok := gw2.Subscribe(cfg.Topics().Ack("gw2"), 1, func(_ paho.Client, m paho.Message) {
		if a, err := wire.DecodeAck(m.Payload()); err == nil {
			acks <- a
		}
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe to acks: %v", tok.Error())
	}
	batch := ingesttest.BatchFor("gw2", 5, 1, 8)
	publish := func() {
		if tok := gw2.Publish(cfg.Topics().Up("gw2"), 1, false, batch); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	publish()
	var letter deadletter.Letter
	testenv.Eventually(t, 10*time.Second, "the unknown gateway's batch dead-lettered", func() bool {
		ls, _ := deadletter.List(cfg.DeadLetter.Dir)
		if len(ls) == 1 {
			letter = ls[0]
		}
		return len(ls) == 1
	})
	if letter.Reason != "unknown_gateway" || letter.Gateway != "gw2" || len(letter.Entries) != 8 {
		t.Fatalf("letter %+v", letter)
	}
	stop()

	cfg.Gateways = append(cfg.Gateways, config.Gateway{ID: "gw2"})
	applier := ingesttest.NewCountingApplier()
	addrs, _ := runUntil(t, cfg, app.Options{Applier: applier})
	code, out, errOut := ctlRun("deadletter", "replay", letter.ID, "--config", cfgPath, "--url", "http://"+addrs.HTTP, "--json")
	var res deadletter.ReplayResult
	if err := json.Unmarshal([]byte(out), &res); code != opsctl.ExitOK || err != nil || res.Path != "pipeline" || res.Written != 8 {
		t.Fatalf("replay: exit %d, %q %q", code, out, errOut)
	}
	gw2Points := `SELECT count(*) FROM "ponte" WHERE "gateway" = 'gw2'`
	if n := countAny(t, srv, gw2Points); n != 8 || applier.Total() != 8 {
		t.Fatalf("after the replay: InfluxDB %d, twin %d; want 8 and 8", n, applier.Total())
	}
	// The gateway resends the batch it was never acknowledged for.
	publish()
	select {
	case a := <-acks:
		if a.Epoch != 5 || a.Seq != 8 {
			t.Errorf("ack %+v, want epoch 5 seq 8", a)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no acknowledgement of the resend")
	}
	if n := countAny(t, srv, gw2Points); n != 8 || applier.Total() != 8 {
		t.Errorf("after the resend: InfluxDB %d, twin %d; want 8 and 8 (a duplicate)", n, applier.Total())
	}
}
