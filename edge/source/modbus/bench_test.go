package modbus

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/edge/buffer"
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
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				var o outcome
				res, o = readAll(context.Background(), l, dev, reqs, res[:0], false)
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

// BenchmarkPollCycle is one poll of one device of 100 uint16 holding
// registers, as the agent runs it: plan (once), request, decode, metrics,
// then the agent's emit path (encode each reading as a buffer record,
// append to a real buffer). The link answers from memory, so the figure is
// Ponte's own cost per poll; allocs/op is what a poll leaves to the
// collector and should stay at or near zero (the buffer's append keeps
// its own copy: one arena, its records' end offsets and a queue entry).
func BenchmarkPollCycle(b *testing.B) {
	var pts []profile.ModbusPoint
	for i := range 100 {
		pts = append(pts, profile.ModbusPoint{Name: fmt.Sprintf("p%03d", i), Table: profile.TableHolding,
			Address: uint16(i), Type: profile.TypeUint16, Unit: "1"})
	}
	p := testProfile(pts...)
	reply := make([]byte, 200)
	for i := range reply {
		reply[i] = byte(i)
	}
	l := &fakeLink{reply: func(context.Context, uint8, time.Duration, *Request) ([]byte, error) { return reply, nil }}
	buf, err := buffer.Open(context.Background(), buffer.Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close(context.Background())
	var arena []byte
	var recs [][]byte
	emit := func(rs []wire.Reading) source.Commit {
		arena, recs = arena[:0], recs[:0]
		for i := range rs {
			n := len(arena)
			arena = wire.AppendRecord(arena, &rs[i])
			recs = append(recs, arena[n:len(arena):len(arena)])
		}
		c, err := buf.Append(recs)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	bs := &bus{key: "fake", link: l, metrics: source.NewMetrics(prometheus.NewRegistry()), log: slog.New(slog.DiscardHandler),
		backoff: func(int) time.Duration { return time.Second }}
	d := newDevice(source.Device{Name: "dev-001", Profile: p, Address: "tcp://fake:502", Unit: 1, Interval: time.Second}, bs.log)
	bs.devs = []*device{d}
	j := d.jobs[0]
	ctx := context.Background()
	bs.poll(ctx, d, j, emit) // warm up: slices and metric series
	b.ReportAllocs()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for b.Loop() {
		bs.poll(ctx, d, j, emit)
		if len(bs.readings) != 100 {
			b.Fatalf("%d readings, want 100", len(bs.readings))
		}
	}
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "points/s")
	// allocs/op is a poll's; per point, for the summary benchmarks/run prints.
	b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(100*b.N), "allocs/point")
}
