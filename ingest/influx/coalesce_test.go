package influx

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
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
