package modbus

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tarm/serial"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// Values set in the simulator come back exactly through Run, for every
// type and order, from two units behind one Modbus TCP gateway that share
// one connection.
func TestTCPAllTypesThroughGateway(t *testing.T) {
	p := allTypesProfile()
	want := map[uint8]map[string]wire.Value{1: allTypesValues(1), 2: allTypesValues(2)}
	addr, ln := serveTCP(t, newUnit(t, p, 1, want[1]), newUnit(t, p, 2, want[2]))
	var devs []source.Device
	for _, u := range []uint8{1, 2} {
		devs = append(devs, source.Device{Name: fmt.Sprintf("meter%d", u), Profile: p, Address: addr, Unit: u,
			Interval: 50 * time.Millisecond, Timeout: 2 * time.Second})
	}
	s, err := New(Config{Devices: devs})
	if err != nil {
		t.Fatal(err)
	}
	c, stop := running(t, s)
	complete := func() bool {
		rs := c.snapshot()
		return len(latest(rs, "meter1")) == len(p.Modbus.Points) && len(latest(rs, "meter2")) == len(p.Modbus.Points)
	}
	testenv.Eventually(t, 10*time.Second, "every point of both meters read", complete)
	// a few more polls on the same connection
	n := len(c.snapshot())
	testenv.Eventually(t, 10*time.Second, "two more rounds of polls", func() bool { return len(c.snapshot()) > 3*n })
	stop()
	rs := c.snapshot()
	for _, u := range []uint8{1, 2} {
		name := fmt.Sprintf("meter%d", u)
		checkValues(t, p, name, latest(rs, name), want[u])
	}
	if got := ln.count(); got != 1 {
		t.Errorf("%d TCP connections to the gateway, want 1 shared and reused", got)
	}
}

// Three slaves on one RTU line (a socat pty pair; the simulator serves one
// end through tarm/serial, the source polls the other) all read correctly.
func TestRTUThreeSlavesOnOneLine(t *testing.T) {
	p := allTypesProfile()
	want := map[uint8]map[string]wire.Value{}
	var units []*sim.ModbusUnit
	for _, id := range []uint8{1, 7, 247} {
		want[id] = allTypesValues(int(id))
		units = append(units, newUnit(t, p, id, want[id]))
	}
	ourEnd := serveRTU(t, 9600, units...)

	var devs []source.Device
	for _, id := range []uint8{1, 7, 247} {
		devs = append(devs, source.Device{Name: fmt.Sprintf("slave%d", id), Profile: p,
			Address: "rtu://" + ourEnd + "?baud=9600", Unit: id, Interval: 100 * time.Millisecond, Timeout: time.Second})
	}
	s, err := New(Config{Devices: devs})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.buses) != 1 {
		t.Fatalf("%d buses for one line, want 1", len(s.buses))
	}
	c, stop := running(t, s)
	complete := func() bool {
		rs := c.snapshot()
		for _, d := range devs {
			if len(latest(rs, d.Name)) != len(p.Modbus.Points) {
				return false
			}
		}
		return true
	}
	testenv.Eventually(t, 20*time.Second, "every point of the three slaves read", complete)
	stop()
	rs := c.snapshot()
	for _, id := range []uint8{1, 7, 247} {
		name := fmt.Sprintf("slave%d", id)
		checkValues(t, p, name, latest(rs, name), want[id])
	}
	for _, r := range rs {
		if !r.Quality.Good() {
			t.Errorf("bad reading on a healthy line: %+v", r)
		}
	}
}

// Faults on one device: the healthy ones keep their rate, the faulty one
// reports why and comes back after the fault is cleared, whatever the
// fault. Cut connections are reconnected without a bad reading.
func TestFaultInjection(t *testing.T) {
	const interval = 20 * time.Millisecond
	p := &profile.Profile{Model: "counter", Kind: profile.KindModbus, File: "counter.yaml", Category: wire.CategoryTraffic,
		Modbus: &profile.Modbus{Points: []profile.ModbusPoint{
			{Name: "vehicles", Table: profile.TableHolding, Address: 0, Type: profile.TypeUint32},
			{Name: "speed", Table: profile.TableHolding, Address: 2, Type: profile.TypeUint16, Scaling: profile.Scaling{Scale: 0.1}, Unit: "km/h"},
			{Name: "occupancy", Table: profile.TableInput, Address: 0, Type: profile.TypeUint16},
		}}}
	vals := map[string]wire.Value{"vehicles": wire.Int(1234), "speed": wire.Float(48.5), "occupancy": wire.Int(17)}
	var units []*sim.ModbusUnit
	var lns []*countingListener
	var devs []source.Device
	for i := 0; i < 3; i++ {
		u := newUnit(t, p, 1, vals)
		addr, ln := serveTCP(t, u)
		units, lns = append(units, u), append(lns, ln)
		devs = append(devs, source.Device{Name: fmt.Sprintf("counter%d", i), Profile: p, Address: addr, Unit: 1,
			Interval: interval, Timeout: 300 * time.Millisecond})
	}
	dead := units[2]
	dead.SetFault(sim.FaultTimeout)
	s, err := New(Config{Devices: devs, BackoffBase: 100 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c, stop := running(t, s)
	defer stop()

	// Phase 1: counter2 does not answer. Count the others' polls over a
	// window: on their own buses they must keep their interval, not the
	// dead device's 300ms timeout cadence.
	start, window := time.Now(), 1500*time.Millisecond
	time.Sleep(window)
	polls := map[string]int{}
	for _, r := range c.snapshot() {
		if r.Point == "vehicles" && r.Time.After(start) && r.Time.Before(start.Add(window)) && r.Quality.Good() {
			polls[r.Device]++
		}
	}
	expected := int(window / interval)
	for _, d := range []string{"counter0", "counter1"} {
		if polls[d] < expected*4/10 {
			t.Errorf("%s: %d good polls in %s, want about %d (at least %d)", d, polls[d], window, expected, expected*4/10)
		}
	}
	if polls["counter2"] != 0 {
		t.Errorf("dead counter2 gave %d good readings", polls["counter2"])
	}
	mark := len(c.snapshot())
	expect := func(what string, pred func(wire.Reading) bool) {
		t.Helper()
		testenv.Eventually(t, 10*time.Second, "counter2: a "+what, func() bool {
			rs := c.snapshot()
			for i := mark; i < len(rs); i++ {
				if rs[i].Device == "counter2" && pred(rs[i]) {
					mark = i + 1
					return true
				}
			}
			return false
		})
	}
	expect("bad_comm timeout reading", func(r wire.Reading) bool {
		return r.Quality == wire.QualityBadComm && strings.Contains(r.Reason, "timeout") &&
			strings.Contains(r.Reason, "unit 1 on "+devs[2].Address)
	})
	good := func(r wire.Reading) bool {
		return r.Quality.Good() && r.Point == "vehicles" && r.Value == wire.Int(1234)
	}
	steps := []struct {
		fault sim.Fault
		what  string
		bad   func(wire.Reading) bool
	}{
		{sim.FaultException, "bad_device reading with exception 4", func(r wire.Reading) bool {
			return r.Quality == wire.QualityBadDevice && strings.Contains(r.Reason, "modbus exception 4 (server device failure)")
		}},
		{sim.FaultDrop, "bad_comm reading for a dropped connection", func(r wire.Reading) bool { return r.Quality == wire.QualityBadComm }},
		{sim.FaultGarbage, "bad_comm reading for a garbage reply", func(r wire.Reading) bool { return r.Quality == wire.QualityBadComm }},
	}
	for _, st := range steps {
		dead.SetFault(sim.FaultNone)
		expect("good reading after recovery", good)
		dead.SetFault(st.fault)
		expect(st.what, st.bad)
	}
	dead.SetFault(sim.FaultNone)
	expect("good reading after the last fault", good)

	// Cut every connection under healthy devices: the next request finds
	// its connection closed, reconnects and reads, with no bad reading.
	before := lns[0].count()
	cutMark := len(c.snapshot())
	lns[0].cut()
	testenv.Eventually(t, 10*time.Second, "counter0 reconnecting after its connection was cut", func() bool { return lns[0].count() > before })
	testenv.Eventually(t, 10*time.Second, "a reading of counter0 after the cut", func() bool { return len(latestAfter(c.snapshot(), cutMark, "counter0")) > 0 })
	stop()
	rs := c.snapshot()
	for _, r := range rs[cutMark:] {
		if r.Device == "counter0" && !r.Quality.Good() {
			t.Errorf("bad reading after a cut connection: %+v", r)
		}
	}
	if len(latestAfter(rs, cutMark, "counter0")) == 0 {
		t.Error("no good reading of counter0 after the cut")
	}
}

// latestAfter returns the good readings of device from index i on.
func latestAfter(rs []wire.Reading, i int, device string) []wire.Reading {
	var out []wire.Reading
	for _, r := range rs[i:] {
		if r.Device == device && r.Quality.Good() {
			out = append(out, r)
		}
	}
	return out
}

// Probe reads fast and slow points once and returns the raw bytes as they
// came off the wire.
func TestProbe(t *testing.T) {
	p := allTypesProfile()
	vals := allTypesValues(3)
	addr, _ := serveTCP(t, newUnit(t, p, 5, vals))
	dev := source.Device{Name: "probe", Profile: p, Address: addr, Unit: 5, Timeout: 2 * time.Second}
	res, err := Probe(context.Background(), dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]wire.Reading{}
	raw := map[string][]byte{}
	for _, r := range res {
		got[r.Reading.Point] = r.Reading
		raw[r.Reading.Point] = r.Raw
	}
	checkValues(t, p, "probe", got, vals)
	// Known wire images of values set above (k=3, order index i: n=i+30).
	rawWant := map[string][]byte{
		"int16":        {0xFB, 0x2B},             // -1237
		"uint32_CDAB":  {0x28, 0x1F, 0xEE, 0x6B}, // 4000000031 = 0xEE6B281F, low word first
		"label":        []byte("unit-3\x00\x00\x00\x00"),
		"coil_b":       {1},
		"input_a":      {1},
		"float32_ABCD": {0xC3, 0x73, 0x26, 0x66}, // -243.15 as float32
	}
	for name, w := range rawWant {
		if string(raw[name]) != string(w) {
			t.Errorf("raw %s = % X, want % X", name, raw[name], w)
		}
	}

	// A device that is not there: an error naming it, and bad readings.
	dev.Address = "tcp://127.0.0.1:1"
	res, err = Probe(context.Background(), dev, nil)
	if err == nil || !strings.Contains(err.Error(), "probe probe") || len(res) != len(p.Modbus.Points) {
		t.Fatalf("probe of a missing device: %d results, err %v", len(res), err)
	}
	if res[0].Reading.Quality != wire.QualityBadComm {
		t.Errorf("reading %+v, want bad_comm", res[0].Reading)
	}
}

// On a real RTU line, a silent slave is skipped while in backoff so the
// others keep their rate, and a slave answering garbage does not corrupt
// the answers of the next ones (the line is drained after a bad frame).
func TestRTUFaultySlave(t *testing.T) {
	const (
		interval = 50 * time.Millisecond
		timeout  = 500 * time.Millisecond
		backoff  = 2 * time.Second
	)
	simEnd, ourEnd := testenv.PtyPair(t)
	port, err := serial.OpenPort(&serial.Config{Name: simEnd, Baud: 9600, ReadTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("open %s: %v", simEnd, err)
	}
	t.Cleanup(func() { port.Close() })
	p := &profile.Profile{Model: "counter", Kind: profile.KindModbus, File: "counter.yaml", Category: wire.CategoryTraffic,
		Modbus: &profile.Modbus{Points: []profile.ModbusPoint{
			{Name: "vehicles", Table: profile.TableHolding, Address: 0, Type: profile.TypeUint32},
			{Name: "occupancy", Table: profile.TableInput, Address: 0, Type: profile.TypeUint16},
		}}}
	units := map[uint8]*sim.ModbusUnit{}
	var list []*sim.ModbusUnit
	var devs []source.Device
	for _, id := range []uint8{1, 2, 3} {
		units[id] = newUnit(t, p, id, map[string]wire.Value{"vehicles": wire.Int(100 * int64(id)), "occupancy": wire.Int(int64(id))})
		list = append(list, units[id])
		devs = append(devs, source.Device{Name: fmt.Sprintf("slave%d", id), Profile: p, Address: "rtu://" + ourEnd,
			Unit: id, Interval: interval, Timeout: timeout})
	}
	srv := sim.NewModbusServer(slog.New(slog.DiscardHandler), list...)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeRTU(ctx, port) }()
	t.Cleanup(func() { cancel(); <-served })

	units[2].SetFault(sim.FaultTimeout)
	s, err := New(Config{Devices: devs, BackoffBase: backoff, BackoffMax: backoff})
	if err != nil {
		t.Fatal(err)
	}
	c, stop := running(t, s)
	// Without backoff every round would wait out the dead slave's timeout:
	// at most window/timeout = 6 polls per healthy slave. With it, the dead
	// slave costs one timeout per backoff period, and the healthy ones are
	// polled every round of the line (interval-bound, or line-bound on a
	// loaded machine): well over twice that.
	start, window := time.Now(), 3*time.Second
	time.Sleep(window)
	polls := map[string]int{}
	for _, r := range c.snapshot() {
		if r.Point == "vehicles" && r.Time.Before(start.Add(window)) && r.Quality.Good() {
			polls[r.Device]++
		}
	}
	noBackoff := int(window / timeout)
	for _, d := range []string{"slave1", "slave3"} {
		if polls[d] <= 2*noBackoff {
			t.Errorf("%s: %d good polls in %s next to a dead slave, want more than %d (without backoff at most %d)", d, polls[d], window, 2*noBackoff, noBackoff)
		}
	}
	if n := units[2].Requests(); n < 1 || n > int64(window/backoff)+2 {
		t.Errorf("dead slave got %d requests in %s, want about one per backoff period", n, window)
	}

	units[2].SetFault(sim.FaultGarbage)
	mark := len(c.snapshot())
	testenv.Eventually(t, 10*time.Second, "a bad_comm reading from the garbage-answering slave", func() bool {
		rs := c.snapshot()
		for _, r := range rs[mark:] {
			if r.Device == "slave2" && r.Quality == wire.QualityBadComm && r.Time.After(start.Add(window)) {
				return true
			}
		}
		return false
	})
	// Several garbage replies, one per backoff period.
	time.Sleep(time.Second)
	units[2].SetFault(sim.FaultNone)
	testenv.Eventually(t, 10*time.Second, "slave2 recovering after its fault was cleared", func() bool { return len(latestAfter(c.snapshot(), mark, "slave2")) > 0 })
	stop()
	for _, r := range c.snapshot()[mark:] {
		if r.Device == "slave2" {
			if r.Quality.Good() && r.Value != wire.Int(200) && r.Value != wire.Int(2) {
				t.Errorf("slave2 read %v", r.Value)
			}
			continue
		}
		if !r.Quality.Good() {
			t.Errorf("healthy slave spoiled by its neighbour's garbage: %+v", r)
		}
		want := map[string]wire.Value{"slave1vehicles": wire.Int(100), "slave1occupancy": wire.Int(1), "slave3vehicles": wire.Int(300), "slave3occupancy": wire.Int(3)}
		if w := want[r.Device+r.Point]; r.Quality.Good() && r.Value != w {
			t.Errorf("%s.%s = %v, want %v", r.Device, r.Point, r.Value, w)
		}
	}
}
