package modbus

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// BenchmarkDecode decodes a mix of the types meters and controllers use,
// in several orders and with scaling.
func BenchmarkDecode(b *testing.B) {
	type item struct {
		p     profile.ModbusPoint
		order profile.Order
		raw   []byte
	}
	mix := []item{
		{profile.ModbusPoint{Name: "v", Table: profile.TableInput, Type: profile.TypeFloat32}, "ABCD", []byte{0x43, 0x66, 0x80, 0x00}},
		{profile.ModbusPoint{Name: "i", Table: profile.TableInput, Type: profile.TypeFloat32}, "CDAB", []byte{0xE9, 0x79, 0x42, 0xF6}},
		{profile.ModbusPoint{Name: "e", Table: profile.TableHolding, Type: profile.TypeUint32, Scaling: profile.Scaling{Scale: 0.01}}, "CDAB", []byte{0x86, 0xA0, 0x00, 0x01}},
		{profile.ModbusPoint{Name: "t", Table: profile.TableHolding, Type: profile.TypeInt16, Scaling: profile.Scaling{Scale: 0.1}}, "", []byte{0x00, 0xE1}},
		{profile.ModbusPoint{Name: "n", Table: profile.TableHolding, Type: profile.TypeUint16}, "", []byte{0x01, 0x02}},
		{profile.ModbusPoint{Name: "w", Table: profile.TableHolding, Type: profile.TypeInt64}, "DCBA", []byte{8, 7, 6, 5, 4, 3, 2, 1}},
		{profile.ModbusPoint{Name: "f", Table: profile.TableHolding, Type: profile.TypeFloat64}, "ABCD", []byte{0x40, 0x5E, 0xDD, 0x2F, 0x1A, 0x9F, 0xBE, 0x77}},
		{profile.ModbusPoint{Name: "run", Table: profile.TableHolding, Type: profile.TypeBool, Bit: 3}, "", []byte{0x00, 0x08}},
		{profile.ModbusPoint{Name: "mode", Table: profile.TableHolding, Type: profile.TypeBitfield, Bit: 4, Bits: 3}, "", []byte{0x00, 0x50}},
		{profile.ModbusPoint{Name: "door", Table: profile.TableDiscrete, Type: profile.TypeBool}, "", []byte{1}},
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i := range mix {
			if _, err := Decode(&mix[i].p, mix[i].order, mix[i].raw); err != nil {
				b.Fatal(err)
			}
		}
		n += len(mix)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "points/s")
}

// BenchmarkPollLoopback polls a simulated device over loopback Modbus TCP
// as fast as it answers: the whole path from request to decoded readings.
func BenchmarkPollLoopback(b *testing.B) {
	for _, c := range []struct {
		name string
		p    *profile.Profile
	}{
		{"all-types", allTypesProfile()},
		{"meter-120-float32", float32Profile(120)},
	} {
		b.Run(c.name, func(b *testing.B) {
			addr, _ := serveTCP(b, newUnit(b, c.p, 1, nil))
			dev := newDevice(source.Device{Name: "bench", Profile: c.p, Address: addr, Unit: 1, Interval: time.Second},
				slog.New(slog.DiscardHandler))
			l := newTCPLink(strings.TrimPrefix(addr, "tcp://"))
			defer l.close()
			reqs := Plan(dev.m, "")
			var res []Result
			points := 0
			b.ResetTimer()
			for b.Loop() {
				var o outcome
				res, o = readAll(context.Background(), l, dev, reqs, res[:0])
				if o.err != nil {
					b.Fatal(o.err)
				}
				points += len(res)
			}
			b.ReportMetric(float64(points)/b.Elapsed().Seconds(), "points/s")
			b.ReportMetric(float64(len(reqs))/float64(len(res)), "requests/point")
		})
	}
}

// float32Profile is a meter with n adjacent float32 input registers.
func float32Profile(n int) *profile.Profile {
	m := &profile.Modbus{}
	for i := 0; i < n; i++ {
		m.Points = append(m.Points, profile.ModbusPoint{Name: fmt.Sprintf("v%d", i), Table: profile.TableInput,
			Address: uint16(2 * i), Type: profile.TypeFloat32, Unit: "V"})
	}
	return &profile.Profile{Model: "meter", Kind: profile.KindModbus, Category: wire.CategoryEnergy, File: "meter.yaml", Modbus: m}
}
