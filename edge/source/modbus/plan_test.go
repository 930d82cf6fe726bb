package modbus

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
)

// pt is shorthand for a point in planner tests.
func pt(name string, table profile.Table, addr uint16, typ profile.Type) profile.ModbusPoint {
	return profile.ModbusPoint{Name: name, Table: table, Address: addr, Type: typ}
}

// meterPoints is an SDM630-like map: float32 values in two blocks of input
// registers, one slow string in holding registers and two alarm coils.
func meterPoints() []profile.ModbusPoint {
	ps := []profile.ModbusPoint{
		pt("v1", profile.TableInput, 0, profile.TypeFloat32),
		pt("v2", profile.TableInput, 2, profile.TypeFloat32),
		pt("v3", profile.TableInput, 4, profile.TypeFloat32),
		pt("i1", profile.TableInput, 6, profile.TypeFloat32),
		// gap of 6 registers (8..13)
		pt("p_total", profile.TableInput, 14, profile.TypeFloat32),
		// far away
		pt("energy", profile.TableInput, 342, profile.TypeFloat64),
		pt("alarm_a", profile.TableCoil, 0, profile.TypeBool),
		pt("alarm_b", profile.TableCoil, 1, profile.TypeBool),
		pt("alarm_c", profile.TableCoil, 5, profile.TypeBool),
	}
	serial := pt("serial_no", profile.TableHolding, 64512, profile.TypeString)
	serial.Length, serial.Poll = 8, profile.PollSlow
	return append(ps, serial)
}

func TestPlanCounts(t *testing.T) {
	// 200 adjacent uint16 registers: more than one read can carry.
	var wide []profile.ModbusPoint
	for i := 0; i < 200; i++ {
		wide = append(wide, pt(fmt.Sprintf("r%d", i), profile.TableHolding, uint16(i), profile.TypeUint16))
	}
	// 3000 adjacent discrete inputs.
	var bits []profile.ModbusPoint
	for i := 0; i < 3000; i++ {
		bits = append(bits, pt(fmt.Sprintf("b%d", i), profile.TableDiscrete, uint16(i), profile.TypeBool))
	}
	// status bits and a bitfield overlapping one register, then a uint16.
	overlap := []profile.ModbusPoint{
		{Name: "run", Table: profile.TableHolding, Address: 10, Type: profile.TypeBool, Bit: 0},
		{Name: "fault", Table: profile.TableHolding, Address: 10, Type: profile.TypeBool, Bit: 1},
		{Name: "mode", Table: profile.TableHolding, Address: 10, Type: profile.TypeBitfield, Bit: 4, Bits: 3},
		pt("speed", profile.TableHolding, 11, profile.TypeUint16),
	}
	cases := []struct {
		name   string
		m      profile.Modbus
		class  profile.PollClass
		want   int
		blocks string // the requests, as Request.String joined by ", "
	}{
		{"meter fast adjacent only", profile.Modbus{Points: meterPoints()}, profile.PollFast, 5,
			"coil 0+2, coil 5+1, input 0+8, input 14+2, input 342+4"},
		{"meter slow", profile.Modbus{Points: meterPoints()}, profile.PollSlow, 1, "holding 64512+8"},
		{"meter everything", profile.Modbus{Points: meterPoints()}, "", 6,
			"coil 0+2, coil 5+1, input 0+8, input 14+2, input 342+4, holding 64512+8"},
		{"meter gap 6 joins p_total", profile.Modbus{MaxGap: 6, Points: meterPoints()}, profile.PollFast, 3,
			"coil 0+6, input 0+16, input 342+4"},
		{"meter gap 3 does not", profile.Modbus{MaxGap: 3, Points: meterPoints()}, profile.PollFast, 4,
			"coil 0+6, input 0+8, input 14+2, input 342+4"},
		{"meter max 6 registers", profile.Modbus{MaxRegisters: 6, Points: meterPoints()}, profile.PollFast, 6,
			"coil 0+2, coil 5+1, input 0+6, input 6+2, input 14+2, input 342+4"},
		{"meter max 5 registers never splits a float", profile.Modbus{MaxRegisters: 5, Points: meterPoints()}, profile.PollFast, 6,
			"coil 0+2, coil 5+1, input 0+4, input 4+4, input 14+2, input 342+4"},
		{"meter one request per point", profile.Modbus{OneRequestPerPoint: true, MaxGap: 100, Points: meterPoints()}, profile.PollFast, 9,
			"coil 0+1, coil 1+1, coil 5+1, input 0+2, input 2+2, input 4+2, input 6+2, input 14+2, input 342+4"},
		{"200 registers default limit", profile.Modbus{Points: wide}, "", 2, "holding 0+125, holding 125+75"},
		{"200 registers limit above protocol is capped", profile.Modbus{MaxRegisters: 500, Points: wide}, "", 2, "holding 0+125, holding 125+75"},
		{"200 registers limit 50", profile.Modbus{MaxRegisters: 50, Points: wide}, "", 4, ""},
		{"3000 bits default", profile.Modbus{Points: bits}, "", 2, "discrete 0+2000, discrete 2000+1000"},
		{"3000 bits max 1000", profile.Modbus{MaxBits: 1000, Points: bits}, "", 3, ""},
		{"overlapping points share a read", profile.Modbus{Points: overlap}, "", 1, "holding 10+2"},
		{"overlap one per point", profile.Modbus{OneRequestPerPoint: true, Points: overlap}, "", 4, ""},
		{"no points", profile.Modbus{}, profile.PollFast, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reqs := Plan(&c.m, c.class)
			if len(reqs) != c.want {
				t.Fatalf("%d requests (%s), want %d", len(reqs), joinRequests(reqs), c.want)
			}
			if c.blocks != "" && joinRequests(reqs) != c.blocks {
				t.Fatalf("requests %s, want %s", joinRequests(reqs), c.blocks)
			}
			checkPlan(t, &c.m, c.class, reqs)
		})
	}
}

// checkPlan verifies the invariants of any plan: every point of the class
// is in exactly one request, wholly inside it, and no request exceeds the
// device's limit unless it holds a single point.
func checkPlan(t *testing.T, m *profile.Modbus, class profile.PollClass, reqs []Request) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range reqs {
		if lim := limitFor(m, r.Table); r.Count > lim && len(r.Slots) > 1 {
			t.Errorf("%s exceeds the limit %d", r.String(), lim)
		}
		for _, s := range r.Slots {
			seen[s.Point.Name]++
			if s.Point.Table != r.Table || int(s.Point.Address) != int(r.Address)+s.Offset {
				t.Errorf("%s: point %s at %s %d placed at offset %d", r.String(), s.Point.Name, s.Point.Table, s.Point.Address, s.Offset)
			}
			if s.Offset < 0 || s.Offset+s.Point.Registers() > r.Count {
				t.Errorf("%s: point %s (offset %d, %d registers) spans past the request", r.String(), s.Point.Name, s.Offset, s.Point.Registers())
			}
		}
	}
	for i := range m.Points {
		p := &m.Points[i]
		if class != "" && pollClass(p) != class {
			continue
		}
		if seen[p.Name] != 1 {
			t.Errorf("point %s is in %d requests, want 1", p.Name, seen[p.Name])
		}
	}
}

func joinRequests(reqs []Request) string {
	var s []string
	for i := range reqs {
		s = append(s, reqs[i].String())
	}
	return strings.Join(s, ", ")
}

func TestRequestRaw(t *testing.T) {
	cases := []struct {
		name string
		r    Request
		data []byte
		slot Slot
		want []byte
		ok   bool
	}{
		{"register offset 1", Request{Table: profile.TableHolding, Count: 3}, []byte{1, 2, 3, 4, 5, 6},
			Slot{Point: &profile.ModbusPoint{Table: profile.TableHolding, Type: profile.TypeUint16}, Offset: 1}, []byte{3, 4}, true},
		{"register short reply", Request{Table: profile.TableHolding, Count: 3}, []byte{1, 2, 3, 4},
			Slot{Point: &profile.ModbusPoint{Table: profile.TableHolding, Type: profile.TypeUint32}, Offset: 1}, nil, false},
		// 0b1010_0101: bits 0, 2, 5, 7 set; second byte 0b0000_0010: bit 9 set
		{"bit 5", Request{Table: profile.TableCoil, Count: 10}, []byte{0xA5, 0x02},
			Slot{Point: &profile.ModbusPoint{Table: profile.TableCoil, Type: profile.TypeBool}, Offset: 5}, []byte{1}, true},
		{"bit 6", Request{Table: profile.TableCoil, Count: 10}, []byte{0xA5, 0x02},
			Slot{Point: &profile.ModbusPoint{Table: profile.TableCoil, Type: profile.TypeBool}, Offset: 6}, []byte{0}, true},
		{"bit 9", Request{Table: profile.TableDiscrete, Count: 10}, []byte{0xA5, 0x02},
			Slot{Point: &profile.ModbusPoint{Table: profile.TableDiscrete, Type: profile.TypeBool}, Offset: 9}, []byte{1}, true},
		{"bit past reply", Request{Table: profile.TableDiscrete, Count: 10}, []byte{0xA5},
			Slot{Point: &profile.ModbusPoint{Table: profile.TableDiscrete, Type: profile.TypeBool}, Offset: 9}, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := c.r.Raw(c.data, c.slot)
			if ok != c.ok || string(got) != string(c.want) {
				t.Fatalf("Raw = % X, %v; want % X, %v", got, ok, c.want, c.ok)
			}
		})
	}
}

func BenchmarkPlan(b *testing.B) {
	// A large device: 400 mixed points over three tables with holes.
	var m profile.Modbus
	types := []profile.Type{profile.TypeFloat32, profile.TypeUint16, profile.TypeInt32, profile.TypeFloat64, profile.TypeInt16}
	addr := uint16(0)
	for i := 0; i < 400; i++ {
		typ := types[i%len(types)]
		table := profile.TableInput
		if i%3 == 0 {
			table = profile.TableHolding
		}
		m.Points = append(m.Points, pt(fmt.Sprintf("p%d", i), table, addr, typ))
		addr += uint16(typ.Registers(0))
		if i%17 == 0 {
			addr += 3
		}
	}
	m.MaxGap = 2
	var reqs []Request
	b.ReportAllocs()
	for b.Loop() {
		reqs = Plan(&m, "")
	}
	b.ReportMetric(float64(len(m.Points))*float64(b.N)/b.Elapsed().Seconds(), "points/s")
	b.ReportMetric(float64(len(reqs))/float64(len(m.Points)), "requests/point")
	b.Logf("%d points -> %d requests (%.3f requests per point)", len(m.Points), len(reqs), float64(len(reqs))/float64(len(m.Points)))
}

// TestPlansShared checks that devices of one profile poll with one plan,
// and that a device of another profile keeps its own.
func TestPlansShared(t *testing.T) {
	p, other := float32Profile(10), float32Profile(20)
	var devs []source.Device
	for i, pr := range []*profile.Profile{p, p, other} {
		devs = append(devs, source.Device{Name: fmt.Sprintf("d%d", i), Profile: pr, Address: "tcp://10.0.0.1:502", Unit: uint8(i + 1), Interval: time.Second})
	}
	s, err := New(Config{Devices: devs})
	if err != nil {
		t.Fatal(err)
	}
	ds := s.buses[0].devs
	first := func(d *device) *Request { return &d.jobs[0].reqs[0] }
	if first(ds[0]) != first(ds[1]) {
		t.Error("two devices of one profile plan separately")
	}
	if first(ds[0]) == first(ds[2]) || len(ds[2].jobs[0].reqs[0].Slots) != 20 {
		t.Error("a device of another profile got the first profile's plan")
	}
}
