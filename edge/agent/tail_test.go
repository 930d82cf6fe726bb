package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestLiveReadings: GET /readings streams what the sources read, filtered
// by device and point; a fifth watcher is refused; the streams end when
// the agent stops.
func TestLiveReadings(t *testing.T) {
	broker := testenv.Mosquitto(t)
	newAcknowledger(t, broker.URL, true)
	addr := startModbusSim(t, filepath.Join(shippedProfiles, "eastron-sdm630-v2.yaml"), 1, 2)
	dir := t.TempDir()
	path := filepath.Join(dir, "site.yaml")
	testenv.WriteFile(t, path, siteYAML("fi-tail-01", broker.URL, dir, "127.0.0.1:0", modbusDevice("meter-1", addr, 1), modbusDevice("meter-2", addr, 2)))
	a, stop := runAgent(t, path)
	base := "http://" + a.Addr()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := func(query string) *http.Response {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readings"+query, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := open("?device=meter-2&point=voltage_l1,total_power")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("GET /readings: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	seen := map[string]int{}
	for len(seen) < 2 && sc.Scan() {
		var l TailLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if l.Dropped > 0 {
			continue
		}
		if l.Device != "meter-2" || (l.Point != "voltage_l1" && l.Point != "total_power") || l.Quality != wire.QualityGood.String() || l.Value == nil || l.Time.IsZero() {
			t.Fatalf("line %+v: want meter-2's voltage_l1 or total_power, good, with a value and a time", l)
		}
		seen[l.Point]++
	}
	if len(seen) < 2 {
		t.Fatalf("stream ended after %v: %v", seen, sc.Err())
	}

	// Three more watchers fit, a fifth does not.
	for range MaxTails - 1 {
		r := open("")
		defer r.Body.Close()
		if r.StatusCode != http.StatusOK {
			t.Fatalf("watcher within the limit: %s", r.Status)
		}
	}
	if r := open(""); r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a fifth watcher: %s, want 503", r.Status)
		r.Body.Close()
	}

	// Stopping the agent ends the stream (Shutdown does not wait on it).
	done := make(chan struct{})
	go func() {
		for sc.Scan() {
		}
		close(done)
	}()
	stop()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the live stream did not end when the agent stopped")
	}
}
