package influxtest

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Write writes line-protocol lines (nanosecond timestamps) to the
// database through InfluxDB 1.8's /write endpoint, as a test's own past
// data beside what ingest writes; an error fails t.
func (s *Server) Write(t testing.TB, lines ...string) {
	t.Helper()
	u := s.URL + "/write?" + url.Values{"db": {s.DB}, "precision": {"ns"}}.Encode()
	resp, err := http.Post(u, "text/plain", strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("write to influxd: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("write to influxd: status %d: %s", resp.StatusCode, b)
	}
}
