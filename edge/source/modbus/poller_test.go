package modbus

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"

	gmodbus "github.com/goburrow/modbus"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// fakeLink answers reads from a function, counting them per unit.
type fakeLink struct {
	reply func(ctx context.Context, unit uint8, timeout time.Duration, r *Request) ([]byte, error)

	mu     sync.Mutex
	calls  map[uint8]int
	resets int
}

func (f *fakeLink) read(ctx context.Context, unit uint8, timeout time.Duration, r *Request) ([]byte, error) {
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[uint8]int{}
	}
	f.calls[unit]++
	f.mu.Unlock()
	return f.reply(ctx, unit, timeout, r)
}

func (f *fakeLink) write(context.Context, uint8, time.Duration, *writeOp) error {
	return errors.New("fake link: no writes")
}
func (f *fakeLink) reset()       { f.mu.Lock(); f.resets++; f.mu.Unlock() }
func (f *fakeLink) close() error { return nil }

func (f *fakeLink) count(unit uint8) int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls[unit] }

// registers answers a read with register i holding unit*1000+address+i,
// and every bit set.
func registers(unit uint8, r *Request) []byte {
	if r.Table.IsBit() {
		return bytes.Repeat([]byte{0xFF}, r.ReplyLen())
	}
	b := make([]byte, 2*r.Count)
	for i := 0; i < r.Count; i++ {
		binary.BigEndian.PutUint16(b[2*i:], uint16(int(unit)*1000+int(r.Address)+i))
	}
	return b
}

// timeoutAfter waits like a silent device and fails as goburrow's TCP
// transporter does.
func timeoutAfter(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return fmt.Errorf("read tcp: i/o timeout: %w", os.ErrDeadlineExceeded)
	}
}

func testProfile(points ...profile.ModbusPoint) *profile.Profile {
	return &profile.Profile{Model: "test", Kind: profile.KindModbus, File: "test.yaml", Modbus: &profile.Modbus{Points: points}}
}

func twoRegisterProfile() *profile.Profile {
	return testProfile(pt("a", profile.TableHolding, 0, profile.TypeUint16), pt("b", profile.TableHolding, 1, profile.TypeUint16))
}

// collector gathers emitted readings.
type collector struct {
	mu sync.Mutex
	rs []wire.Reading
}

func (c *collector) emit(rs []wire.Reading) source.Commit {
	c.mu.Lock()
	c.rs = append(c.rs, rs...)
	c.mu.Unlock()
	return source.Resolved(nil)
}

func (c *collector) snapshot() []wire.Reading {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]wire.Reading(nil), c.rs...)
}

// lockedBuffer is a log sink safe for the bus goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func runFor(t *testing.T, s *Source, d time.Duration, emit source.Emitter) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := s.Run(ctx, emit); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// On a shared RTU line a dead slave must not slow the others to its
// timeout cadence: in backoff it is skipped until its retry time.
func TestSharedBusDeadSlaveIsSkipped(t *testing.T) {
	const (
		interval = 20 * time.Millisecond
		timeout  = 100 * time.Millisecond
		backoff  = 500 * time.Millisecond
		window   = 1500 * time.Millisecond
	)
	fl := &fakeLink{reply: func(ctx context.Context, unit uint8, to time.Duration, r *Request) ([]byte, error) {
		if unit == 2 {
			return nil, timeoutAfter(ctx, to)
		}
		return registers(unit, r), nil
	}}
	var devs []source.Device
	for u := uint8(1); u <= 3; u++ {
		devs = append(devs, source.Device{Name: fmt.Sprintf("slave%d", u), Profile: twoRegisterProfile(),
			Address: "rtu:///dev/ttyFAKE0", Unit: u, Interval: interval, Timeout: timeout})
	}
	s, err := newSource(Config{Devices: devs, BackoffBase: backoff, BackoffMax: backoff},
		func(string, *source.SerialLine) link { return fl })
	if err != nil {
		t.Fatal(err)
	}
	if len(s.buses) != 1 {
		t.Fatalf("%d buses for one RTU line, want 1", len(s.buses))
	}
	var c collector
	runFor(t, s, window, c.emit)

	// Without backoff each round would cost a 100ms timeout: at most
	// 15 polls per healthy slave. With it they get close to 75.
	want := int(window / interval)
	for _, u := range []uint8{1, 3} {
		if got := fl.count(u); got < want/2 {
			t.Errorf("slave%d polled %d times in %s, want at least %d (of %d): slowed by the dead slave", u, got, window, want/2, want)
		}
	}
	maxDead := int(window/(backoff+timeout)) + 2
	if got := fl.count(2); got < 1 || got > maxDead {
		t.Errorf("dead slave tried %d times in %s, want 1 to %d (once per backoff period)", got, window, maxDead)
	}
	var bad int
	for _, r := range c.snapshot() {
		if r.Device != "slave2" {
			if !r.Quality.Good() {
				t.Fatalf("healthy device reading %+v", r)
			}
			continue
		}
		bad++
		if r.Quality != wire.QualityBadComm || !strings.Contains(r.Reason, "read holding 0+2 unit 2 on rtu:///dev/ttyFAKE0") ||
			!strings.Contains(r.Reason, "timeout") {
			t.Fatalf("dead slave reading %+v, want bad_comm naming the request, unit and line", r)
		}
	}
	if bad == 0 {
		t.Error("the dead slave emitted no bad readings")
	}
}

// A device that fails and recovers is logged once each way, counted in
// the metrics, and its readings say why.
func TestFailureLoggedOnceAndRecovers(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	fl := &fakeLink{reply: func(ctx context.Context, unit uint8, to time.Duration, r *Request) ([]byte, error) {
		if failing.Load() {
			return nil, errors.New("connect: dial tcp 127.0.0.1:1: connection refused")
		}
		return registers(unit, r), nil
	}}
	var logs lockedBuffer
	reg := prometheus.NewRegistry()
	metrics := source.NewMetrics(reg)
	s, err := newSource(Config{
		Devices: []source.Device{{Name: "meter", Profile: twoRegisterProfile(), Address: "tcp://127.0.0.1:1502",
			Unit: 1, Interval: 5 * time.Millisecond}},
		Logger:      slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Metrics:     metrics,
		BackoffBase: 5 * time.Millisecond, BackoffMax: 10 * time.Millisecond,
	}, func(string, *source.SerialLine) link { return fl })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var c collector
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx, c.emit) }()
	testenv.Eventually(t, 10*time.Second, "5 failed polls", func() bool { return fl.count(1) >= 5 })
	failing.Store(false)
	testenv.Eventually(t, 10*time.Second, "a good reading", func() bool {
		rs := c.snapshot()
		return len(rs) > 0 && rs[len(rs)-1].Quality.Good()
	})
	cancel()
	<-done

	out := logs.String()
	if n := strings.Count(out, "modbus device failing"); n != 1 {
		t.Errorf("%d failure log lines, want 1:\n%s", n, out)
	}
	if n := strings.Count(out, "modbus device recovered"); n != 1 {
		t.Errorf("%d recovery log lines, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "connection refused") || !strings.Contains(out, "kind=comm") {
		t.Errorf("failure log does not say why:\n%s", out)
	}
	rs := c.snapshot()
	if rs[0].Quality != wire.QualityBadComm || !strings.Contains(rs[0].Reason, "connection refused") || rs[0].Time.IsZero() {
		t.Errorf("first reading %+v, want bad_comm with the reason and a time", rs[0])
	}
	if got := counter(t, metrics.Errors.WithLabelValues("meter", KindComm)); got < 5 {
		t.Errorf("comm errors counted %v, want at least 5", got)
	}
	if got := counter(t, metrics.Readings.WithLabelValues("meter", "good")); got < 2 {
		t.Errorf("good readings counted %v, want at least 2", got)
	}
	if fl.resets < 5 {
		t.Errorf("link reset %d times after comm errors, want at least 5", fl.resets)
	}
}

func counter(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// An exception on one block, or a short reply, spoils only that block's
// points; the device is not put in backoff while other blocks read.
func TestPartialFailures(t *testing.T) {
	p := testProfile(
		pt("ok_a", profile.TableHolding, 0, profile.TypeUint16),
		pt("ok_b", profile.TableHolding, 1, profile.TypeInt16),
		pt("unmapped", profile.TableHolding, 100, profile.TypeFloat32),
		pt("short", profile.TableHolding, 200, profile.TypeUint32),
		pt("coil", profile.TableCoil, 3, profile.TypeBool),
	)
	fl := &fakeLink{reply: func(ctx context.Context, unit uint8, to time.Duration, r *Request) ([]byte, error) {
		switch {
		case r.Table == profile.TableHolding && r.Address == 100:
			return nil, &gmodbus.ModbusError{FunctionCode: 0x83, ExceptionCode: 2}
		case r.Address == 200:
			return []byte{0, 1}, nil
		}
		return registers(unit, r), nil
	}}
	d := newDevice(source.Device{Name: "plc", Profile: p, Address: "tcp://10.0.0.1:502", Unit: 7, Interval: time.Second}, slog.New(slog.DiscardHandler))
	res, o := readAll(context.Background(), fl, d, Plan(d.m, ""), nil, true)
	if o.ok != 2 || o.failed != 2 || o.broken() {
		t.Fatalf("outcome %+v (broken %v), want 2 ok, 2 failed, not broken", o, o.broken())
	}
	want := map[string]struct {
		q      wire.Quality
		v      wire.Value
		reason string
	}{
		"ok_a":     {wire.QualityGood, wire.Int(7000), ""},
		"ok_b":     {wire.QualityGood, wire.Int(7001), ""},
		"coil":     {wire.QualityGood, wire.Bool(true), ""},
		"unmapped": {wire.QualityBadDevice, wire.Value{}, "read holding 100+2 unit 7 on tcp://10.0.0.1:502: modbus exception 2 (illegal data address)"},
		"short":    {wire.QualityBadDecode, wire.Value{}, "read holding 200+2 unit 7 on tcp://10.0.0.1:502: reply has 2 data bytes, expected 4"},
	}
	if len(res) != len(want) {
		t.Fatalf("%d results, want %d", len(res), len(want))
	}
	for _, r := range res {
		w := want[r.Reading.Point]
		if r.Reading.Quality != w.q || r.Reading.Reason != w.reason || r.Reading.Device != "plc" {
			t.Errorf("%s: quality %s reason %q, want %s %q", r.Reading.Point, r.Reading.Quality, r.Reading.Reason, w.q, w.reason)
		}
		if w.q.Good() && r.Reading.Value != w.v {
			t.Errorf("%s = %v, want %v", r.Reading.Point, r.Reading.Value, w.v)
		}
	}
	var re *ReadError
	var ex *ExceptionError
	if !errors.As(o.err, &re) || !errors.As(o.err, &ex) || ex.Code != 2 || re.Kind != KindException {
		t.Errorf("outcome error %v, want a *ReadError of kind exception wrapping *ExceptionError code 2", o.err)
	}
}

// A timeout ends the poll: the device's other blocks are not tried, so a
// dead device costs one timeout, and all its points read bad_comm.
func TestTimeoutEndsPoll(t *testing.T) {
	p := testProfile(pt("a", profile.TableHolding, 0, profile.TypeUint16), pt("b", profile.TableHolding, 50, profile.TypeUint16),
		pt("c", profile.TableInput, 0, profile.TypeUint16))
	fl := &fakeLink{reply: func(ctx context.Context, unit uint8, to time.Duration, r *Request) ([]byte, error) {
		return nil, timeoutAfter(ctx, time.Millisecond)
	}}
	d := newDevice(source.Device{Name: "dead", Profile: p, Address: "tcp://10.0.0.2:502", Unit: 1, Interval: time.Second}, slog.New(slog.DiscardHandler))
	res, o := readAll(context.Background(), fl, d, Plan(d.m, ""), nil, true)
	if fl.count(1) != 1 || !o.broken() || o.err.Kind != KindTimeout {
		t.Fatalf("%d reads, outcome %+v; want 1 read, broken by a timeout", fl.count(1), o)
	}
	if len(res) != 3 {
		t.Fatalf("%d results, want 3", len(res))
	}
	for _, r := range res {
		if r.Reading.Quality != wire.QualityBadComm || r.Raw != nil {
			t.Errorf("%s: %+v, want bad_comm without raw bytes", r.Reading.Point, r.Reading)
		}
	}
}

func TestSlowPointsReadLessOften(t *testing.T) {
	slow := pt("serial", profile.TableHolding, 200, profile.TypeString)
	slow.Length, slow.Poll = 4, profile.PollSlow
	p := testProfile(pt("fast", profile.TableHolding, 0, profile.TypeUint16), slow)
	fl := &fakeLink{reply: func(ctx context.Context, unit uint8, to time.Duration, r *Request) ([]byte, error) {
		if r.Address == 200 {
			return []byte("SN12345\x00"), nil
		}
		return registers(unit, r), nil
	}}
	s, err := newSource(Config{Devices: []source.Device{{Name: "m", Profile: p, Address: "tcp://127.0.0.1:1502",
		Unit: 1, Interval: 10 * time.Millisecond, SlowInterval: 100 * time.Millisecond}}},
		func(string, *source.SerialLine) link { return fl })
	if err != nil {
		t.Fatal(err)
	}
	var c collector
	runFor(t, s, 500*time.Millisecond, c.emit)
	n := map[string]int{}
	for _, r := range c.snapshot() {
		n[r.Point]++
		if r.Point == "serial" && r.Value != wire.String("SN12345") {
			t.Fatalf("serial = %v", r.Value)
		}
	}
	if n["serial"] < 2 || n["fast"] < 4*n["serial"] {
		t.Errorf("fast read %d times, slow %d times; want the slow one about 10x less often", n["fast"], n["serial"])
	}
}

func TestValidate(t *testing.T) {
	good := func() source.Device {
		return source.Device{Name: "d", Profile: twoRegisterProfile(), Address: "tcp://127.0.0.1:502", Unit: 1, Interval: time.Second}
	}
	with := func(f func(*source.Device)) source.Device { d := good(); f(&d); return d }
	cases := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"ok tcp", Config{Devices: []source.Device{good()}}, ""},
		{"ok rtu", Config{Devices: []source.Device{with(func(d *source.Device) { d.Address = "rtu:///dev/ttyUSB0?baud=19200" })}}, ""},
		{"ok gateway with two units", Config{Devices: []source.Device{good(), with(func(d *source.Device) { d.Name, d.Unit = "e", 2 })}}, ""},
		{"no name", Config{Devices: []source.Device{with(func(d *source.Device) { d.Name = "" })}}, "device 0: no name"},
		{"duplicate name", Config{Devices: []source.Device{good(), with(func(d *source.Device) { d.Unit = 2 })}}, `device "d": name used by another device`},
		{"no profile", Config{Devices: []source.Device{with(func(d *source.Device) { d.Profile = nil })}}, "no profile"},
		{"serial profile", Config{Devices: []source.Device{with(func(d *source.Device) {
			d.Profile = &profile.Profile{Kind: profile.KindSerial, File: "x.yaml", Serial: &profile.Serial{}}
		})}}, `profile x.yaml is of kind "serial" (expected modbus)`},
		{"no interval", Config{Devices: []source.Device{with(func(d *source.Device) { d.Interval = 0 })}}, "interval 0s (expected a positive duration)"},
		{"bad scheme", Config{Devices: []source.Device{with(func(d *source.Device) { d.Address = "udp://1.2.3.4:502" })}}, "expected tcp://host:port or rtu:///dev/PATH"},
		{"no port", Config{Devices: []source.Device{with(func(d *source.Device) { d.Address = "tcp://1.2.3.4" })}}, "expected tcp://host:port"},
		{"port range", Config{Devices: []source.Device{with(func(d *source.Device) { d.Address = "tcp://1.2.3.4:70000" })}}, `port "70000" (expected 1 to 65535)`},
		{"rtu broadcast unit", Config{Devices: []source.Device{with(func(d *source.Device) { d.Address, d.Unit = "rtu:///dev/ttyUSB0", 0 })}}, "unit 0 on an RTU line"},
		{"same unit twice", Config{Devices: []source.Device{good(), with(func(d *source.Device) { d.Name = "e"; d.Address = "tcp://127.0.0.1:502" })}}, `unit 1 on tcp://127.0.0.1:502 is already device "d"`},
		{"line settings differ", Config{Devices: []source.Device{
			with(func(d *source.Device) { d.Address = "rtu:///dev/ttyUSB0?baud=9600" }),
			with(func(d *source.Device) { d.Name, d.Unit, d.Address = "e", 2, "rtu:///dev/ttyUSB0?baud=19200" }),
		}}, "differ from"},
		{"backoff order", Config{BackoffBase: time.Minute, BackoffMax: time.Second}, "max 1s below base 1m0s"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, c.wantErr)
			}
		})
	}
}

func TestBusGrouping(t *testing.T) {
	p := twoRegisterProfile()
	devs := []source.Device{
		{Name: "a", Profile: p, Address: "tcp://GW.example:502", Unit: 1, Interval: time.Second},
		{Name: "b", Profile: p, Address: "tcp://gw.example:502", Unit: 2, Interval: time.Second},
		{Name: "c", Profile: p, Address: "tcp://gw.example:503", Unit: 1, Interval: time.Second},
		{Name: "d", Profile: p, Address: "rtu:///dev/ttyUSB0", Unit: 1, Interval: time.Second},
		{Name: "e", Profile: p, Address: "rtu:///dev/ttyUSB0?baud=9600", Unit: 2, Interval: time.Second},
		{Name: "f", Profile: p, Address: "rtu:///dev/ttyUSB1", Unit: 1, Interval: time.Second},
	}
	s, err := New(Config{Devices: devs})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, b := range s.buses {
		got[b.key] = len(b.devs)
	}
	want := map[string]int{"tcp://gw.example:502": 2, "tcp://gw.example:503": 1, "rtu:///dev/ttyUSB0": 2, "rtu:///dev/ttyUSB1": 1}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("buses %v, want %v", got, want)
	}
}
