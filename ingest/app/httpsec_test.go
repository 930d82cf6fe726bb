package app_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/yamlconf"
	"github.com/ponte-city/ponte/wire"
)

const operatorToken = "operator-token-0123456789"

// postBatch posts an encoded batch of gw with token through c and returns
// the status and body.
func postBatch(t *testing.T, c *http.Client, base, gw, tok string, batch []byte) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/gateways/"+gw+"/batches", bytes.NewReader(batch))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// fromAddr is an HTTP client whose connections come from ip (another
// loopback address: the whole of 127/8 is local).
func fromAddr(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// metricsText reads the ops listener's /metrics.
func metricsText(t *testing.T, addrs app.Addrs) string {
	t.Helper()
	resp, err := http.Get("http://" + addrs.Ops + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitClosed reads c until the server closes it; it fails when c is still
// open after limit (the server did not cut it off).
func waitClosed(c net.Conn, limit time.Duration) error {
	c.SetReadDeadline(time.Now().Add(limit))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("still open after %s", limit)
	}
	return nil
}

// TestHTTPConnectionLimits against the real server: 300 requests that
// announce a body and send none (half without credentials, half with a
// gateway's right token) are cut off by the read timeout while a
// legitimate gateway's batch is accepted; an idle keep-alive connection
// is closed; headers over the cap get 431.
func TestHTTPConnectionLimits(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, "", "", 2)
	cfg.HTTP.ReadTimeout = yamlconf.Duration(2 * time.Second)
	cfg.HTTP.IdleTimeout = yamlconf.Duration(500 * time.Millisecond)
	cfg.HTTP.MaxHeaderBytes = 4096
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	sink := ingesttest.NewMemSink()
	addrs := start(t, cfg, app.Options{Sink: sink})
	base := "http://" + addrs.HTTP

	t.Run("slowloris", func(t *testing.T) {
		const n = 300
		conns := make([]net.Conn, 0, n)
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for i := range n {
			c, err := net.Dial("tcp", addrs.HTTP)
			if err != nil {
				t.Fatalf("connection %d: %v", i, err)
			}
			conns = append(conns, c)
			auth := ""
			if i%2 == 1 {
				auth = "Authorization: Bearer " + token("gw1") + "\r\n"
			}
			if _, err := fmt.Fprintf(c, "POST /v1/gateways/gw1/batches HTTP/1.1\r\nHost: ingest\r\nContent-Type: %s\r\nContent-Length: 100000\r\n%s\r\n", "application/vnd.ponte.batch", auth); err != nil {
				t.Fatal(err)
			}
		}
		// A legitimate gateway is served meanwhile.
		if code, body := postBatch(t, http.DefaultClient, base, "gw2", token("gw2"), ingesttest.BatchFor("gw2", 1, 1, 10)); code != 200 {
			t.Fatalf("legitimate batch while %d connections hang: %d %s", n, code, body)
		}
		if sink.Len() != 10 {
			t.Errorf("sink holds %d points, want the legitimate 10", sink.Len())
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := waitClosed(c, 30*time.Second); err != nil {
					errs <- fmt.Errorf("connection %d: %w", i, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})

	t.Run("idle keep-alive closed", func(t *testing.T) {
		c, err := net.Dial("tcp", addrs.HTTP)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /v1/gateways/gw1/batches HTTP/1.1\r\nHost: ingest\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Close {
			t.Fatalf("first request: %d (close %v), want 405 kept alive", resp.StatusCode, resp.Close)
		}
		if err := waitClosed(c, 30*time.Second); err != nil {
			t.Errorf("idle keep-alive: %v", err)
		}
	})

	t.Run("header over the cap", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/gateways/gw1/batches", bytes.NewReader(ingesttest.BatchFor("gw1", 1, 1, 1)))
		req.Header.Set("Authorization", "Bearer "+token("gw1"))
		req.Header.Set("X-Filler", strings.Repeat("a", 16<<10))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("16 KiB header: %d, want 431", resp.StatusCode)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestHTTPBruteForce against the real server: guessing the HTTP intake's
// gateway token and the operator token from one address gets 429 once the
// budget is spent, even with the right token, with a metric and a log
// line; the right tokens still work from another address. An unknown
// gateway and a wrong token answer identically. /metrics is on the ops
// listener, not the public one.
func TestHTTPBruteForce(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, "", fmt.Sprintf("twin:\n  areas: [%s]\n  tokens: [%s]\n", abs(t, "../../geo/data/firenze-metro-municipalities.geojson"), operatorToken), 2)
	const budget = 5
	cfg.HTTP.AuthBurst = budget
	cfg.HTTP.AuthRefill = yamlconf.Duration(time.Hour)
	logs := &syncBuffer{}
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink(), Logger: slog.New(slog.NewTextHandler(logs, nil))})
	base := "http://" + addrs.HTTP
	attacker, other, prober := fromAddr("127.0.0.1"), fromAddr("127.0.0.2"), fromAddr("127.0.0.3")

	t.Run("unknown gateway like wrong token", func(t *testing.T) {
		batch := ingesttest.BatchFor("gw1", 1, 1, 1)
		code1, body1 := postBatch(t, prober, base, "gw1", token("gw2"), batch)
		code2, body2 := postBatch(t, prober, base, "gw9", token("gw2"), batch)
		body2 = strings.ReplaceAll(body2, "gw9", "gw1")
		if code1 != http.StatusForbidden || code1 != code2 || body1 != body2 {
			t.Errorf("wrong token: %d %s; unknown gateway: %d %s; want the same 403", code1, body1, code2, body2)
		}
	})

	t.Run("intake token", func(t *testing.T) {
		batch := ingesttest.BatchFor("gw1", 3, 1, 5)
		for i := range budget {
			if code, body := postBatch(t, attacker, base, "gw1", fmt.Sprintf("guess-%02d-0123456789abcdef", i), batch); code != http.StatusForbidden {
				t.Fatalf("guess %d: %d %s, want 403", i+1, code, body)
			}
		}
		for _, tok := range []string{"guess-99-0123456789abcdef", token("gw1")} {
			if code, body := postBatch(t, attacker, base, "gw1", tok, batch); code != http.StatusTooManyRequests {
				t.Errorf("after %d guesses, token %q: %d %s, want 429 unchecked", budget, tok, code, body)
			}
		}
		if code, body := postBatch(t, other, base, "gw1", token("gw1"), batch); code != 200 {
			t.Errorf("the gateway from another address: %d %s", code, body)
		}
	})

	t.Run("operator token", func(t *testing.T) {
		get := func(c *http.Client, tok string) int {
			req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/entities", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		// The operator's own successes spend nothing.
		for range 2 * budget {
			if code := get(attacker, operatorToken); code != 200 {
				t.Fatalf("operator: %d", code)
			}
		}
		for i := range budget {
			if code := get(attacker, fmt.Sprintf("guess-%02d-0123456789abcdef", i)); code != http.StatusUnauthorized {
				t.Fatalf("guess %d: %d, want 401", i+1, code)
			}
		}
		if code := get(attacker, operatorToken); code != http.StatusTooManyRequests {
			t.Errorf("after %d guesses, the right token: %d, want 429 unchecked", budget, code)
		}
		if code := get(other, operatorToken); code != 200 {
			t.Errorf("the operator from another address: %d", code)
		}
	})

	m := metricsText(t, addrs)
	for _, want := range []string{
		fmt.Sprintf(`ponte_ingest_auth_failures_total{listener="http_intake",reason="bad_credentials"} %d`, budget+2),
		`ponte_ingest_auth_failures_total{listener="http_intake",reason="throttled"} 2`,
		fmt.Sprintf(`ponte_ingest_auth_failures_total{listener="operator_api",reason="bad_credentials"} %d`, budget),
		`ponte_ingest_auth_failures_total{listener="operator_api",reason="throttled"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, l := range []string{"http_intake", "operator_api"} {
		if !strings.Contains(logs.String(), "authentication throttled") || !strings.Contains(logs.String(), "listener="+l) {
			t.Errorf("no throttling log line for %s:\n%s", l, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "listener=http_intake remote=127.0.0.1"); n != 1 {
		t.Errorf("%d throttling log lines for the intake guesser, want 1 (logged when it becomes throttled)", n)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the public port: %d, want 404", resp.StatusCode)
	}
}

// TestStreamOutlivesTimeouts: the SSE stream is still delivering after
// the server's read and write timeouts have passed.
func TestStreamOutlivesTimeouts(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, "", twinWithSite(t, dir), 1)
	cfg.HTTP.ReadTimeout = yamlconf.Duration(time.Second)
	cfg.HTTP.WriteTimeout = yamlconf.Duration(time.Second)
	cfg.HTTP.RequestTimeout = yamlconf.Duration(500 * time.Millisecond)
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addrs.HTTP+"/api/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+operatorToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	events := make(chan string, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 16<<20) // the indicators' data line is long
		for sc.Scan() {
			events <- sc.Text()
		}
	}()
	// Let both timeouts pass (three times over) with the stream idle.
	time.Sleep(3 * time.Second)
	gw, err := ingesttest.Connect(addrs.BrokerURL, "gw1", "gw1", password("gw1"))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Disconnect(50)
	b := &wire.Batch{Gateway: "gw1", Epoch: 7, Seqs: []uint64{1}, Readings: []wire.Reading{
		{Device: "meter-1", Point: "total_power", Value: wire.Float(3200), Unit: "W", Time: time.Now().UTC().Truncate(time.Millisecond)}}}
	data, err := wire.Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if tok := gw.Publish(cfg.Topics().Up("gw1"), 1, false, data); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	for line := range events {
		if line == "event: entity" {
			return
		}
	}
	t.Fatalf("the stream ended before the entity event (ctx %v)", ctx.Err())
}

// TestHTTPGatewayBudget: guessing one gateway's HTTP token from many
// addresses is bounded per gateway ID too: once its budget is spent, its
// requests get 429 unchecked from any address, while another gateway and
// the addresses' own budgets are untouched.
func TestHTTPGatewayBudget(t *testing.T) {
	cfg, _ := writeConfig(t, t.TempDir(), "", "", 2)
	const perAddr, perGateway = 3, 7
	cfg.HTTP.AuthBurst, cfg.HTTP.AuthGatewayBurst = perAddr, perGateway
	cfg.HTTP.AuthRefill = yamlconf.Duration(time.Hour)
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	base := "http://" + addrs.HTTP
	batch := ingesttest.BatchFor("gw1", 3, 1, 5)
	guesses := 0
	for a := 2; guesses < perGateway; a++ { // perAddr guesses each from 127.0.0.2, .3, ...
		c := fromAddr(fmt.Sprintf("127.0.0.%d", a))
		for i := 0; i < perAddr && guesses < perGateway; i++ {
			if code, body := postBatch(t, c, base, "gw1", fmt.Sprintf("guess-%02d-0123456789abcdef", guesses), batch); code != http.StatusForbidden {
				t.Fatalf("guess %d: %d %s, want 403", guesses+1, code, body)
			}
			guesses++
		}
	}
	fresh := fromAddr("127.0.0.100") // an address that guessed nothing
	if code, body := postBatch(t, fresh, base, "gw1", token("gw1"), batch); code != http.StatusTooManyRequests || !strings.Contains(body, "gateway ID") {
		t.Errorf("gw1's right token after %d guesses from several addresses: %d %s, want 429 unchecked", guesses, code, body)
	}
	if code, body := postBatch(t, fresh, base, "gw2", token("gw2"), ingesttest.BatchFor("gw2", 3, 1, 5)); code != 200 {
		t.Errorf("another gateway from the same address: %d %s, want 200", code, body)
	}
	m := metricsText(t, addrs)
	for _, want := range []string{
		fmt.Sprintf(`ponte_ingest_auth_failures_total{listener="http_intake",reason="bad_credentials"} %d`, perGateway),
		`ponte_ingest_auth_failures_total{listener="http_intake",reason="throttled"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
