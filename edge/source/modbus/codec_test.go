package modbus

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

func fp(f float64) *float64 { return &f }

// The vectors below were computed outside this code (Python struct.pack and
// by hand), never with Decode or canonical.
func TestDecodeKnownVectors(t *testing.T) {
	f32 := 123.456 // float32 bytes decode to the shortest decimal that identifies them
	cases := []struct {
		name  string
		p     profile.ModbusPoint
		order profile.Order
		raw   []byte
		want  wire.Value
	}{
		// float32 123.456 = 0x42F6E979
		{"float32 ABCD", profile.ModbusPoint{Type: profile.TypeFloat32}, "ABCD", []byte{0x42, 0xF6, 0xE9, 0x79}, wire.Float(f32)},
		{"float32 CDAB", profile.ModbusPoint{Type: profile.TypeFloat32}, "CDAB", []byte{0xE9, 0x79, 0x42, 0xF6}, wire.Float(f32)},
		{"float32 BADC", profile.ModbusPoint{Type: profile.TypeFloat32}, "BADC", []byte{0xF6, 0x42, 0x79, 0xE9}, wire.Float(f32)},
		{"float32 DCBA", profile.ModbusPoint{Type: profile.TypeFloat32}, "DCBA", []byte{0x79, 0xE9, 0xF6, 0x42}, wire.Float(f32)},
		{"float32 -273.15 ABCD", profile.ModbusPoint{Type: profile.TypeFloat32}, "ABCD", []byte{0xC3, 0x88, 0x93, 0x33}, wire.Float(-273.15)},
		{"float32 230.1 V reads as 230.1, not 230.10000610351562", profile.ModbusPoint{Type: profile.TypeFloat32}, "ABCD", []byte{0x43, 0x66, 0x19, 0x9A}, wire.Float(230.1)},
		{"float32 scaled kWh", profile.ModbusPoint{Type: profile.TypeFloat32, Scaling: profile.Scaling{Scale: 0.001}}, "ABCD", []byte{0x43, 0x66, 0x19, 0x9A}, wire.Float(0.2301)},
		// int32 -2 = 0xFFFFFFFE
		{"int32 -2 ABCD", profile.ModbusPoint{Type: profile.TypeInt32}, "ABCD", []byte{0xFF, 0xFF, 0xFF, 0xFE}, wire.Int(-2)},
		{"int32 -2 CDAB", profile.ModbusPoint{Type: profile.TypeInt32}, "CDAB", []byte{0xFF, 0xFE, 0xFF, 0xFF}, wire.Int(-2)},
		{"int32 -2 BADC", profile.ModbusPoint{Type: profile.TypeInt32}, "BADC", []byte{0xFF, 0xFF, 0xFE, 0xFF}, wire.Int(-2)},
		{"int32 -2 DCBA", profile.ModbusPoint{Type: profile.TypeInt32}, "DCBA", []byte{0xFE, 0xFF, 0xFF, 0xFF}, wire.Int(-2)},
		// int32 0x12345678 = 305419896
		{"int32 ABCD", profile.ModbusPoint{Type: profile.TypeInt32}, "ABCD", []byte{0x12, 0x34, 0x56, 0x78}, wire.Int(305419896)},
		{"int32 CDAB", profile.ModbusPoint{Type: profile.TypeInt32}, "CDAB", []byte{0x56, 0x78, 0x12, 0x34}, wire.Int(305419896)},
		{"int32 BADC", profile.ModbusPoint{Type: profile.TypeInt32}, "BADC", []byte{0x34, 0x12, 0x78, 0x56}, wire.Int(305419896)},
		{"int32 DCBA", profile.ModbusPoint{Type: profile.TypeInt32}, "DCBA", []byte{0x78, 0x56, 0x34, 0x12}, wire.Int(305419896)},
		// uint32 0xDEADBEEF = 3735928559
		{"uint32 ABCD", profile.ModbusPoint{Type: profile.TypeUint32}, "ABCD", []byte{0xDE, 0xAD, 0xBE, 0xEF}, wire.Int(3735928559)},
		{"uint32 CDAB", profile.ModbusPoint{Type: profile.TypeUint32}, "CDAB", []byte{0xBE, 0xEF, 0xDE, 0xAD}, wire.Int(3735928559)},
		{"uint32 BADC", profile.ModbusPoint{Type: profile.TypeUint32}, "BADC", []byte{0xAD, 0xDE, 0xEF, 0xBE}, wire.Int(3735928559)},
		{"uint32 DCBA", profile.ModbusPoint{Type: profile.TypeUint32}, "DCBA", []byte{0xEF, 0xBE, 0xAD, 0xDE}, wire.Int(3735928559)},
		// float64 123.456 = 0x405EDD2F1A9FBE77, under both families of order names
		{"float64 ABCDEFGH", profile.ModbusPoint{Type: profile.TypeFloat64}, "ABCDEFGH", []byte{0x40, 0x5E, 0xDD, 0x2F, 0x1A, 0x9F, 0xBE, 0x77}, wire.Float(123.456)},
		{"float64 GHEFCDAB", profile.ModbusPoint{Type: profile.TypeFloat64}, "GHEFCDAB", []byte{0xBE, 0x77, 0x1A, 0x9F, 0xDD, 0x2F, 0x40, 0x5E}, wire.Float(123.456)},
		{"float64 CDAB", profile.ModbusPoint{Type: profile.TypeFloat64}, "CDAB", []byte{0xBE, 0x77, 0x1A, 0x9F, 0xDD, 0x2F, 0x40, 0x5E}, wire.Float(123.456)},
		{"float64 BADCFEHG", profile.ModbusPoint{Type: profile.TypeFloat64}, "BADCFEHG", []byte{0x5E, 0x40, 0x2F, 0xDD, 0x9F, 0x1A, 0x77, 0xBE}, wire.Float(123.456)},
		{"float64 HGFEDCBA", profile.ModbusPoint{Type: profile.TypeFloat64}, "HGFEDCBA", []byte{0x77, 0xBE, 0x9F, 0x1A, 0x2F, 0xDD, 0x5E, 0x40}, wire.Float(123.456)},
		{"float64 -0.1 ABCD", profile.ModbusPoint{Type: profile.TypeFloat64}, "ABCD", []byte{0xBF, 0xB9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A}, wire.Float(-0.1)},
		// int64 0x0102030405060708 = 72623859790382856
		{"int64 ABCD", profile.ModbusPoint{Type: profile.TypeInt64}, "ABCD", []byte{1, 2, 3, 4, 5, 6, 7, 8}, wire.Int(72623859790382856)},
		{"int64 CDAB", profile.ModbusPoint{Type: profile.TypeInt64}, "CDAB", []byte{7, 8, 5, 6, 3, 4, 1, 2}, wire.Int(72623859790382856)},
		{"int64 BADC", profile.ModbusPoint{Type: profile.TypeInt64}, "BADC", []byte{2, 1, 4, 3, 6, 5, 8, 7}, wire.Int(72623859790382856)},
		{"int64 DCBA", profile.ModbusPoint{Type: profile.TypeInt64}, "DCBA", []byte{8, 7, 6, 5, 4, 3, 2, 1}, wire.Int(72623859790382856)},
		{"int64 -2 DCBA", profile.ModbusPoint{Type: profile.TypeInt64}, "DCBA", []byte{0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, wire.Int(-2)},
		// uint64 0x00000002540BE400 = 10000000000
		{"uint64 ABCD", profile.ModbusPoint{Type: profile.TypeUint64}, "ABCD", []byte{0, 0, 0, 2, 0x54, 0x0B, 0xE4, 0}, wire.Int(10000000000)},
		{"uint64 CDAB", profile.ModbusPoint{Type: profile.TypeUint64}, "CDAB", []byte{0xE4, 0, 0x54, 0x0B, 0, 2, 0, 0}, wire.Int(10000000000)},
		{"uint64 BADC", profile.ModbusPoint{Type: profile.TypeUint64}, "BADC", []byte{0, 0, 2, 0, 0x0B, 0x54, 0, 0xE4}, wire.Int(10000000000)},
		{"uint64 DCBA", profile.ModbusPoint{Type: profile.TypeUint64}, "DCBA", []byte{0, 0xE4, 0x0B, 0x54, 2, 0, 0, 0}, wire.Int(10000000000)},
		{"uint64 max int64", profile.ModbusPoint{Type: profile.TypeUint64}, "ABCD", []byte{0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, wire.Int(math.MaxInt64)},
		// 16-bit values ignore the order: one register is big-endian in the PDU.
		{"int16 -2", profile.ModbusPoint{Type: profile.TypeInt16}, "ABCD", []byte{0xFF, 0xFE}, wire.Int(-2)},
		{"int16 -32768", profile.ModbusPoint{Type: profile.TypeInt16}, "DCBA", []byte{0x80, 0x00}, wire.Int(-32768)},
		{"uint16 65534", profile.ModbusPoint{Type: profile.TypeUint16}, "ABCD", []byte{0xFF, 0xFE}, wire.Int(65534)},
		{"uint16 0x1234", profile.ModbusPoint{Type: profile.TypeUint16}, "CDAB", []byte{0x12, 0x34}, wire.Int(4660)},
		// scaling: raw*scale+offset; a scaled integer becomes a float
		{"uint16 scale 0.1", profile.ModbusPoint{Type: profile.TypeUint16, Scaling: profile.Scaling{Scale: 0.1}}, "", []byte{0x09, 0x29}, wire.Float(2345 * 0.1)},
		{"int16 scale 0.01 offset -40", profile.ModbusPoint{Type: profile.TypeInt16, Scaling: profile.Scaling{Scale: 0.01, Offset: -40}}, "", []byte{0xFF, 0x9C}, wire.Float(-100*0.01 - 40)},
		{"int32 scale 1 offset 0 stays int", profile.ModbusPoint{Type: profile.TypeInt32, Scaling: profile.Scaling{Scale: 1}}, "", []byte{0, 0, 1, 0}, wire.Int(256)},
		{"uint32 CDAB scale 0.001", profile.ModbusPoint{Type: profile.TypeUint32, Scaling: profile.Scaling{Scale: 0.001}}, "CDAB", []byte{0x86, 0xA0, 0x00, 0x01}, wire.Float(100000 * 0.001)},
		{"float32 scale 1000", profile.ModbusPoint{Type: profile.TypeFloat32, Scaling: profile.Scaling{Scale: 1000}}, "ABCD", []byte{0x3F, 0xC0, 0x00, 0x00}, wire.Float(1500)},
		// bits
		{"coil on", profile.ModbusPoint{Table: profile.TableCoil, Type: profile.TypeBool}, "", []byte{1}, wire.Bool(true)},
		{"discrete off", profile.ModbusPoint{Table: profile.TableDiscrete, Type: profile.TypeBool}, "", []byte{0}, wire.Bool(false)},
		{"register bit 0 set", profile.ModbusPoint{Table: profile.TableHolding, Type: profile.TypeBool, Bit: 0}, "", []byte{0x00, 0x01}, wire.Bool(true)},
		{"register bit 15 set", profile.ModbusPoint{Table: profile.TableInput, Type: profile.TypeBool, Bit: 15}, "", []byte{0x80, 0x00}, wire.Bool(true)},
		{"register bit 8 clear", profile.ModbusPoint{Table: profile.TableInput, Type: profile.TypeBool, Bit: 8}, "", []byte{0xFE, 0xFF}, wire.Bool(false)},
		{"register bit 9 set", profile.ModbusPoint{Table: profile.TableHolding, Type: profile.TypeBool, Bit: 9}, "", []byte{0x02, 0x00}, wire.Bool(true)},
		// bitfields: 0xA5C3 = 1010 0101 1100 0011
		{"bitfield bits 4..7", profile.ModbusPoint{Type: profile.TypeBitfield, Bit: 4, Bits: 4}, "", []byte{0xA5, 0xC3}, wire.Int(0xC)},
		{"bitfield bits 12..15", profile.ModbusPoint{Type: profile.TypeBitfield, Bit: 12, Bits: 4}, "", []byte{0xA5, 0xC3}, wire.Int(0xA)},
		{"bitfield bits 0..2", profile.ModbusPoint{Type: profile.TypeBitfield, Bit: 0, Bits: 3}, "", []byte{0xA5, 0xC3}, wire.Int(3)},
		{"bitfield all 16", profile.ModbusPoint{Type: profile.TypeBitfield, Bit: 0, Bits: 16}, "", []byte{0xA5, 0xC3}, wire.Int(0xA5C3)},
		{"bitfield width 0 is 1", profile.ModbusPoint{Type: profile.TypeBitfield, Bit: 1}, "", []byte{0xA5, 0xC3}, wire.Int(1)},
		// strings: two ASCII bytes per register, high byte first
		{"string NUL padded", profile.ModbusPoint{Type: profile.TypeString, Length: 4}, "", []byte{'S', 'D', 'M', '6', '3', '0', 0, 0}, wire.String("SDM630")},
		{"string space padded", profile.ModbusPoint{Type: profile.TypeString, Length: 3}, "", []byte{'V', '2', '.', '1', ' ', ' '}, wire.String("V2.1")},
		{"string odd length", profile.ModbusPoint{Type: profile.TypeString, Length: 2}, "", []byte{'A', 'B', 'C', 0}, wire.String("ABC")},
		{"string garbage after NUL", profile.ModbusPoint{Type: profile.TypeString, Length: 2}, "", []byte{'O', 'K', 0, 0xFF}, wire.String("OK")},
		{"string empty", profile.ModbusPoint{Type: profile.TypeString, Length: 2}, "", []byte{0, 0, 0, 0}, wire.String("")},
		// range passes
		{"in range", profile.ModbusPoint{Type: profile.TypeInt16, Range: profile.Range{Min: fp(-10), Max: fp(10)}}, "", []byte{0x00, 0x0A}, wire.Int(10)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.p.Name = "p"
			if c.p.Table == "" {
				c.p.Table = profile.TableHolding
			}
			got, err := Decode(&c.p, c.order, c.raw)
			if err != nil {
				t.Fatalf("Decode(% X): %v", c.raw, err)
			}
			if got != c.want {
				t.Fatalf("Decode(% X) = %v (%s), want %v (%s)", c.raw, got, got.Kind, c.want, c.want.Kind)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name    string
		p       profile.ModbusPoint
		raw     []byte
		quality wire.Quality
		reason  string
	}{
		{"float32 NaN", profile.ModbusPoint{Type: profile.TypeFloat32}, []byte{0x7F, 0xC0, 0, 0}, wire.QualityBadDecode, "NaN"},
		{"float32 +Inf", profile.ModbusPoint{Type: profile.TypeFloat32}, []byte{0x7F, 0x80, 0, 0}, wire.QualityBadDecode, "+Inf"},
		{"float64 -Inf", profile.ModbusPoint{Type: profile.TypeFloat64}, []byte{0xFF, 0xF0, 0, 0, 0, 0, 0, 0}, wire.QualityBadDecode, "-Inf"},
		{"uint64 above int64", profile.ModbusPoint{Type: profile.TypeUint64}, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, wire.QualityBadDecode, "above the int64 range"},
		{"short reply", profile.ModbusPoint{Type: profile.TypeUint32}, []byte{1, 2}, wire.QualityBadDecode, "expected 4 bytes"},
		{"long reply", profile.ModbusPoint{Type: profile.TypeInt16}, []byte{1, 2, 3}, wire.QualityBadDecode, "expected 2 bytes"},
		{"empty bit", profile.ModbusPoint{Table: profile.TableCoil, Type: profile.TypeBool}, nil, wire.QualityBadDecode, "expected 1 byte"},
		{"string control char", profile.ModbusPoint{Type: profile.TypeString, Length: 1}, []byte{'A', 0x07}, wire.QualityBadDecode, "0x07"},
		{"string high byte", profile.ModbusPoint{Type: profile.TypeString, Length: 1}, []byte{0xC3, 0xA9}, wire.QualityBadDecode, "not printable ASCII"},
		{"bit outside register", profile.ModbusPoint{Type: profile.TypeBool, Bit: 16}, []byte{0, 0}, wire.QualityBadDecode, "outside a 16-bit register"},
		{"bitfield outside register", profile.ModbusPoint{Type: profile.TypeBitfield, Bit: 12, Bits: 8}, []byte{0, 0}, wire.QualityBadDecode, "outside a 16-bit register"},
		{"serial type", profile.ModbusPoint{Type: profile.TypeFloat}, []byte{0, 0}, wire.QualityBadDecode, "cannot be read over Modbus"},
		{"above max", profile.ModbusPoint{Type: profile.TypeUint16, Range: profile.Range{Max: fp(500)}}, []byte{0x01, 0xF5}, wire.QualityBadRange, "501 outside range [-inf, 500]"},
		{"below min scaled", profile.ModbusPoint{Type: profile.TypeInt16, Scaling: profile.Scaling{Scale: 0.1}, Range: profile.Range{Min: fp(-40), Max: fp(85)}}, []byte{0xFE, 0x6F}, wire.QualityBadRange, "outside range [-40, 85]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.p.Name = "pt"
			if c.p.Table == "" {
				c.p.Table = profile.TableHolding
			}
			v, err := Decode(&c.p, profile.OrderABCD, c.raw)
			var ve *ValueError
			if !errors.As(err, &ve) {
				t.Fatalf("Decode(% X) = %v, %v; want a *ValueError", c.raw, v, err)
			}
			if ve.Quality != c.quality || !strings.Contains(ve.Reason, c.reason) || ve.Point != "pt" {
				t.Fatalf("error %+v, want quality %s and a reason containing %q", ve, c.quality, c.reason)
			}
		})
	}
}

// FuzzDecode checks that no reply bytes make the codec panic, whatever the
// point's type.
func FuzzDecode(f *testing.F) {
	f.Add([]byte{0x42, 0xF6, 0xE9, 0x79}, uint8(6), uint8(1), int8(3), int8(4))
	f.Add([]byte{}, uint8(8), uint8(3), int8(-1), int8(40))
	types := []profile.Type{profile.TypeInt16, profile.TypeUint16, profile.TypeInt32, profile.TypeUint32,
		profile.TypeInt64, profile.TypeUint64, profile.TypeFloat32, profile.TypeFloat64, profile.TypeBool,
		profile.TypeString, profile.TypeBitfield}
	orders := []profile.Order{"ABCD", "CDAB", "BADC", "DCBA", ""}
	f.Fuzz(func(t *testing.T, raw []byte, typ, ord uint8, bit, bits int8) {
		p := profile.ModbusPoint{Name: "f", Table: profile.TableHolding, Type: types[int(typ)%len(types)],
			Bit: int(bit), Bits: int(bits), Length: len(raw) / 2}
		_, err := Decode(&p, orders[int(ord)%len(orders)], raw)
		var ve *ValueError
		if err != nil && !errors.As(err, &ve) {
			t.Fatalf("error %v is not a *ValueError", err)
		}
	})
}
