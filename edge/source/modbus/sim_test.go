package modbus

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tarm/serial"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// Helpers shared by the integration tests and benchmarks that run against
// the simulator (edge/sim) over real Modbus framing.

var testOrders = []profile.Order{profile.OrderABCD, profile.OrderCDAB, profile.OrderBADC, profile.OrderDCBA}

// allTypesProfile has every register type in every byte/word order, plus
// 16-bit values, a string, register bits, scaled values and bit tables.
func allTypesProfile() *profile.Profile {
	var ps []profile.ModbusPoint
	wide := []profile.Type{profile.TypeInt32, profile.TypeUint32, profile.TypeFloat32, profile.TypeInt64, profile.TypeUint64, profile.TypeFloat64}
	for i, o := range testOrders {
		addr := uint16(20 * i)
		for _, typ := range wide {
			ps = append(ps, profile.ModbusPoint{Name: fmt.Sprintf("%s_%s", typ, o), Table: profile.TableHolding,
				Address: addr, Type: typ, Order: o})
			addr += uint16(typ.Registers(0))
		}
	}
	ps = append(ps,
		profile.ModbusPoint{Name: "int16", Table: profile.TableHolding, Address: 100, Type: profile.TypeInt16},
		profile.ModbusPoint{Name: "uint16", Table: profile.TableHolding, Address: 101, Type: profile.TypeUint16},
		profile.ModbusPoint{Name: "label", Table: profile.TableHolding, Address: 102, Type: profile.TypeString, Length: 5, Poll: profile.PollSlow},
		profile.ModbusPoint{Name: "running", Table: profile.TableHolding, Address: 107, Type: profile.TypeBool, Bit: 3},
		profile.ModbusPoint{Name: "mode", Table: profile.TableHolding, Address: 107, Type: profile.TypeBitfield, Bit: 8, Bits: 4},
		profile.ModbusPoint{Name: "voltage", Table: profile.TableHolding, Address: 108, Type: profile.TypeUint16, Scaling: profile.Scaling{Scale: 0.1}, Unit: "V"},
		profile.ModbusPoint{Name: "temp", Table: profile.TableHolding, Address: 109, Type: profile.TypeInt32, Order: profile.OrderCDAB,
			Scaling: profile.Scaling{Scale: 0.01, Offset: -100}, Unit: "Cel"},
		profile.ModbusPoint{Name: "coil_a", Table: profile.TableCoil, Address: 0, Type: profile.TypeBool},
		profile.ModbusPoint{Name: "coil_b", Table: profile.TableCoil, Address: 1, Type: profile.TypeBool},
		profile.ModbusPoint{Name: "input_a", Table: profile.TableDiscrete, Address: 5, Type: profile.TypeBool},
		profile.ModbusPoint{Name: "input_b", Table: profile.TableDiscrete, Address: 6, Type: profile.TypeBool},
		profile.ModbusPoint{Name: "flow", Table: profile.TableInput, Address: 0, Type: profile.TypeFloat32, Unit: "m3/h"},
		profile.ModbusPoint{Name: "count", Table: profile.TableInput, Address: 2, Type: profile.TypeUint16},
	)
	return &profile.Profile{Model: "all types", Manufacturer: "ponte", Category: wire.CategoryEnergy,
		Kind: profile.KindModbus, File: "all-types.yaml", Modbus: &profile.Modbus{Points: ps}}
}

// allTypesValues returns distinct values for every point of
// allTypesProfile; k varies them between units.
func allTypesValues(k int) map[string]wire.Value {
	v := map[string]wire.Value{}
	for i, o := range testOrders {
		n := int64(i + 10*k)
		v[fmt.Sprintf("int32_%s", o)] = wire.Int(-123456789 - n)
		v[fmt.Sprintf("uint32_%s", o)] = wire.Int(4000000000 + n)
		v[fmt.Sprintf("float32_%s", o)] = wire.Float(profile.RoundSignificant(-273.15+float64(n), 7))
		v[fmt.Sprintf("int64_%s", o)] = wire.Int(-9007199254740993 - n) // beyond float64's integers
		v[fmt.Sprintf("uint64_%s", o)] = wire.Int(9000000000000000001 + n)
		v[fmt.Sprintf("float64_%s", o)] = wire.Float(123.456789012345 + float64(n))
	}
	v["int16"] = wire.Int(int64(-1234 - k))
	v["uint16"] = wire.Int(int64(65000 + k))
	v["label"] = wire.String(fmt.Sprintf("unit-%d", k))
	v["running"] = wire.Bool(k%2 == 0)
	v["mode"] = wire.Int(int64((11 + k) % 16))
	v["voltage"] = wire.Float(230.5 + float64(k))
	v["temp"] = wire.Float(21.37 + float64(k))
	v["coil_a"] = wire.Bool(true)
	v["coil_b"] = wire.Bool(k%2 == 1)
	v["input_a"] = wire.Bool(k%2 == 1)
	v["input_b"] = wire.Bool(true)
	v["flow"] = wire.Float(12.75 * float64(k+1))
	v["count"] = wire.Int(int64(42 + k))
	return v
}

// newUnit builds a simulated unit serving p with values pinned.
func newUnit(t testing.TB, p *profile.Profile, id uint8, values map[string]wire.Value) *sim.ModbusUnit {
	t.Helper()
	u, err := sim.NewModbusUnit(p, id, int64(id))
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range values {
		if err := u.SetValue(name, v); err != nil {
			t.Fatalf("unit %d: %v", id, err)
		}
	}
	return u
}

// countingListener counts accepted connections and can cut them all.
type countingListener struct {
	net.Listener
	mu       sync.Mutex
	accepted int
	conns    []net.Conn
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.accepted++
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

func (l *countingListener) count() int { l.mu.Lock(); defer l.mu.Unlock(); return l.accepted }

// cut closes every connection accepted so far, as a reboot of a gateway
// or a NAT timeout would.
func (l *countingListener) cut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.conns {
		_ = c.Close()
	}
	l.conns = nil
}

// serveTCP runs a simulator for units on 127.0.0.1:0 until the test ends
// and returns its tcp:// address.
func serveTCP(t testing.TB, units ...*sim.ModbusUnit) (string, *countingListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv := sim.NewModbusServer(slog.New(slog.DiscardHandler), units...)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeTCP(ctx, cl) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("simulator: %v", err)
		}
	})
	return "tcp://" + ln.Addr().String(), cl
}

// serveRTU runs a simulator for units on one end of a socat pty pair at
// baud until the test ends and returns the other end's path.
func serveRTU(t *testing.T, baud int, units ...*sim.ModbusUnit) string {
	t.Helper()
	simEnd, ourEnd := testenv.PtyPair(t)
	port, err := serial.OpenPort(&serial.Config{Name: simEnd, Baud: baud, ReadTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("open %s: %v", simEnd, err)
	}
	t.Cleanup(func() { port.Close() })
	srv := sim.NewModbusServer(slog.New(slog.DiscardHandler), units...)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeRTU(ctx, port) }()
	t.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("simulator: %v", err)
		}
	})
	return ourEnd
}

// latest returns the most recent reading of every point of device.
func latest(rs []wire.Reading, device string) map[string]wire.Reading {
	out := map[string]wire.Reading{}
	for _, r := range rs {
		if r.Device == device {
			out[r.Point] = r
		}
	}
	return out
}

// checkValues compares readings with the values set in the simulator:
// exactly, except scaled points whose float arithmetic may differ in the
// last bits.
func checkValues(t *testing.T, p *profile.Profile, device string, got map[string]wire.Reading, want map[string]wire.Value) {
	t.Helper()
	for i := range p.Modbus.Points {
		pt := &p.Modbus.Points[i]
		r, ok := got[pt.Name]
		w := want[pt.Name]
		switch {
		case !ok:
			t.Errorf("%s: no reading of %s", device, pt.Name)
		case !r.Quality.Good():
			t.Errorf("%s.%s: %s: %s", device, pt.Name, r.Quality, r.Reason)
		case pt.Scaling.Scaled():
			if r.Value.Kind != wire.KindFloat || math.Abs(r.Value.F-w.F) > 1e-9*math.Abs(w.F) {
				t.Errorf("%s.%s = %v, want %v", device, pt.Name, r.Value, w)
			}
		case r.Value != w:
			t.Errorf("%s.%s = %v (%s), want %v (%s)", device, pt.Name, r.Value, r.Value.Kind, w, w.Kind)
		}
		if ok && (r.Unit != pt.Unit || r.Time.IsZero()) {
			t.Errorf("%s.%s: unit %q time %v, want unit %q and a time", device, pt.Name, r.Unit, r.Time, pt.Unit)
		}
	}
}

// running starts s.Run in the background and returns the collector and a
// stop function that cancels and waits.
func running(t *testing.T, s *Source) (*collector, func()) {
	t.Helper()
	var c collector
	ctx, cancel := context.WithCancel(context.Background())
	var done atomic.Bool
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		if err := s.Run(ctx, c.emit); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	stop := func() {
		if done.CompareAndSwap(false, true) {
			cancel()
			<-finished
		}
	}
	t.Cleanup(stop)
	return &c, stop
}
