package modbus

import (
	"encoding/binary"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/profile"
)

var (
	encodeTypes = []profile.Type{
		profile.TypeInt16, profile.TypeUint16, profile.TypeInt32, profile.TypeUint32,
		profile.TypeInt64, profile.TypeUint64, profile.TypeFloat32, profile.TypeFloat64,
	}
	encodeOrders   = []profile.Order{profile.OrderABCD, profile.OrderCDAB, profile.OrderBADC, profile.OrderDCBA}
	encodeScalings = []profile.Scaling{{}, {Scale: 0.1}, {Scale: 0.01, Offset: -40}, {Scale: 10, Offset: 5}}
)

func regBytes(regs []uint16) []byte {
	b := make([]byte, 2*len(regs))
	for i, r := range regs {
		binary.BigEndian.PutUint16(b[2*i:], r)
	}
	return b
}

// TestEncodeRoundTrip is the property decode(encode(v)) == v for every
// value a device can hold: v is what Decode makes of random registers, for
// every type x order x scaling.
func TestEncodeRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(16))
	for _, typ := range encodeTypes {
		for _, order := range encodeOrders {
			for _, sc := range encodeScalings {
				p := &profile.ModbusPoint{Name: "p", Table: profile.TableHolding, Type: typ, Scaling: sc}
				n := 2 * typ.Registers(0)
				checked := 0
				for i := 0; i < 400; i++ {
					raw := make([]byte, n)
					rng.Read(raw)
					if i%4 == 0 { // small values too, where scaling residue shows
						clear(raw[:n-1])
					}
					v, err := Decode(p, order, raw)
					if err != nil {
						continue // NaN, not-available markers: no value to write
					}
					f, _ := v.AsFloat()
					if math.IsInf(f, 0) {
						continue // scaled beyond float64: not a value to write
					}
					regs, err := profile.EncodeRegisters(p, order, f)
					if err != nil {
						if sc.Scaled() && (typ == profile.TypeInt64 || typ == profile.TypeUint64) {
							continue // beyond 2^53 a scaled value is not exact in a float64
						}
						t.Fatalf("%s %s %+v: encode %v (from % X): %v", typ, order, sc, f, raw, err)
					}
					back, err := Decode(p, order, regBytes(regs))
					if err != nil {
						t.Fatalf("%s %s %+v: decode of encoded %v: %v", typ, order, sc, f, err)
					}
					if b, _ := back.AsFloat(); b != f {
						t.Fatalf("%s %s %+v: wrote %v (from % X), read back %v (% X)", typ, order, sc, f, raw, b, regBytes(regs))
					}
					checked++
				}
				if checked < 100 {
					t.Errorf("%s %s %+v: only %d values checked", typ, order, sc, checked)
				}
			}
		}
	}
}

// The vectors were computed by hand, not with the encoder.
func TestEncodeKnownVectors(t *testing.T) {
	cases := []struct {
		name  string
		p     profile.ModbusPoint
		order profile.Order
		v     float64
		want  []uint16
	}{
		{"line_level 40 %", profile.ModbusPoint{Type: profile.TypeUint16}, "ABCD", 40, []uint16{40}},
		{"int16 -2", profile.ModbusPoint{Type: profile.TypeInt16}, "ABCD", -2, []uint16{0xFFFE}},
		{"scaled 23.4 at 0.1", profile.ModbusPoint{Type: profile.TypeUint16, Scaling: profile.Scaling{Scale: 0.1}}, "ABCD", 23.4, []uint16{234}},
		{"offset -40 scale 0.5", profile.ModbusPoint{Type: profile.TypeInt16, Scaling: profile.Scaling{Scale: 0.5, Offset: -40}}, "ABCD", 21.5, []uint16{123}},
		{"int32 -2 CDAB", profile.ModbusPoint{Type: profile.TypeInt32}, "CDAB", -2, []uint16{0xFFFE, 0xFFFF}},
		{"int32 0x12345678 BADC", profile.ModbusPoint{Type: profile.TypeInt32}, "BADC", 305419896, []uint16{0x3412, 0x7856}},
		{"float32 123.456 DCBA", profile.ModbusPoint{Type: profile.TypeFloat32}, "DCBA", 123.456, []uint16{0x79E9, 0xF642}},
		{"float32 123.456 ABCD", profile.ModbusPoint{Type: profile.TypeFloat32}, "ABCD", 123.456, []uint16{0x42F6, 0xE979}},
		{"uint64 1 GHEFCDAB", profile.ModbusPoint{Type: profile.TypeUint64}, "CDAB", 1, []uint16{1, 0, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.p.Name, c.p.Table = "p", profile.TableHolding
			got, err := profile.EncodeRegisters(&c.p, c.order, c.v)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %04X, want %04X", got, c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("got %04X, want %04X", got, c.want)
				}
			}
		})
	}
}

func TestEncodeRefusals(t *testing.T) {
	cases := []struct {
		name string
		p    profile.ModbusPoint
		v    float64
		want string
	}{
		{"uint16 too big", profile.ModbusPoint{Type: profile.TypeUint16}, 70000, "point p: raw value 70000 does not fit uint16 (0 to 65535)"},
		{"uint16 negative", profile.ModbusPoint{Type: profile.TypeUint16}, -1, "does not fit uint16 (0 to 65535)"},
		{"int16 scaled out of range", profile.ModbusPoint{Type: profile.TypeInt16, Scaling: profile.Scaling{Scale: 0.01}}, 400, "raw value 40000 does not fit int16 (-32768 to 32767)"},
		{"between two steps", profile.ModbusPoint{Type: profile.TypeUint16, Scaling: profile.Scaling{Scale: 0.1}}, 23.46, "value 23.46 cannot be written exactly: the device's resolution is 0.1 (a uint16 register), and it would be rounded to 23.5"},
		{"uint64 above int64", profile.ModbusPoint{Type: profile.TypeUint64}, 1 << 63, "does not fit uint64 (0 to 9223372036854775807)"},
		{"float32 overflow", profile.ModbusPoint{Type: profile.TypeFloat32}, 1e300, "outside the float32 range"},
		{"NaN", profile.ModbusPoint{Type: profile.TypeFloat64}, math.NaN(), "expected a finite number"},
		{"string", profile.ModbusPoint{Type: profile.TypeString, Length: 4}, 1, "a string point cannot be written"},
		{"bit of a register", profile.ModbusPoint{Type: profile.TypeBool, Bit: 2}, 1, "a bool point cannot be written"},
		{"input register", profile.ModbusPoint{Type: profile.TypeUint16, Table: profile.TableInput}, 1, "a input point is not written"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.p.Name = "p"
			if c.p.Table == "" {
				c.p.Table = profile.TableHolding
			}
			_, err := profile.EncodeRegisters(&c.p, profile.OrderABCD, c.v)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
	coil := &profile.ModbusPoint{Name: "relay", Table: profile.TableCoil, Type: profile.TypeBool}
	for v, want := range map[float64]bool{0: false, 1: true} {
		if got, err := profile.EncodeCoil(coil, v); err != nil || got != want {
			t.Errorf("coil %v: %v, %v; want %v", v, got, err, want)
		}
	}
	if _, err := profile.EncodeCoil(coil, 2); err == nil || !strings.Contains(err.Error(), "point relay: value 2: a coil takes 0 or 1") {
		t.Errorf("coil 2: %v", err)
	}
}

// FuzzEncodeRegisters: any value, type, order and scaling either encodes
// to registers that decode to a value within the rounding of the raw
// integer, or is refused with an error; nothing panics.
func FuzzEncodeRegisters(f *testing.F) {
	f.Add(uint8(0), uint8(0), 0.0, 0.0, 40.0)
	f.Add(uint8(6), uint8(1), 0.1, -40.0, 23.4)
	f.Add(uint8(5), uint8(3), 0.0, 0.0, 1e19)
	f.Fuzz(func(t *testing.T, ti, oi uint8, scale, offset, v float64) {
		p := &profile.ModbusPoint{Name: "p", Table: profile.TableHolding,
			Type: encodeTypes[int(ti)%len(encodeTypes)], Scaling: profile.Scaling{Scale: scale, Offset: offset}}
		order := encodeOrders[int(oi)%len(encodeOrders)]
		regs, err := profile.EncodeRegisters(p, order, v)
		if err != nil {
			return
		}
		if len(regs) != p.Type.Registers(0) {
			t.Fatalf("%d registers for %s", len(regs), p.Type)
		}
		if _, err := Decode(p, order, regBytes(regs)); err != nil && !p.Scaling.Scaled() && p.Type != profile.TypeFloat32 && p.Type != profile.TypeFloat64 {
			t.Fatalf("an integer written (%v) does not read back: %v", v, err)
		}
	})
}
