package influx

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api"
	http2 "github.com/influxdata/influxdb-client-go/v2/api/http"
)

// ledger is told how the lines of the batches a client delivers end; the
// queue keeps it. Its methods may be called from several flush loops at
// once, for different batches.
type ledger interface {
	// prune drops from b the lines whose callers stopped waiting (they
	// must not be read any more) and returns the rest; the client calls
	// it before every try.
	prune(b batch) batch
	// written ends every line of b as written.
	written(b batch)
	// refused ends the lines of b that bad names (by index in b) as
	// rejected with their reasons, or splits them to be sent again, and
	// returns the lines to send again; count, when not nil, is given the
	// readings it rejected before any caller of b is woken.
	refused(b batch, bad map[int]string, count func(rejected int)) (rest batch)
	// failed ends every line of b unwritten with err.
	failed(b batch, err error)
}

// client is the sink's side toward InfluxDB: it writes batches of lines
// through the v2 write API (influxdb-client-go's blocking write call, with
// the library's own retries off), retries a failing write with backoff,
// probes /ping while InfluxDB is unreachable, works out which lines a
// refusal names, and keeps Healthy current with an idle ping.
//
// Its API:
//
//   - deliver: write one batch to its end (written, rejected, or ended
//     with ErrClosed when ctx ends), settling its lines in a ledger;
//   - failing: whether writes are failing (the queue then lets only the
//     flush loop already retrying talk to InfluxDB);
//   - healthy, stats;
//   - pinger: the idle health ping, run on a goroutine of its own;
//   - close: release the connections once nothing runs.
//
// The write state (failing, backoff, outage start) is shared by every
// flush loop, so that one outage is one backoff and one log line; mu
// guards it. Its methods are safe for concurrent use.
type client struct {
	cfg  Config
	log  *slog.Logger
	m    *metrics
	lib  influxdb2.Client
	api  api.WriteAPIBlocking
	http *http.Client
	// resumed is called when writes succeed again after failing, so that
	// flush loops held back while failing take batches again.
	resumed func()
	// held counts the Write calls waiting, for the outage logs.
	held func() int64

	mu        sync.Mutex
	isFailing bool      // the last write failed and is being retried
	attempts  int       // failed tries since the last success
	retryAt   time.Time // no write before this while failing
	// failingSince is when the current outage began (set while failing).
	failingSince time.Time
	// unreachable says the last failed write did not reach InfluxDB at
	// all, so a successful ping may end the backoff.
	unreachable bool
	lastUsed    time.Time // last write attempt or ping
	active      int       // deliver calls running

	isHealthy    atomic.Bool
	requests     atomic.Int64
	points       atomic.Int64 // readings InfluxDB accepted
	rejected     atomic.Int64 // readings InfluxDB refused
	retries      atomic.Int64
	probes       atomic.Int64
	probeResumes atomic.Int64
}

// newClient returns a client for the InfluxDB of cfg (defaults applied).
// resumed and held are the queue's wake and count of waiting Write calls.
func newClient(cfg Config, m *metrics, resumed func(), held func() int64) *client {
	base := cfg.Transport
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = cfg.Writers + 2
		base = t
	}
	hc := &http.Client{Transport: captureTransport{base: base}}
	opts := influxdb2.DefaultOptions().
		SetHTTPClient(hc).
		SetPrecision(time.Nanosecond).
		SetMaxRetries(0).
		SetLogLevel(0)
	lib := influxdb2.NewClientWithOptions(cfg.URL, cfg.Token, opts)
	return &client{
		cfg:     cfg,
		log:     cfg.Logger,
		m:       m,
		lib:     lib,
		api:     lib.WriteAPIBlocking(cfg.Org, cfg.Bucket),
		http:    hc,
		resumed: resumed,
		held:    held,
	}
}

// close releases the client's connections; nothing may run on it after.
func (c *client) close() {
	c.http.CloseIdleConnections()
	c.lib.Close()
}

// outcome is how one delivery attempt of a batch ended.
type outcome int

const (
	sentOK      outcome = iota // InfluxDB accepted every line
	sentRefused                // InfluxDB refused lines of it (400, 422, 413)
	sentEmpty                  // every line's caller gave up; nothing to send
	sentStopped                // ctx ended before it was accepted
)

// deliver writes b, splitting off the lines InfluxDB refuses: lines the
// refusal names are rejected and the rest sent again (InfluxDB may have
// written them already; writing a point again overwrites it); when the
// refusal names none, the batch is halved until each refused line stands
// alone. It retries while InfluxDB fails (see sendRetrying) and returns
// once every line of b is settled in l; when ctx ends first, the lines
// left end with ErrClosed.
func (c *client) deliver(ctx context.Context, b batch, l ledger) {
	c.mu.Lock()
	c.active++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.active--
		c.mu.Unlock()
	}()
	work := []batch{b}
	for len(work) > 0 {
		b := work[len(work)-1]
		work = work[:len(work)-1]
		res, ref := c.sendRetrying(ctx, &b, l)
		switch res {
		case sentEmpty:
		case sentOK:
			// Counted before the callers are woken, so that Stats
			// agrees with what Write returned.
			n := b.readings()
			c.points.Add(int64(n))
			c.m.points.Add(float64(n))
			l.written(b)
		case sentStopped:
			l.failed(b, ErrClosed)
			for _, w := range work {
				l.failed(w, ErrClosed)
			}
			return
		case sentRefused:
			bad := attribute(ref, b.lines())
			if len(bad) == 0 {
				if len(b) > 1 {
					mid := len(b) / 2
					work = append(work, b[mid:], b[:mid])
					continue
				}
				bad = map[int]string{0: clip(ref.Message)}
			}
			c.logRefusal(b, bad)
			rest := l.refused(b, bad, func(n int) {
				c.rejected.Add(int64(n))
				c.m.rejected.WithLabelValues("server").Add(float64(n))
			})
			if len(rest) > 0 {
				work = append(work, rest)
			}
		}
	}
}

// logRefusal logs one line per refused batch (not per reading).
func (c *client) logRefusal(b batch, bad map[int]string) {
	var first string
	for i := range b {
		if why, ok := bad[i]; ok {
			first = why
			break
		}
	}
	c.log.Warn("influxdb refused lines", "lines", len(bad), "batch_lines", len(b), "reason", first)
}

// writeError is a failed write InfluxDB may accept when tried again.
type writeError struct {
	status     int // 0 for network errors
	retryAfter time.Duration
	err        error
}

func (e *writeError) Error() string { return e.err.Error() }

// send makes one HTTP write of b.
func (c *client) send(ctx context.Context, b batch) (outcome, refusal, *writeError) {
	body := b.body()
	var cp capture
	ctx, cancel := context.WithTimeout(withCapture(ctx, &cp), c.cfg.Timeout)
	start := time.Now()
	err := c.api.WriteRecord(ctx, body)
	cancel()
	c.requests.Add(1)
	c.m.duration.Observe(time.Since(start).Seconds())
	c.m.batch.Observe(float64(len(b)))
	c.mu.Lock()
	c.lastUsed = time.Now()
	c.mu.Unlock()
	if err == nil {
		c.m.requests.WithLabelValues("ok").Inc()
		return sentOK, refusal{}, nil
	}
	we := &writeError{err: err}
	var he *http2.Error
	if errors.As(err, &he) {
		we.status = he.StatusCode
		we.retryAfter = time.Duration(he.RetryAfter) * time.Second
		ref := parseRefusal(cp.body, he.Message)
		// InfluxDB 2.0 answered some partial writes with 500; they concern
		// points like any other partial write and would fail forever.
		if he.StatusCode == 400 || he.StatusCode == 413 || he.StatusCode == 422 ||
			(he.StatusCode == 500 && strings.Contains(ref.Message, "partial write:")) {
			c.m.requests.WithLabelValues("refused").Inc()
			return sentRefused, ref, nil
		}
		if he.StatusCode != 0 && ref.Message != "" {
			we.err = errors.New("status " + strconv.Itoa(he.StatusCode) + ": " + clip(ref.Message))
		}
	}
	c.m.requests.WithLabelValues("retry").Inc()
	return 0, refusal{}, we
}

// failing reports whether writes are failing and retried with backoff.
func (c *client) failing() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.isFailing
}

// healthy reports whether the last write (or ping) succeeded.
func (c *client) healthy() bool { return c.isHealthy.Load() }

// setHealthy sets healthy and its gauge.
func (c *client) setHealthy(ok bool) {
	c.isHealthy.Store(ok)
	if ok {
		c.m.healthy.Set(1)
	} else {
		c.m.healthy.Set(0)
	}
}

// stats returns the client's counters (Pending is the queue's).
func (c *client) stats() Stats {
	return Stats{
		Requests:     c.requests.Load(),
		Points:       c.points.Load(),
		Rejected:     c.rejected.Load(),
		Retries:      c.retries.Load(),
		Probes:       c.probes.Load(),
		ProbeResumes: c.probeResumes.Load(),
	}
}

// pinger pings InfluxDB when the client has been idle for PingInterval,
// so that healthy stays current without traffic; it also pings once at
// start. It returns when ctx ends.
func (c *client) pinger(ctx context.Context) {
	c.ping(ctx)
	t := time.NewTicker(c.cfg.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		c.mu.Lock()
		idle := !c.isFailing && c.active == 0 && time.Since(c.lastUsed) >= c.cfg.PingInterval
		c.mu.Unlock()
		if idle {
			c.ping(ctx)
		}
	}
}

// ping asks InfluxDB whether it is up; a failing client keeps healthy
// false until a write succeeds, and a ping ctx ended changes nothing.
func (c *client) ping(ctx context.Context) {
	pctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	ok, err := c.lib.Ping(pctx)
	c.mu.Lock()
	c.lastUsed = time.Now()
	failing := c.isFailing
	c.mu.Unlock()
	if ctx.Err() != nil || failing {
		return
	}
	up := ok && err == nil
	if was := c.isHealthy.Load(); was != up {
		if up {
			c.log.Info("influxdb answers", "url", c.cfg.URL)
		} else {
			c.log.Warn("influxdb does not answer", "url", c.cfg.URL, "error", err)
		}
	}
	c.setHealthy(up)
}
