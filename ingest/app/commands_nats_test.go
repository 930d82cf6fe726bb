package app_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/command"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestCommandsThroughNATS: ingest on a three-node NATS cluster with the
// shipped accounts.conf and callout.conf (so with ingest's and the
// gateway's shipped permissions). A fake gateway logged in over MQTT to a
// node ingest is not connected to, subscribed at QoS 1 to its command
// topic, receives a command issued through the API; its received and
// applied reports, read back from the cluster, make the command applied
// with the read-back. A command issued while the gateway is away reaches
// it after it reconnects and says it is online, before its expiry: the
// periodic resend is an hour here, so only the status online can have
// sent it again.
func TestCommandsThroughNATS(t *testing.T) {
	testenv.Integration(t, "a three-node NATS cluster")
	dir := t.TempDir()
	conf, ingestPass, seed := shippedCalloutConfig(t, dir)
	c := natstest.Start(t, natstest.Options{Nodes: 3, Config: conf})
	writeSite(t, dir, "gw1")
	const entity = "urn:ngsi-ld:StreetlightControlCabinet:fi-duomo-dali"
	addDali(t, dir, "gw1", entity, "{lon: 11.25580, lat: 43.77310}")
	const tokA = "operator-token-maria-0001"

	y := fmt.Sprintf(`broker:
  client_id: ingest-under-test
  nats:
    urls: [%s]
    user: ponte-ingest
    password: %s
    callout: {issuer_seed_file: %s, workers: 2}
influx: {url: "http://127.0.0.1:9"}
http: {listen: 127.0.0.1:0, ops_listen: 127.0.0.1:0}
state_dir: %s
dead_letter: {dir: %s}
sites: [gw1.yaml]
profiles: %s
twin:
  areas: [%s]
  tokens: [%s]
commands: {resend: 1h, max_expiry: 1h}
gateways:
  - {id: gw1, password: %s}
`, c.Nodes[0].URL, ingestPass, seed, filepath.Join(dir, "state"), filepath.Join(dir, "dead"), abs(t, "../../firmware-profiles"),
		abs(t, "../../geo/data/firenze-metro-municipalities.geojson"), tokA, password("gw1"))
	path := filepath.Join(dir, "ingest.yaml")
	testenv.WriteFile(t, path, y)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink(), Logger: quiet})
	if !strings.Contains(addrs.BrokerURL, c.Nodes[0].URL) {
		t.Fatalf("broker URL %q, want the cluster's", addrs.BrokerURL)
	}
	base := "http://" + addrs.HTTP + "/api/v1/commands"
	node := c.Nodes[1].MQTT // not the node ingest is connected to

	gw := connectGateway(t, node, "gw1")
	online(t, gw)
	var first command.Command
	apiJSON(t, "POST", base, tokA, `{"entity":"`+entity+`","point":"line_level","value":40,"reason":"lavori stradali","operator":"Maria Rossi"}`, http.StatusAccepted, &first)
	if first.State != command.Queued {
		t.Fatalf("state %s, want queued", first.State)
	}
	got := gw.next(t)
	if got.ID != first.ID || got.Device != "dali-1" || got.Point != "line_level" || got.Value != 40 {
		t.Fatalf("the gateway received %+v, want command %s", got, first.ID)
	}
	gw.report(t, got.ID, wire.StatusReceived, nil)
	rb := 40.0
	gw.report(t, got.ID, wire.StatusApplied, &rb)
	c1 := waitApplied(t, base+"/"+first.ID, tokA)
	var steps []string
	for _, s := range c1.Steps {
		steps = append(steps, s.Status)
	}
	if c1.Readback == nil || *c1.Readback != 40 || !slices.Equal(steps, []string{"issued", "published", "received", "applied"}) {
		t.Fatalf("applied command: readback %v steps %v", c1.Readback, steps)
	}

	// Away: the command is stored for a subscription that no longer
	// exists; the gateway's new clean session does not get it from the
	// stream, only ingest's resend on its status online.
	gw.c.Disconnect(50)
	var second command.Command
	apiJSON(t, "POST", base, tokA, `{"entity":"`+entity+`","point":"line_level","value":60,"reason":"prova","operator":"Maria Rossi","expires_in":"10m"}`, http.StatusAccepted, &second)
	gw = connectGateway(t, node, "gw1")
	online(t, gw)
	got = gw.next(t)
	if got.ID != second.ID || got.Value != 60 {
		t.Fatalf("after reconnecting the gateway received %+v, want command %s", got, second.ID)
	}
	if !got.Expires.Equal(second.Expires) || !time.Now().Before(got.Expires) {
		t.Fatalf("command received with expiry %s (ingest's %s), now %s", got.Expires, second.Expires, time.Now())
	}
	rb = 60
	gw.report(t, got.ID, wire.StatusApplied, &rb)
	if c2 := waitApplied(t, base+"/"+second.ID, tokA); c2.Readback == nil || *c2.Readback != 60 {
		t.Fatalf("second command read back %v, want 60", c2.Readback)
	}
}

// online publishes g's retained status online, as the edge's uplink does
// once connected.
func online(t *testing.T, g *fakeGateway) {
	t.Helper()
	b := wire.EncodeStatus(wire.Status{Gateway: g.gw, State: wire.StateOnline, Time: time.Now()})
	if tok := g.c.Publish(wire.Topics{Prefix: wire.DefaultPrefix}.Status(g.gw), 1, true, b); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("status: %v", tok.Error())
	}
}

// waitApplied waits until the API shows the command at url applied.
func waitApplied(t *testing.T, url, token string) command.Command {
	t.Helper()
	var c command.Command
	testenv.Eventually(t, 20*time.Second, "the command applied", func() bool {
		apiJSON(t, "GET", url, token, "", http.StatusOK, &c)
		return c.State == command.Applied
	})
	return c
}
