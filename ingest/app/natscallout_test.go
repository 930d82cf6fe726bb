package app_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/enrol"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/natscallout"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestNATSCallout: ingest with broker.nats.callout on a NATS node running
// the shipped accounts.conf and callout.conf lets in a gateway enrolled
// in its registry (its batches acknowledged through the cluster) and a
// gateway of its configuration file, and refuses a wrong password.
func TestNATSCallout(t *testing.T) {
	dir := t.TempDir()
	conf, ingestPass, seed := shippedCalloutConfig(t, dir)
	c := natstest.Start(t, natstest.Options{Config: conf})
	certFile, keyFile, _ := testenv.SelfSigned(t, dir, "ponte-ingest")

	// A gateway enrolled before ingest starts (ingest opens the registry).
	profiles := absPath(t, "../../firmware-profiles")
	reg, err := enrol.Open(enrol.Config{Dir: filepath.Join(dir, "registry"), ProfilesDir: profiles, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := reg.IssueToken(enrol.Scope{Gateway: "fi-app-1"}, 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	site, err := os.ReadFile(writeSite(t, dir, "fi-app-1", "dev0"))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := reg.Enrol(enrol.Enrolment{Token: tok, Request: wire.EnrolRequest{File: "fi-app-1.yaml", Site: string(site)}})
	if err != nil {
		t.Fatal(err)
	}

	y := fmt.Sprintf(`broker:
  client_id: ingest-under-test
  nats:
    urls: [%s]
    user: ponte-ingest
    password: %s
    replicas: 1
    callout: {issuer_seed_file: %s, workers: 2}
influx: {url: "http://127.0.0.1:9"}
http: {listen: 127.0.0.1:0, ops_listen: 127.0.0.1:0, tls: {cert_file: %s, key_file: %s}}
state_dir: %s
dead_letter: {dir: %s}
unknown_devices: accept
profiles: %s
twin:
  areas: [%s]
  tokens: [%s]
enrolment: {dir: %s}
gateways:
  - {id: gw-static, password: %s}
`, c.Nodes[0].URL, ingestPass, seed, certFile, keyFile, filepath.Join(dir, "state"), filepath.Join(dir, "dead"), profiles,
		absPath(t, "../../geo/data/firenze-metro-municipalities.geojson"), operatorToken, filepath.Join(dir, "registry"), password("gw-static"))
	path := filepath.Join(dir, "ingest.yaml")
	testenv.WriteFile(t, path, y)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	sink := ingesttest.NewMemSink()
	start(t, cfg, app.Options{Sink: sink, Applier: ingesttest.NewCountingApplier()})

	g := &ingesttest.Gateway{ID: "fi-app-1", Epoch: 1, Topics: cfg.Topics(), Batch: 10}
	mc, err := g.Connect(c.Nodes[0].MQTT, creds.Password)
	if err != nil {
		t.Fatalf("the enrolled gateway cannot log in to NATS: %v", err)
	}
	defer mc.Disconnect(50)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := g.Run(ctx, mc, 50); err != nil {
		t.Fatal(err)
	}
	if sink.Len() != 50 {
		t.Errorf("sink holds %d readings; want 50", sink.Len())
	}
	st, err := ingesttest.Connect(c.Nodes[0].MQTT, "gw-static", "gw-static", password("gw-static"))
	if err != nil {
		t.Fatalf("the configuration's gateway cannot log in to NATS: %v", err)
	}
	st.Disconnect(50)
	if bad, err := ingesttest.Connect(c.Nodes[0].MQTT, "ponte-edge-gw-static", "gw-static", "wrong-password-0123456789"); err == nil {
		bad.Disconnect(50)
		t.Error("a wrong password logged in")
	}
}

// shippedCalloutConfig returns the shipped accounts.conf with callout.conf
// included, as a NATS node's extra configuration, with ponte-ingest's
// password (returned) and the public key of a new issuer whose seed it
// writes in dir (its path returned, for broker.nats.callout).
func shippedCalloutConfig(t *testing.T, dir string) (conf, ingestPass, seed string) {
	t.Helper()
	seed = filepath.Join(dir, "issuer.nk")
	issuer, err := natscallout.WriteIssuer(seed)
	if err != nil {
		t.Fatal(err)
	}
	ingestPass = testenv.Secret(t)
	var b strings.Builder
	for _, f := range []struct{ file, placeholder, value string }{
		{"accounts.conf", "CHANGE-ME-ingest-password-placeholder", ingestPass},
		{"callout.conf", "ABBRD7ZJWDI3ZFU2FHZPE76QCLTVB2LUEVSVKGOPD2BLVXDHTX2IM2KT", issuer},
	} {
		data, err := os.ReadFile("../../deploy/nats/" + f.file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), f.placeholder) {
			t.Fatalf("%s no longer holds %s: update this test", f.file, f.placeholder)
		}
		b.WriteString(strings.ReplaceAll(string(data), f.placeholder, f.value) + "\n")
	}
	return b.String(), ingestPass, seed
}
