package modbus

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/internal/yamlconf"
	"github.com/ponte-city/ponte/wire"
)

// writableProfile is allTypesProfile with write blocks on a few points of
// different types, orders and scalings, so the simulator accepts writes
// to them (and refuses writes to the others, as a device would).
func writableProfile() *profile.Profile {
	p := allTypesProfile()
	lo, hi := -1e12, 1e12
	for i := range p.Modbus.Points {
		switch pt := &p.Modbus.Points[i]; pt.Name {
		case "int32_CDAB", "float32_DCBA", "float64_BADC", "uint16", "temp", "coil_b":
			pt.Write = &profile.Write{Min: &lo, Max: &hi}
		}
	}
	return p
}

// writes is what TestWrite* write and read back: point -> value.
var writes = []struct {
	point string
	value float64
}{
	{"int32_CDAB", -70000},
	{"float32_DCBA", -12.5},
	{"float64_BADC", 1234.5678},
	{"uint16", 4242},
	{"temp", 25.37}, // int32 CDAB, scale 0.01, offset -100
	{"coil_b", 1},
	{"coil_b", 0},
}

// writeAll writes every entry of writes to device through s (running) and
// checks each read-back, then the simulator's count of writes.
func writeAll(t *testing.T, s *Source, device string, u *sim.ModbusUnit) {
	t.Helper()
	for _, w := range writes {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		rules := &profile.Write{}
		got, err := s.WritePoint(ctx, source.WriteRequest{Device: device, Point: w.point, Value: w.value, Rules: rules})
		cancel()
		if err != nil {
			t.Fatalf("write %s.%s = %v: %v", device, w.point, w.value, err)
		}
		if !rules.Applied(w.value, got) {
			t.Errorf("write %s.%s = %v: read back %v", device, w.point, w.value, got)
		}
	}
	want := map[string]int64{"int32_CDAB": 1, "float32_DCBA": 1, "float64_BADC": 1, "uint16": 1, "temp": 1, "coil_b": 2}
	if got := u.Writes(); !maps.Equal(got, want) {
		t.Errorf("simulator counted writes %v, want %v", got, want)
	}
}

// Over Modbus TCP, while two units behind one gateway are polled on one
// connection: every write reads back what was written (FC 06, 16 and 05),
// each reaches the simulator once, the polls go on and then read the
// written values; a device the source does not poll is ErrUnknownDevice,
// and a register the device refuses to write is an error naming it.
func TestWriteTCP(t *testing.T) {
	p := writableProfile()
	u1, u2 := newUnit(t, p, 1, nil), newUnit(t, p, 2, nil)
	addr, ln := serveTCP(t, u1, u2)
	var devs []source.Device
	for _, id := range []uint8{1, 2} {
		devs = append(devs, source.Device{Name: []string{"", "m1", "m2"}[id], Profile: p, Address: addr, Unit: id,
			Interval: 50 * time.Millisecond, Timeout: 2 * time.Second})
	}
	s, err := New(Config{Devices: devs})
	if err != nil {
		t.Fatal(err)
	}
	c, stop := running(t, s)
	writeAll(t, s, "m2", u2)
	if got := u1.Writes(); len(got) != 0 {
		t.Errorf("unit 1 was written: %v", got)
	}
	n := len(c.snapshot())
	testenv.Eventually(t, 10*time.Second, "a poll of m2 after the writes", func() bool {
		return len(latest(c.snapshot()[n:], "m2")) > 0
	})
	if r := latest(c.snapshot()[n:], "m2")["uint16"]; r.Value.I != 4242 {
		t.Errorf("polled uint16 after the write: %+v, want 4242", r)
	}

	ctx := context.Background()
	_, err = s.WritePoint(ctx, source.WriteRequest{Device: "nobody", Point: "uint16", Value: 1, Rules: &profile.Write{}})
	if !errors.Is(err, source.ErrUnknownDevice) {
		t.Errorf("unknown device: %v, want ErrUnknownDevice", err)
	}
	_, err = s.WritePoint(ctx, source.WriteRequest{Device: "m1", Point: "int16", Value: 1, Rules: &profile.Write{}})
	if err == nil || !strings.Contains(err.Error(), "write holding 100+1 to m1 unit 1") || !strings.Contains(err.Error(), "illegal data address") {
		t.Errorf("write refused by the device: %v", err)
	}
	_, err = s.WritePoint(ctx, source.WriteRequest{Device: "m1", Point: "uint16", Value: 70000, Rules: &profile.Write{}})
	if err == nil || !strings.Contains(err.Error(), "does not fit uint16") {
		t.Errorf("value beyond the type: %v", err)
	}
	// Expired before the bus sent it (review 16, item 1): never sent.
	before := u2.Writes()["uint16"]
	_, err = s.WritePoint(ctx, source.WriteRequest{Device: "m2", Point: "uint16", Value: 7, Rules: &profile.Write{}, Expires: time.Now().Add(-time.Second)})
	if !errors.Is(err, source.ErrExpired) {
		t.Errorf("expired write: %v, want ErrExpired", err)
	}
	if got := u2.Writes()["uint16"]; got != before {
		t.Errorf("an expired write reached the device: %d writes of uint16, %d before", got, before)
	}
	stop()
	if got := ln.count(); got != 1 {
		t.Errorf("%d connections, want the polls' one shared with the writes", got)
	}
	// Not running: the write waits for ctx, and is never made.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := s.WritePoint(ctx, source.WriteRequest{Device: "m1", Point: "uint16", Value: 5, Rules: &profile.Write{}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("write while not running: %v", err)
	}
	if got := u1.Writes(); len(got) != 0 {
		t.Errorf("unit 1 written while the source was stopped: %v", got)
	}
}

// On an RTU line shared by three slaves polled continuously, writes to
// one slave are serialized with the polls (no reply taken for another's)
// and read back; the settle time and a read-back point of the rules are
// honoured.
func TestWriteRTU(t *testing.T) {
	p := writableProfile()
	units := map[uint8]*sim.ModbusUnit{}
	var list []*sim.ModbusUnit
	for _, id := range []uint8{1, 7, 247} {
		units[id] = newUnit(t, p, id, nil)
		list = append(list, units[id])
	}
	ourEnd := serveRTU(t, 19200, list...)
	var devs []source.Device
	for _, id := range []uint8{1, 7, 247} {
		devs = append(devs, source.Device{Name: map[uint8]string{1: "s1", 7: "s7", 247: "s247"}[id], Profile: p,
			Address: "rtu://" + ourEnd + "?baud=19200", Unit: id, Interval: 100 * time.Millisecond, Timeout: time.Second})
	}
	s, err := New(Config{Devices: devs})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := running(t, s)
	testenv.Eventually(t, 20*time.Second, "first polls of every slave", func() bool {
		rs := c.snapshot()
		return len(latest(rs, "s1")) > 0 && len(latest(rs, "s7")) > 0 && len(latest(rs, "s247")) > 0
	})
	writeAll(t, s, "s7", units[7])
	for _, id := range []uint8{1, 247} {
		if got := units[id].Writes(); len(got) != 0 {
			t.Errorf("unit %d was written: %v", id, got)
		}
	}
	// A read-back point other than the written one, after a settle time.
	rules := &profile.Write{Readback: "int16", Settle: yamlconf.Duration(200 * time.Millisecond)}
	if err := units[7].SetValue("int16", wire.Int(-5)); err != nil {
		t.Fatal(err)
	}
	got, err := s.WritePoint(context.Background(), source.WriteRequest{Device: "s7", Point: "uint16", Value: 9, Rules: rules})
	if err != nil || got != -5 {
		t.Errorf("write with read-back point int16: %v, %v; want -5", got, err)
	}
	for _, r := range c.snapshot() {
		if !r.Quality.Good() {
			t.Fatalf("bad reading while writing on the line: %+v", r)
		}
	}
}
