package influx

import (
	"bytes"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv"
)

// TestCoalescing: many goroutines calling Write at once share HTTP writes
// (counted by the transport), and every point arrives.
func TestCoalescing(t *testing.T) {
	srv := influxtest.Start(t)
	ct := &countingTransport{base: http.DefaultTransport, delay: 20 * time.Millisecond}
	s := sinkOn(t, srv, func(c *Config) { c.Transport = ct })
	const callers, each = 64, 10
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rej, err := s.Write(t.Context(), "gw-1", floats("cab-"+strconv.Itoa(c), "v", time.Unix(1_700_002_000, 0), each))
			if err == nil && len(rej) > 0 {
				err = errorString(rej[0].Reason)
			}
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	requests := ct.n.Load()
	if requests >= callers {
		t.Errorf("%d Write calls made %d HTTP writes; want them coalesced into fewer", callers, requests)
	}
	if st := s.Stats(); st.Requests != requests || st.Points != callers*each {
		t.Errorf("stats %+v, transport counted %d requests, want %d points", st, requests, callers*each)
	}
	if got := srv.Count(t, `SELECT count(v) FROM "energy"`); got != callers*each {
		t.Errorf("%d points stored, want %d", got, callers*each)
	}
	t.Logf("%d Write calls -> %d HTTP writes", callers, requests)
}

// errorString is an error made of a string.
type errorString string

func (e errorString) Error() string { return string(e) }

// holdingTransport records the lines of each write request and holds it
// until release is closed.
type holdingTransport struct {
	base    http.RoundTripper
	release chan struct{}

	mu    sync.Mutex
	lines []int
}

func (h *holdingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Path == "/api/v2/write" {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		h.mu.Lock()
		h.lines = append(h.lines, bytes.Count(bytes.TrimSuffix(body, []byte("\n")), []byte("\n"))+1)
		h.mu.Unlock()
		select {
		case <-h.release:
		case <-req.Context().Done():
			return nil, req.Context().Err()
		}
	}
	return h.base.RoundTrip(req)
}

func (h *holdingTransport) sent() []int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.lines)
}

// TestFullerRequestsWhileWritesAreInFlight: with no write in flight lines
// go at once; with writes in flight a free writer waits for BatchSize's
// share of the writes in flight (of Writers) before it sends, so InfluxDB
// gets fewer, fuller requests while it has work anyway; every point is
// stored.
func TestFullerRequestsWhileWritesAreInFlight(t *testing.T) {
	srv := influxtest.Start(t)
	ht := &holdingTransport{base: http.DefaultTransport, release: make(chan struct{})}
	var wg sync.WaitGroup
	t.Cleanup(wg.Wait) // after the sink closed, should the test stop early
	s := sinkOn(t, srv, func(c *Config) {
		c.Transport, c.BatchSize, c.Writers, c.FlushInterval = ht, 100, 4, time.Minute
	})
	var once sync.Once
	release := func() { once.Do(func() { close(ht.release) }) }
	t.Cleanup(release) // before the sink closes, should the test stop early
	t0 := time.Unix(1_700_003_000, 0)
	errs := make(chan error, 4)
	n := 0
	write := func(dev string, count int) {
		n += count
		wg.Go(func() {
			rej, err := s.Write(t.Context(), "gw-1", floats(dev, "v", t0, count))
			if err == nil && len(rej) > 0 {
				err = errorString(rej[0].Reason)
			}
			errs <- err
		})
	}
	requests := func(want int) []int {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, "requests sent", func() bool { return len(ht.sent()) >= want })
		return ht.sent()
	}
	pending := func(want int64) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, "writes queued", func() bool { return s.Stats().Pending == want })
	}

	write("cab-a", 100) // no write in flight: sent at once
	requests(1)
	write("cab-b", 30) // 1 of 4 in flight: sent from 25 lines
	requests(2)
	write("cab-c", 40) // 2 of 4 in flight: waits for 50
	pending(170)
	if got := ht.sent(); len(got) != 2 {
		t.Fatalf("requests of %v lines: 40 lines were sent with 2 writes in flight, want them held for 50", got)
	}
	write("cab-d", 20)
	if got := requests(3); !slices.Equal(got, []int{100, 30, 60}) {
		t.Errorf("requests of %v lines, want [100 30 60]", got)
	}
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("write: %v", err)
		}
	}
	if got := srv.Count(t, `SELECT count(v) FROM "energy"`); got != int64(n) {
		t.Errorf("%d points stored, want %d", got, n)
	}
}
