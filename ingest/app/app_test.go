package app_test

import (
	"context"
	"fmt"
	paho "github.com/eclipse/paho.mqtt.golang"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/service"
)

var quiet = slog.New(slog.DiscardHandler)

// writeConfig writes a config file for gateways gw1..gwN (password and
// HTTP token: password and token of gwI) and returns it parsed.
func writeConfig(t testing.TB, dir, brokerURL, extra string, n int) (*config.Config, string) {
	t.Helper()
	y := fmt.Sprintf("broker:\n  url: %q\n  listen: 127.0.0.1:0\n  client_id: ingest-under-test\ninflux:\n  url: http://127.0.0.1:9\nhttp:\n  listen: 127.0.0.1:0\nstate_dir: %s\ndead_letter:\n  dir: %s\n%sgateways:\n",
		brokerURL, filepath.Join(dir, "state"), filepath.Join(dir, "dead"), extra)
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("gw%d", i)
		y += fmt.Sprintf("  - id: %s\n    password: %s\n    http_token: %s\n", id, password(id), token(id))
	}
	path := filepath.Join(dir, "ingest.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, path
}

// start runs app.Run in the background and returns its addresses.
func start(t testing.TB, cfg *config.Config, opts app.Options) app.Addrs {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan app.Addrs, 1)
	done := make(chan error, 1)
	opts.Started = func(a app.Addrs) { started <- a }
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	go func() { done <- app.Run(ctx, cfg, opts) }()
	t.Cleanup(func() {
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
	select {
	case a := <-started:
		waitReady(t, a.HTTP)
		return a
	case err := <-done:
		t.Fatalf("app.Run: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("app did not start within 20s")
	}
	return app.Addrs{}
}

// waitReady waits until /readyz answers 200 (sink healthy, MQTT intake
// subscribed).
func waitReady(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("ingest at %s not ready within 20s", addr)
}

// TestEmbeddedBroker: with no broker URL ingest runs its own broker; the
// gateways' batches flow through it, a gateway cannot publish under
// another's ID (the broker refuses it), and a batch claiming another
// gateway on the gateway's own topic is dead-lettered by ingest's check.
func TestEmbeddedBroker(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, "", "", 3)
	sink := ingesttest.NewMemSink()
	applier := ingesttest.NewCountingApplier()
	addrs := start(t, cfg, app.Options{Sink: sink, Applier: applier})
	if !addrs.Embedded {
		t.Fatal("not embedded")
	}
	topics := cfg.Topics()

	// Forgeries first, from gw1.
	forger, err := ingesttest.Connect(addrs.BrokerURL, "forger", "gw1", password("gw1"))
	if err != nil {
		t.Fatal(err)
	}
	forger.Publish(topics.Up("gw1"), 1, false, ingesttest.BatchFor("gw2", 42, 1, 10)).WaitTimeout(5 * time.Second)
	forger.Publish(topics.Up("gw2"), 1, false, ingesttest.BatchFor("gw2", 42, 1, 10)).WaitTimeout(5 * time.Second)
	forger.Disconnect(50)
	intruder := paho.NewClient(paho.NewClientOptions().AddBroker(addrs.BrokerURL).SetClientID("intruder").
		SetUsername("gw1").SetPassword("wrong"))
	if tok := intruder.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() == nil {
		t.Error("connected with a wrong password")
	}

	const total = 2000
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var gws []*ingesttest.Gateway
	errs := make(chan error, 3)
	for i := 1; i <= 3; i++ {
		g := &ingesttest.Gateway{ID: fmt.Sprintf("gw%d", i), Epoch: 42, Topics: topics}
		gws = append(gws, g)
		c, err := g.Connect(addrs.BrokerURL, password(g.ID))
		if err != nil {
			t.Fatal(err)
		}
		go func() { defer c.Disconnect(50); errs <- g.Run(ctx, c, total) }()
	}
	for range gws {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	points := sink.Points()
	if len(points) != 3*total {
		t.Errorf("sink holds %d points, want %d", len(points), 3*total)
	}
	for k, n := range applier.Counts() {
		if n != 1 {
			t.Errorf("%+v applied %d times", k, n)
		}
	}
	if applier.Total() != 3*total {
		t.Errorf("applied %d, want %d: the forged batch of gw2 must not count", applier.Total(), 3*total)
	}
	letters, err := deadletter.List(cfg.DeadLetter.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(letters) != 1 || letters[0].Reason != service.ReasonGatewayMismatch {
		t.Errorf("dead letters %+v, want one gateway_mismatch (the other forgery never got past the broker)", letters)
	}

	// HTTP intake and the operations endpoints on the same listener.
	base := "http://" + addrs.HTTP
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/gateways/gw3/batches",
		bytesReader(ingesttest.BatchFor("gw3", 7, 1, 10)))
	req.Header.Set("Authorization", "Bearer "+token("gw3"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("HTTP batch: %d", resp.StatusCode)
	}
	resp, err = http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`ponte_ingest_dead_letters_total{reason="gateway_mismatch"} 1`,
		fmt.Sprintf(`ponte_ingest_readings_total{result="written"} %d`, 3*total+10),
		`ponte_ingest_backpressure 0`,
		`ponte_ingest_write_seconds_count`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
}
