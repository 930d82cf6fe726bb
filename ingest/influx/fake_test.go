package influx

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// fakeInflux answers /api/v2/write with answer(request number, lines) and
// records every body; /ping answers 204.
type fakeInflux struct {
	mu     sync.Mutex
	bodies [][]string
	answer func(n int, lines []string) (status int, header http.Header, body string)
}

func (f *fakeInflux) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ping" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	data, _ := io.ReadAll(r.Body)
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	f.mu.Lock()
	f.bodies = append(f.bodies, lines)
	n := len(f.bodies)
	f.mu.Unlock()
	status, header, body := f.answer(n, lines)
	for k, v := range header {
		w.Header()[k] = v
	}
	if strings.HasPrefix(body, "{") {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

// hasField reports whether line l has a field named key.
func hasField(l, key string) bool {
	return strings.Contains(l, " "+key+"=") || strings.Contains(l, ","+key+"=")
}

func (f *fakeInflux) requests() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.bodies...)
}

// TestAnswers runs the sink against a fake server for the answers a real
// InfluxDB gives under load, misconfiguration, or in versions not started
// by the tests (3.x per-line errors).
func TestAnswers(t *testing.T) {
	t0 := time.Unix(1_700_003_000, 0)
	batch := []wire.Reading{
		{Device: "cab-1", Point: "a", Value: wire.Float(1), Time: t0},
		{Device: "cab-1", Point: "bad", Value: wire.Float(2), Time: t0},
		{Device: "cab-2", Point: "a", Value: wire.Float(3), Time: t0},
		{Device: "cab-2", Point: "evil", Value: wire.Float(4), Time: t0},
	}
	tests := []struct {
		name       string
		answer     func(n int, lines []string) (int, http.Header, string)
		timeout    time.Duration // 0: the write must succeed
		rejected   map[string]string
		minReqs    int
		checkBodys func(t *testing.T, bodies [][]string)
	}{
		{
			name: "503 then accepted",
			answer: func(n int, _ []string) (int, http.Header, string) {
				if n <= 2 {
					return 503, nil, `{"code":"unavailable","message":"busy"}`
				}
				return 204, nil, ""
			},
			minReqs: 3,
		},
		{
			name: "429 with Retry-After then accepted",
			answer: func(n int, _ []string) (int, http.Header, string) {
				if n == 1 {
					return 429, http.Header{"Retry-After": {"1"}}, ""
				}
				return 204, nil, ""
			},
			minReqs: 2,
		},
		{
			name: "401 is retried, never rejected",
			answer: func(int, []string) (int, http.Header, string) {
				return 401, nil, `{"code":"unauthorized","message":"unauthorized access"}`
			},
			timeout: 300 * time.Millisecond,
			minReqs: 2,
		},
		{
			name: "3.x partial write with per-line errors",
			answer: func(_ int, lines []string) (int, http.Header, string) {
				var errs []lineError
				for i, l := range lines {
					if hasField(l, "bad") {
						errs = append(errs, lineError{OriginalLine: l, LineNumber: i + 1, ErrorMessage: "invalid column type for column 'bad'"})
					}
				}
				if len(errs) == 0 {
					return 204, nil, ""
				}
				b, _ := json.Marshal(map[string]any{"error": "partial write of line protocol occurred", "data": errs})
				return 400, nil, string(b)
			},
			rejected: map[string]string{"bad": "invalid column type for column 'bad'"},
			// cab-1's line is refused, split into a line per reading and
			// sent again with cab-2's; then bad alone is refused.
			minReqs: 3,
			checkBodys: func(t *testing.T, bodies [][]string) {
				want := []string{
					"energy,area=Firenze,device=cab-1,gateway=gw-1,type=energy a=1 1700003000000000000",
					"energy,area=Firenze,device=cab-2,gateway=gw-1,type=energy a=3,evil=4 1700003000000000000",
				}
				if last := bodies[len(bodies)-1]; strings.Join(last, "\n") != strings.Join(want, "\n") {
					t.Errorf("last write %q, want every reading but bad: %q", last, want)
				}
			},
		},
		{
			name: "2.0's 500 partial write is a refusal",
			answer: func(_ int, lines []string) (int, http.Header, string) {
				for _, l := range lines {
					if hasField(l, "bad") {
						return 500, nil, `{"code":"internal error","message":"unexpected error writing points to database: partial write: field type conflict: input field \"bad\" on measurement \"energy\" is type float, already exists as type integer dropped=1"}`
					}
				}
				return 204, nil, ""
			},
			rejected: map[string]string{"bad": `field type conflict: input field "bad" on measurement "energy" is type float, already exists as type integer`},
			minReqs:  3,
		},
		{
			name: "400 naming no line: halved down to the bad one",
			answer: func(_ int, lines []string) (int, http.Header, string) {
				for _, l := range lines {
					if hasField(l, "evil") {
						return 400, nil, "bad request"
					}
				}
				return 204, nil, ""
			},
			rejected: map[string]string{"evil": "bad request"},
			minReqs:  3,
		},
		{
			name: "413 splits the batch",
			answer: func(_ int, lines []string) (int, http.Header, string) {
				if len(lines) > 1 {
					return 413, nil, `{"error":"Request Entity Too Large"}`
				}
				return 204, nil, ""
			},
			minReqs: 3, // 2 lines (a device's readings each) -> 1+1
			checkBodys: func(t *testing.T, bodies [][]string) {
				singles := 0
				for _, b := range bodies {
					if len(b) == 1 {
						singles++
					}
				}
				if singles != 2 {
					t.Errorf("%d single-line writes, want 2", singles)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeInflux{answer: tt.answer}
			srv := httptest.NewServer(f)
			defer srv.Close()
			s := newSink(t, srv.URL, "b", func(c *Config) { c.Org = "city"; c.Token = "tok" })
			ctx := context.Background()
			if tt.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			rej, err := s.Write(ctx, "gw-1", batch)
			if tt.timeout > 0 {
				if !errors.Is(err, context.DeadlineExceeded) || len(rej) != 0 {
					t.Fatalf("got %d rejected, err %v; want none rejected and the deadline", len(rej), err)
				}
				if s.Healthy() {
					t.Error("healthy while every write fails")
				}
			} else if err != nil {
				t.Fatalf("write: %v", err)
			}
			got := map[string]string{}
			for _, r := range rej {
				got[r.Reading.Point] = r.Reason
			}
			if len(got) != len(tt.rejected) {
				t.Errorf("rejected %v, want %v", got, tt.rejected)
			}
			for p, why := range tt.rejected {
				if got[p] != why {
					t.Errorf("%s rejected with %q, want %q", p, got[p], why)
				}
			}
			bodies := f.requests()
			if len(bodies) < tt.minReqs {
				t.Errorf("%d requests, want at least %d", len(bodies), tt.minReqs)
			}
			if tt.checkBodys != nil {
				tt.checkBodys(t, bodies)
			}
		})
	}
}

// TestHealthFromPing: an idle sink reports Healthy from its pings.
func TestHealthFromPing(t *testing.T) {
	var up sync.Mutex
	down := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up.Lock()
		d := down
		up.Unlock()
		if d {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()
	s := newSink(t, srv.URL, "b", func(c *Config) { c.PingInterval = 20 * time.Millisecond })
	testenv.Eventually(t, 5*time.Second, "healthy from the first ping", s.Healthy)
	up.Lock()
	down = true
	up.Unlock()
	testenv.Eventually(t, 5*time.Second, "unhealthy once pings fail", func() bool { return !s.Healthy() })
	if s.Backpressure() {
		t.Error("backpressure without any failing write")
	}
}
