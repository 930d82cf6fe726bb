package influx

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
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

	mu       sync.Mutex
	lines    []int
	gateways []string // each request's gateway tags, line by line, runs joined: "gw-a gw-b"
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
		h.gateways = append(h.gateways, gatewayRuns(body))
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

// gatewayRuns returns the gateway tags of body's lines, each run of one
// gateway once, separated by spaces.
func gatewayRuns(body []byte) string {
	var runs []string
	for line := range bytes.Lines(body) {
		_, rest, _ := bytes.Cut(line, []byte(",gateway="))
		gw, _, _ := bytes.Cut(rest, []byte(" "))
		gw, _, _ = bytes.Cut(gw, []byte(","))
		if len(runs) == 0 || runs[len(runs)-1] != string(gw) {
			runs = append(runs, string(gw))
		}
	}
	return strings.Join(runs, " ")
}

// heldSink is a sink on a real InfluxDB whose HTTP writes a
// holdingTransport records and holds until release, and the Write calls a
// test makes on it, each in a goroutine of its own.
type heldSink struct {
	t   *testing.T
	srv *influxtest.Server
	ht  *holdingTransport
	s   *Sink
	wg  sync.WaitGroup

	once sync.Once
	mu   sync.Mutex
	errs []error
	n    int // readings written
}

// newHeldSink starts a held sink of batchSize lines and writers flush
// loops; FlushInterval and Timeout are a minute, so that only the size
// rules send and a held request is not timed out and sent again.
func newHeldSink(t *testing.T, batchSize, writers int) *heldSink {
	h := &heldSink{t: t, srv: influxtest.Start(t)}
	h.ht = &holdingTransport{base: http.DefaultTransport, release: make(chan struct{})}
	t.Cleanup(h.wg.Wait) // after the sink closed, should the test stop early
	h.s = sinkOn(t, h.srv, func(c *Config) {
		c.Transport, c.BatchSize, c.Writers, c.FlushInterval = h.ht, batchSize, writers, time.Minute
		c.Timeout = time.Minute
	})
	t.Cleanup(h.release) // before the sink closes, should the test stop early
	return h
}

// heldBase is the time of the held sinks' readings.
var heldBase = time.Unix(1_700_003_000, 0)

// write writes count readings of device dev of gateway gw in a goroutine.
func (h *heldSink) write(gw, dev string, count int) {
	h.n += count
	h.wg.Go(func() {
		rej, err := h.s.Write(h.t.Context(), gw, floats(dev, "v", heldBase, count))
		if err == nil && len(rej) > 0 {
			err = errorString(rej[0].Reason)
		}
		h.mu.Lock()
		h.errs = append(h.errs, err)
		h.mu.Unlock()
	})
}

// pending waits until the sink holds want readings not yet written.
func (h *heldSink) pending(want int64) {
	h.t.Helper()
	testenv.Eventually(h.t, 10*time.Second, "writes queued", func() bool { return h.s.Stats().Pending == want })
}

// requests waits until want requests were sent and returns their lines.
func (h *heldSink) requests(want int) []int {
	h.t.Helper()
	testenv.Eventually(h.t, 10*time.Second, "requests sent", func() bool { return len(h.ht.sent()) >= want })
	return h.ht.sent()
}

// release lets the held requests (and those after) through.
func (h *heldSink) release() { h.once.Do(func() { close(h.ht.release) }) }

// finish releases the requests, waits for every write and checks that
// each succeeded and that InfluxDB stores every reading written.
func (h *heldSink) finish() {
	h.t.Helper()
	h.release()
	h.wg.Wait()
	for _, err := range h.errs {
		if err != nil {
			h.t.Errorf("write: %v", err)
		}
	}
	if got := h.srv.Count(h.t, `SELECT count(v) FROM "energy"`); got != int64(h.n) {
		h.t.Errorf("%d points stored, want %d", got, h.n)
	}
}

// TestRequestsGroupedByGateway: a request starts with the oldest queued
// lines and takes the rest of their gateway's queued lines next, in
// order, before another gateway's, so it carries as few gateways (and so
// series) as what is queued allows; a job whose caller gave up is dropped
// wherever it is queued; every other point is stored.
func TestRequestsGroupedByGateway(t *testing.T) {
	h := newHeldSink(t, 100, 1)
	write := func(gw, dev string, count int) {
		t.Helper()
		h.write(gw, dev, count)
		h.pending(int64(h.n)) // queued (or sent) before the next, so the queue's order is known
	}
	write("gw-a", "cab-1", 10) // sent at once, and held: the one writer is busy
	h.requests(1)
	write("gw-a", "cab-2", 30)
	write("gw-b", "cab-3", 30)
	write("gw-a", "cab-4", 30)
	write("gw-b", "cab-5", 30)
	write("gw-c", "cab-6", 20)
	// a job of gw-a whose caller stops waiting: skipped when reached
	gone, giveUp := context.WithCancel(t.Context())
	goneErr := make(chan error, 1)
	go func() { _, err := h.s.Write(gone, "gw-a", floats("cab-7", "v", heldBase, 30)); goneErr <- err }()
	h.pending(int64(h.n + 30))
	giveUp()
	if err := <-goneErr; !errors.Is(err, context.Canceled) {
		t.Errorf("abandoned write returned %v, want context.Canceled", err)
	}
	h.finish()
	h.ht.mu.Lock()
	lines, gateways := slices.Clone(h.ht.lines), slices.Clone(h.ht.gateways)
	h.ht.mu.Unlock()
	// queued: a30 b30 a30 b30 c20 (a30 abandoned); in arrival order the
	// second request would be a b a b (four runs).
	if want := []string{"gw-a", "gw-a gw-b", "gw-b gw-c"}; !slices.Equal(gateways, want) || !slices.Equal(lines, []int{10, 100, 40}) {
		t.Errorf("requests of %v lines with gateways %q, want [10 100 40] and %q", lines, gateways, want)
	}
}

// TestFullerRequestsWhileWritesAreInFlight: with no write in flight lines
// go at once; with one in flight a free writer waits for BatchSize's share
// of it (of Writers), with two or more for a full BatchSize, before it
// sends, so InfluxDB gets fewer, fuller requests while it has work anyway;
// every point is stored.
func TestFullerRequestsWhileWritesAreInFlight(t *testing.T) {
	h := newHeldSink(t, 100, 4)
	h.write("gw-1", "cab-a", 100) // no write in flight: sent at once
	h.requests(1)
	h.write("gw-1", "cab-b", 30) // 1 of 4 in flight: sent from 25 lines
	h.requests(2)
	h.write("gw-1", "cab-c", 40) // 2 of 4 in flight: waits for 100
	h.pending(170)
	h.write("gw-1", "cab-d", 20)
	h.pending(190)
	if got := h.ht.sent(); len(got) != 2 {
		t.Fatalf("requests of %v lines: 60 lines were sent with 2 writes in flight, want them held for 100", got)
	}
	h.write("gw-1", "cab-e", 50)
	if got := h.requests(3); !slices.Equal(got, []int{100, 30, 100}) {
		t.Errorf("requests of %v lines, want [100 30 100]", got)
	}
	h.finish()
	if got := h.ht.sent(); !slices.Equal(got, []int{100, 30, 100, 10}) {
		t.Errorf("requests of %v lines, want [100 30 100 10]: the last 10 once the writes in flight ended", got)
	}
}
