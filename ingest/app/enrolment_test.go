package app_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/enrol"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestEnrolmentInventoryAndRestart: a gateway enrolled over HTTPS is
// admitted by the embedded broker, its readings reach InfluxDB tagged with
// the area and type its site config gives, and after a restart of ingest
// the registry still admits it and places its devices; a stranger gets no
// token.
func TestEnrolmentInventoryAndRestart(t *testing.T) {
	testenv.Integration(t, "InfluxDB 1.8 and ingest with its embedded broker")
	srv := influxtest.Start(t)
	dir := t.TempDir()
	certFile, keyFile, pool := testenv.SelfSigned(t, dir, "ponte-ingest")
	y := fmt.Sprintf(`broker: {listen: 127.0.0.1:0, client_id: ingest-under-test}
influx: {url: %s, bucket: %s, retry_base: 0s}
http:
  listen: 127.0.0.1:0
  ops_listen: 127.0.0.1:0
  tls: {cert_file: %s, key_file: %s}
state_dir: %s
dead_letter: {dir: %s}
profiles: %s
twin:
  areas: [%s]
  tokens: [%s]
enrolment:
  dir: %s
`, srv.URL, srv.Bucket, certFile, keyFile, filepath.Join(dir, "state"), filepath.Join(dir, "dead"), absPath(t, "../../firmware-profiles"),
		absPath(t, "../../geo/data/firenze-metro-municipalities.geojson"), operatorToken, filepath.Join(dir, "registry"))
	path := filepath.Join(dir, "ingest.yaml")
	if err := os.WriteFile(path, []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	addrs, stop := runUntil(t, cfg, app.Options{})
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	post := func(path, auth string, body any) (int, []byte) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, "https://"+addrs.HTTP+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+auth)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		out.ReadFrom(resp.Body)
		return resp.StatusCode, out.Bytes()
	}

	if status, _ := post("/api/v1/enrolment/tokens", "not-an-operator-token-0123", enrol.TokenRequest{Gateway: "fi-app-1"}); status != http.StatusUnauthorized {
		t.Fatalf("a stranger asked for a token: %d, want 401", status)
	}
	status, body := post("/api/v1/enrolment/tokens", operatorToken, enrol.TokenRequest{Gateway: "fi-app-1"})
	var tok enrol.TokenResponse
	if status != http.StatusCreated || json.Unmarshal(body, &tok) != nil {
		t.Fatalf("token: %d %s", status, body)
	}
	siteYAML, err := os.ReadFile(writeSite(t, dir, "fi-app-1", "dev0", "dev1", "dev2", "dev3", "dev4", "dev5", "dev6", "dev7", "dev8", "dev9"))
	if err != nil {
		t.Fatal(err)
	}
	status, body = post(wire.EnrolPath, tok.Secret, wire.EnrolRequest{File: "fi-app-1.yaml", Site: string(siteYAML)})
	var creds wire.EnrolResponse
	if status != http.StatusCreated || json.Unmarshal(body, &creds) != nil || creds.Devices != 10 {
		t.Fatalf("enrol: %d %s", status, body)
	}

	publish := func(url string, epoch, total uint64) {
		t.Helper()
		g := &ingesttest.Gateway{ID: "fi-app-1", Epoch: epoch, Topics: wire.Topics{}}
		c, err := g.Connect(url, creds.Password)
		if err != nil {
			t.Fatalf("the enrolled gateway cannot connect: %v", err)
		}
		defer c.Disconnect(50)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := g.Run(ctx, c, total); err != nil {
			t.Fatal(err)
		}
	}
	publish(addrs.BrokerURL, 1, 100)
	q := `SELECT count("p0") FROM "energy" WHERE "gateway" = 'fi-app-1' AND "area" = 'Firenze' AND "type" = 'energy'`
	if n := srv.Count(t, q); n == 0 {
		t.Fatalf("no reading of the enrolled gateway tagged with its site config's area and type (%s)", q)
	}

	// Restart: the registry is read again.
	stop()
	addrs, _ = runUntil(t, cfg, app.Options{})
	if _, ok := addrs.Twin.Entity("urn:ngsi-ld:StreetlightControlCabinet:fi-app-1:dev3"); !ok {
		t.Fatal("after a restart the enrolled device is not on the twin")
	}
	// Admitted and acknowledged again, and nothing refused as unknown.
	publish(addrs.BrokerURL, 2, 50)
	letters, _ := filepath.Glob(filepath.Join(dir, "dead", "*"))
	if len(letters) != 0 {
		t.Fatalf("dead letters after the restart: %v", letters)
	}
}

func absPath(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
