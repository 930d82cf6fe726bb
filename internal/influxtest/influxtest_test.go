package influxtest

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// write posts line protocol to the v2 compatibility endpoint.
func write(t *testing.T, s *Server, lines string) int {
	t.Helper()
	resp, err := http.Post(s.URL+"/api/v2/write?bucket="+s.Bucket+"&precision=ns", "text/plain", strings.NewReader(lines))
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestStartWriteQueryRestart(t *testing.T) {
	s := Start(t)
	if code := write(t, s, "m,dev=a v=1.5,n=7i 1000000000000000001\nm,dev=b v=2 1000000000000000002\n"); code != http.StatusNoContent {
		t.Fatalf("write: status %d, want 204", code)
	}
	check := func(stage string) {
		t.Helper()
		series := s.Query(t, `SELECT v, n, dev FROM m`)
		if len(series) != 1 || len(series[0].Values) != 2 {
			t.Fatalf("%s: got %+v, want one series with two rows", stage, series)
		}
		rows := series[0].Rows()
		if ts := rows[0]["time"].(json.Number).String(); ts != "1000000000000000001" {
			t.Errorf("%s: first time %s, want the exact nanosecond 1000000000000000001", stage, ts)
		}
		if n := rows[0]["n"].(json.Number).String(); n != "7" {
			t.Errorf("%s: n = %s, want 7", stage, n)
		}
		if got := s.Count(t, `SELECT count(v) FROM m`); got != 2 {
			t.Errorf("%s: count(v) = %d, want 2", stage, got)
		}
	}
	check("before restart")
	s.Stop()
	if s.Running() {
		t.Fatal("Running after Stop")
	}
	if _, err := http.Get(s.URL + "/ping"); err == nil {
		t.Fatal("ping answered after Stop")
	}
	s.Start()
	check("after restart")
}

func TestQueryErrorFails(t *testing.T) {
	s := Start(t)
	if _, err := s.do(http.MethodGet, "SELEKT nonsense"); err == nil {
		t.Fatal("a malformed query returned no error")
	}
}

// TestSnapshotWhenIdle: with the option influxd writes its cache to a TSM
// file soon after writes stop (without it, it waits 10 minutes or for 25
// MB, and no TSM file appears in 5 s).
func TestSnapshotWhenIdle(t *testing.T) {
	s := Start(t, SnapshotWhenIdle(100*time.Millisecond))
	if code := write(t, s, "m,dev=a v=1.5 1000000000000000001\n"); code != http.StatusNoContent {
		t.Fatalf("write: status %d, want 204", code)
	}
	testenv.Eventually(t, 30*time.Second, "a TSM file under "+s.dir, func() bool {
		found := false
		_ = filepath.WalkDir(filepath.Join(s.dir, "data"), func(path string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(path, ".tsm") {
				found = true
			}
			return nil
		})
		return found
	})
}
