package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/testenv"
)

var quiet = slog.New(slog.DiscardHandler)

// writeConfig writes a config file for gateways gw1..gwN (password and
// HTTP token: password and token of gwI) and returns it parsed.
func writeConfig(t testing.TB, dir, brokerURL, extra string, n int) (*config.Config, string) {
	t.Helper()
	y := fmt.Sprintf("broker:\n  url: %q\n  listen: 127.0.0.1:0\n  client_id: ingest-under-test\ninflux:\n  url: http://127.0.0.1:9\nhttp:\n  listen: 127.0.0.1:0\n  ops_listen: 127.0.0.1:0\nstate_dir: %s\ndead_letter:\n  dir: %s\n%sgateways:\n",
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

// writeSite writes gateway gw's site config to dir/<gw>.yaml with the
// named devices: energy meters (eastron-sdm630-v2) at Piazza del Duomo,
// Firenze, in area "Firenze".
func writeSite(t testing.TB, dir, gw string, devices ...string) string {
	t.Helper()
	y := fmt.Sprintf("gateway:\n  id: %s\nuplink:\n  broker: tcp://127.0.0.1:1883\nbuffer:\n  dir: %s\ndevices:\n", gw, filepath.Join(dir, "buf-"+gw))
	for i, d := range devices {
		y += fmt.Sprintf("  - {name: %s, profile: eastron-sdm630-v2, address: \"tcp://127.0.0.1:502\", unit: %d, area: Firenze, location: {lon: 11.2558, lat: 43.7731}}\n", d, i+1)
	}
	path := filepath.Join(dir, gw+".yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// start runs app.Run in the background until the test ends and returns
// its addresses.
func start(t testing.TB, cfg *config.Config, opts app.Options) app.Addrs {
	t.Helper()
	a, _ := runUntil(t, cfg, opts)
	return a
}

// waitReady waits until /readyz answers 200 (sink healthy, MQTT intake
// subscribed).
func waitReady(t testing.TB, addr string) {
	t.Helper()
	testenv.Eventually(t, 20*time.Second, "ingest at "+addr+" ready", readyz(addr))
}

// readyz reports whether ingest's /readyz at addr answers 200.
func readyz(addr string) func() bool {
	return testenv.HTTPStatus("http://"+addr+"/readyz", http.StatusOK)
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
	forger, err := ingesttest.Connect(addrs.BrokerURL, "ponte-edge-gw1", "gw1", password("gw1"))
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

	// The HTTP intake on the public listener, the operations endpoints
	// on the ops listener only.
	base, ops := "http://"+addrs.HTTP, "http://"+addrs.Ops
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
	resp, err = http.Get(ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`ponte_ingest_dead_letters_total{gateway="gw1",reason="gateway_mismatch"} 1`,
		fmt.Sprintf(`ponte_ingest_readings_total{result="written"} %d`, 3*total+10),
		`ponte_ingest_backpressure 0`,
		`ponte_ingest_write_seconds_count`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		for _, l := range []struct {
			base string
			want int
		}{{ops, 200}, {base, 404}} {
			resp, err := http.Get(l.base + p)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != l.want {
				t.Errorf("%s%s: %d, want %d", l.base, p, resp.StatusCode, l.want)
			}
		}
	}
}
