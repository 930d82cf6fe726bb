package rsmp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// Source supervises RSMP sites, one goroutine per site. Create it with
// New; Run may be called once. WritePoint may be called from any
// goroutine while Run runs.
type Source struct {
	devices  []*device
	watchdog time.Duration
	policy   backoff.Policy
	maxMsg   int
}

var (
	_ source.Source = (*Source)(nil)
	_ source.Writer = (*Source)(nil)
)

// device is one supervised site.
type device struct {
	name     string
	addr     Address
	prof     *profile.RSMP
	code     string // security code: never logged
	interval time.Duration
	timeout  time.Duration
	log      *slog.Logger
	m        *source.Metrics

	mu   sync.Mutex
	sess *session // the established session, nil between connections
}

// New validates cfg and returns a Source for its devices.
func New(cfg Config) (*Source, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := orDefault(cfg.BackoffBase, DefaultBackoffBase)
	s := &Source{watchdog: orDefault(cfg.Watchdog, DefaultWatchdog), maxMsg: cfg.MaxMessage,
		policy: backoff.Policy{Base: base, Max: max(orDefault(cfg.BackoffMax, DefaultBackoffMax), base), Jitter: backoff.Equal}}
	for _, d := range cfg.Devices {
		s.devices = append(s.devices, newDevice(d, log, cfg.Metrics))
	}
	return s, nil
}

func newDevice(d source.Device, log *slog.Logger, m *source.Metrics) *device {
	addr, _ := ParseAddress(d.Address) // checked by Validate
	return &device{name: d.Name, addr: addr, prof: d.Profile.RSMP, code: d.SecurityCode,
		interval: orDefault(d.Interval, 10*time.Second), timeout: orDefault(d.Timeout, DefaultTimeout),
		log: log.With("device", d.Name, "site", addr.Site), m: m}
}

// Run supervises every site until ctx is cancelled, then returns nil.
// Calls to emit are serialised.
func (s *Source) Run(ctx context.Context, emit source.Emitter) error {
	serial := source.Serialize(emit)
	var wg sync.WaitGroup
	for _, d := range s.devices {
		wg.Go(func() { d.run(ctx, serial, s) })
	}
	wg.Wait()
	return nil
}

// run connects to the site, polls it while the session lasts, and
// reconnects with backoff after a disruption or a refusal.
func (d *device) run(ctx context.Context, emit source.Emitter, s *Source) {
	failures := 0
	var lastErr string
	for ctx.Err() == nil {
		sess, err := d.connect(ctx, s.maxMsg)
		if err == nil {
			failures = 0
			lastErr = ""
			d.log.Info("rsmp site connected", "address", d.addr.HostPort, "rsmp", sess.version)
			err = d.serve(ctx, sess, emit, s.watchdog)
		}
		if ctx.Err() != nil {
			return
		}
		if msg := err.Error(); msg != lastErr {
			d.log.Warn("rsmp site not reachable", "err", err)
			lastErr = msg
		}
		d.fail(emit, err)
		wait := s.policy.Wait(failures)
		failures++
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// connect dials the site and runs the Version exchange.
func (d *device) connect(ctx context.Context, maxMsg int) (*session, error) {
	dctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	var dialer net.Dialer
	conn, err := dialer.DialContext(dctx, "tcp", d.addr.HostPort)
	if err != nil {
		return nil, fmt.Errorf("%w: connect %s: %v", ErrDisrupted, d.addr.HostPort, err)
	}
	sess, err := establish(ctx, conn, handshakeParams{device: d.name, siteID: d.addr.Site, sxl: d.prof.SXL,
		versions: d.prof.OfferedVersions(), timeout: d.timeout, badFrame: func() { d.m.Error(d.name, "decode") }}, maxMsg, d.log)
	if err != nil {
		_ = conn.Close()
		return nil, err
	}
	return sess, nil
}

// serve polls the site every interval and sends this side's watchdogs
// until the session fails or ctx ends.
func (d *device) serve(ctx context.Context, sess *session, emit source.Emitter, watchdog time.Duration) error {
	d.mu.Lock()
	d.sess = sess
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		d.sess = nil
		d.mu.Unlock()
		sess.close()
	}()
	poll := time.NewTicker(d.interval)
	defer poll.Stop()
	wd := time.NewTicker(watchdog)
	defer wd.Stop()
	for {
		if err := d.poll(ctx, sess, emit); errors.Is(err, ErrDisrupted) {
			return err
		}
		for waiting := true; waiting; {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-sess.done:
				return sess.err
			case <-wd.C:
				if err := sess.sendWatchdog(ctx); err != nil {
					return err
				}
			case <-poll.C:
				waiting = false
			}
		}
	}
}

// poll asks for every status of the profile, one StatusRequest per
// component, and emits a reading per status point.
func (d *device) poll(ctx context.Context, sess *session, emit source.Emitter) error {
	start := time.Now()
	var out []wire.Reading
	var firstErr error
	for _, group := range d.groups() {
		m, err := sess.statuses(ctx, group.cid, group.refs)
		at := time.Now()
		if err != nil {
			firstErr = cmpErr(firstErr, err)
			for _, st := range group.points {
				out = append(out, wire.Reading{Device: d.name, Point: st.Name, Unit: st.Unit, Time: at,
					Quality: quality(err), Reason: err.Error()})
			}
			continue
		}
		for _, st := range group.points {
			out = append(out, d.reading(st, m, at))
		}
	}
	kind := ""
	if firstErr != nil {
		kind = "comm"
		if _, ok := IsNotAck(firstErr); ok {
			kind = "exception"
		}
	}
	d.m.Poll(d.name, time.Since(start), firstErr, kind)
	d.emit(emit, out)
	return firstErr
}

func quality(err error) wire.Quality {
	if _, ok := IsNotAck(err); ok {
		return wire.QualityBadDevice
	}
	return wire.QualityBadComm
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// group is the statuses of one component, asked in one StatusRequest.
type group struct {
	cid    string
	refs   []StatusRef
	points []*profile.RSMPStatus
}

func (d *device) groups() []group {
	var out []group
	idx := map[string]int{}
	for i := range d.prof.Statuses {
		st := &d.prof.Statuses[i]
		cid := d.component(st.Component)
		k, ok := idx[cid]
		if !ok {
			k = len(out)
			idx[cid] = k
			out = append(out, group{cid: cid})
		}
		g := &out[k]
		ref := StatusRef{SCI: st.SCI, N: st.N}
		if !containsRef(g.refs, ref) {
			g.refs = append(g.refs, ref)
		}
		g.points = append(g.points, st)
	}
	return out
}

func containsRef(refs []StatusRef, r StatusRef) bool {
	for _, x := range refs {
		if x == r {
			return true
		}
	}
	return false
}

// component resolves a profile's component ("main" or an ID).
func (d *device) component(c string) string {
	if c == "" || c == profile.MainComponent {
		return d.addr.Component
	}
	return c
}

// reading turns the status st of response m into a reading. Only quality
// "recent" is a good reading; "old" (a buffered value), "undefined" (no
// such component) and "unknown" (the value is unknown, or the status not
// implemented) are bad_device readings whose reason says which (RSMP core
// 3.2.2, "Return value quality" and "Error handling").
func (d *device) reading(st *profile.RSMPStatus, m *Message, at time.Time) wire.Reading {
	r := wire.Reading{Device: d.name, Point: st.Name, Unit: st.Unit, Time: at}
	v, ok := find(m.Values, st.SCI, st.N)
	switch {
	case !ok:
		r.Quality, r.Reason = wire.QualityBadDevice, fmt.Sprintf("%s %s missing from the StatusResponse", st.SCI, st.N)
	case v.Quality != Recent:
		r.Quality, r.Reason = wire.QualityBadDevice, fmt.Sprintf("%s %s: quality %q (%s)", st.SCI, st.N, v.Quality, qualityText(v.Quality))
	default:
		r.Value, r.Quality, r.Reason = convert(st, v)
	}
	return r
}

func qualityText(q string) string {
	switch q {
	case Old:
		return "not up to date"
	case Undefined:
		return "the component does not exist"
	case Unknown:
		return "the value is unknown"
	}
	return "expected recent, old, undefined or unknown"
}

func find(vs []Value, code, name string) (Value, bool) {
	for _, v := range vs {
		if v.Code == code && v.Name == name {
			return v, true
		}
	}
	return Value{}, false
}

// convert reads a status value's string as the point's type. RSMP sends
// every value as a JSON string: integers as "-?[0-9]+", booleans as
// "True"/"False" (rsmp_schema core 3.1.2 definitions.json).
func convert(st *profile.RSMPStatus, v Value) (wire.Value, wire.Quality, string) {
	bad := func(format string, args ...any) (wire.Value, wire.Quality, string) {
		return wire.Value{}, wire.QualityBadDecode, fmt.Sprintf("%s %s: ", st.SCI, st.N) + fmt.Sprintf(format, args...)
	}
	if v.Null || v.List {
		return bad("expected a string value, got %s", map[bool]string{true: "null", false: "an array"}[v.Null])
	}
	var x float64
	var out wire.Value
	switch st.Type {
	case profile.TypeInt:
		i, err := strconv.ParseInt(v.Text, 10, 64)
		if err != nil {
			return bad("%q is not an integer", v.Text)
		}
		x, out = float64(i), wire.Int(i)
	case profile.TypeFloat:
		f, err := strconv.ParseFloat(v.Text, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return bad("%q is not a number", v.Text)
		}
		x, out = f, wire.Float(f)
	case profile.TypeBool:
		switch v.Text {
		case "True":
			return wire.Bool(true), wire.QualityGood, ""
		case "False":
			return wire.Bool(false), wire.QualityGood, ""
		}
		return bad("%q is not an RSMP boolean (expected True or False)", v.Text)
	default:
		return wire.String(v.Text), wire.QualityGood, ""
	}
	if !st.Range.Contains(x) {
		return out, wire.QualityBadRange, fmt.Sprintf("%s outside the range %s", out, st.Range)
	}
	return out, wire.QualityGood, ""
}

// fail emits a bad_comm reading for every status point.
func (d *device) fail(emit source.Emitter, err error) {
	if d.m != nil {
		d.m.Error(d.name, "comm")
		d.m.Success.WithLabelValues(d.name).Set(0)
	}
	at := time.Now()
	out := make([]wire.Reading, 0, len(d.prof.Statuses))
	for _, st := range d.prof.Statuses {
		out = append(out, wire.Reading{Device: d.name, Point: st.Name, Unit: st.Unit, Time: at,
			Quality: wire.QualityBadComm, Reason: err.Error()})
	}
	d.emit(emit, out)
}

// emit counts readings by quality and hands them on; an RSMP site has no
// acknowledgement of durability to send, so the Commit is dropped.
func (d *device) emit(emit source.Emitter, rs []wire.Reading) {
	if len(rs) == 0 {
		return
	}
	if d.m != nil {
		for _, r := range rs {
			d.m.Readings.WithLabelValues(d.name, r.Quality.String()).Inc()
		}
	}
	emit(rs)
}
