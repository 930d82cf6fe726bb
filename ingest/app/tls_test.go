package app_test

import (
	"crypto/tls"
	"net/http"
	"testing"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/testenv"
)

// TestHTTPS: with http.tls the public listener speaks TLS 1.2 or later
// only and takes a gateway's batch; the ops listener stays plain HTTP on
// loopback.
func TestHTTPS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := testenv.SelfSigned(t, dir, "ingest")
	cfg, _ := writeConfig(t, dir, "", "", 1)
	cfg.HTTP.TLS = &config.HTTPTLS{CertFile: certFile, KeyFile: keyFile}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	client := func(maxVersion uint16) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: maxVersion}}}
	}
	base := "https://" + addrs.HTTP
	if code, body := postBatch(t, client(0), base, "gw1", token("gw1"), ingesttest.BatchFor("gw1", 1, 1, 3)); code != 200 {
		t.Fatalf("batch over HTTPS: %d %s", code, body)
	}
	if _, err := client(tls.VersionTLS11).Get(base + "/v1/gateways/gw1/batches"); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	if resp, err := http.Get("http://" + addrs.HTTP + "/v1/gateways/gw1/batches"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the TLS port: %d, want 400", resp.StatusCode)
		}
	}
}
