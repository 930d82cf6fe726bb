package intake_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// The gateways' HTTP tokens (16 characters or more, as the config
// requires).
const (
	tok1 = "gw1-token-0123456789"
	tok2 = "gw2-token-0123456789"
)

type httpEnv struct {
	srv     *httptest.Server
	sink    *ingesttest.MemSink
	applier *ingesttest.CountingApplier
	dlDir   string
}

func startHTTP(t *testing.T) *httpEnv {
	t.Helper()
	e := &httpEnv{sink: ingesttest.NewMemSink(), applier: ingesttest.NewCountingApplier(), dlDir: t.TempDir()}
	st, err := dedup.Open(dedup.Config{Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	dl, err := deadletter.Open(deadletter.Config{Dir: e.dlDir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := service.New(service.Config{Sink: e.sink, Applier: e.applier, Dedup: st, DeadLetter: dl, Logger: quiet,
		RetryBase: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	mux := http.NewServeMux()
	intake.NewHTTP(intake.HTTPConfig{Tokens: map[string]string{"gw1": tok1, "gw2": tok2, "gw3": tok1 + "-longer"}, Ready: svc.Ready,
		Timeout: 2 * time.Second, Logger: quiet}, svc).Register(mux)
	reg := prometheus.NewRegistry()
	intake.RegisterOps(mux, reg, intake.Check{Name: "sink", OK: svc.Ready})
	e.srv = httptest.NewServer(mux)
	t.Cleanup(func() { e.srv.Close(); cancel(); <-done })
	return e
}

func (e *httpEnv) post(t *testing.T, gw, token, ctype string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/v1/gateways/"+gw+"/batches", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

func TestHTTPIntake(t *testing.T) {
	e := startHTTP(t)
	good := ingesttest.BatchFor("gw1", 5, 1, 20)
	tests := []struct {
		name, gw, token, ctype string
		body                   []byte
		code                   int
		reason                 string
		ackSeq                 uint64
	}{
		{"written", "gw1", tok1, intake.ContentType, good, 200, "", 20},
		{"replay", "gw1", tok1, intake.ContentType, good, 200, "", 20},
		{"octet-stream accepted", "gw1", tok1, "application/octet-stream", ingesttest.BatchFor("gw1", 5, 21, 30), 200, "", 30},
		{"no token", "gw1", "", intake.ContentType, good, 401, "unauthenticated", 0},
		{"unknown gateway", "gw9", tok1, intake.ContentType, good, 403, "forbidden", 0},
		{"wrong token", "gw1", tok2, intake.ContentType, good, 403, "forbidden", 0},
		{"other's batch", "gw2", tok2, intake.ContentType, good, 400, service.ReasonGatewayMismatch, 0},
		{"garbage", "gw1", tok1, intake.ContentType, []byte("not a batch at all"), 400, service.ReasonCorrupt, 0},
		{"json", "gw1", tok1, "application/json", []byte("{}"), 415, "content_type", 0},
		{"too large", "gw1", tok1, intake.ContentType, make([]byte, wire.MaxBatchBytes+1), 413, service.ReasonTooLarge, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, body := e.post(t, tc.gw, tc.token, tc.ctype, tc.body)
			if code != tc.code {
				t.Fatalf("status %d, want %d (body %s)", code, tc.code, body)
			}
			if code == 200 {
				a, err := wire.DecodeAck(body)
				if err != nil || a.Seq != tc.ackSeq || a.Gateway != tc.gw || a.Epoch != 5 {
					t.Fatalf("ack %s (%v), want seq %d", body, err, tc.ackSeq)
				}
				return
			}
			var p struct{ Error, Reason string }
			if err := json.Unmarshal(body, &p); err != nil || p.Reason != tc.reason || p.Error == "" {
				t.Fatalf("problem %s, want reason %s", body, tc.reason)
			}
		})
	}
	if e.sink.Len() != 30 || e.applier.Total() != 30 {
		t.Errorf("sink %d points, applied %d; want 30 and 30", e.sink.Len(), e.applier.Total())
	}
	letters, _ := deadletter.List(e.dlDir)
	if len(letters) != 2 {
		t.Errorf("%d dead letters, want 2 (mismatch and garbage): %+v", len(letters), letters)
	}
	resp, err := http.Get(e.srv.URL + "/v1/gateways/gw1/batches")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("GET: %d, want 405", resp.StatusCode)
	}
}

func TestHTTPSinkDown(t *testing.T) {
	e := startHTTP(t)
	e.sink.SetDown(true)
	code, hdr, _ := e.post(t, "gw1", tok1, intake.ContentType, ingesttest.BatchFor("gw1", 1, 1, 5))
	if code != 503 || hdr.Get("Retry-After") == "" {
		t.Fatalf("while down: %d Retry-After %q, want 503 with Retry-After", code, hdr.Get("Retry-After"))
	}
	resp, err := http.Get(e.srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || !strings.Contains(string(body), "sink") {
		t.Errorf("/readyz while down: %d %q", resp.StatusCode, body)
	}
	e.sink.SetDown(false)
	code, _, body = e.post(t, "gw1", tok1, intake.ContentType, ingesttest.BatchFor("gw1", 1, 1, 5))
	if code != 200 {
		t.Fatalf("after recovery: %d %s", code, body)
	}
	for _, path := range []string{"/readyz", "/healthz", "/metrics"} {
		resp, err := http.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
}

// TestHTTPUnknownLikeWrong: an unknown gateway and a wrong token (also one
// of another gateway, or of a different length) get the same status,
// headers and body, so that the answers do not tell which gateways exist.
func TestHTTPUnknownLikeWrong(t *testing.T) {
	e := startHTTP(t)
	batch := ingesttest.BatchFor("gw1", 5, 1, 2)
	answer := func(gw, token string) string {
		code, hdr, body := e.post(t, gw, token, intake.ContentType, batch)
		body = bytes.ReplaceAll(body, []byte(gw), []byte("GW"))
		return fmt.Sprintf("%d %q %q %s", code, hdr.Get("Content-Type"), hdr.Get("WWW-Authenticate"), body)
	}
	want := answer("gw1", tok2)
	if !strings.HasPrefix(want, "403 ") {
		t.Fatalf("wrong token: %s, want 403", want)
	}
	for _, c := range []struct{ gw, token string }{{"gw9", tok1}, {"gw9", "x"}, {"gw3", tok1}, {"gw1", tok1 + "-longer"}} {
		if got := answer(c.gw, c.token); got != want {
			t.Errorf("gateway %s token %q: %s; want as for a wrong token: %s", c.gw, c.token, got, want)
		}
	}
}
