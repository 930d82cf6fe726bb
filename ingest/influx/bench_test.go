package influx

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/influxdata/influxdb-client-go/v2/api/write"

	"github.com/ponte-city/ponte/internal/influxschema"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/wire"
)

// Benchmark shape: readings arrive in batches of benchBatch (one uplink
// batch of a gateway at the edge's default size) from benchCallers
// callers: ingest at full load, its 8 workers each writing a gateway's
// window of 8 batches at once (ingest/service; the edge's window was 8
// when its figures were recorded, 16 since), from benchDevices devices of
// 10 points each.
const (
	benchBatch   = 1000
	benchDevices = 100
	benchCallers = 64
)

// benchReadings returns one batch: devices in turn, ten points each, nine
// floats and an integer counter, at distinct times from base.
func benchReadings(gw int, base time.Time) []wire.Reading {
	rs := make([]wire.Reading, benchBatch)
	for i := range rs {
		dev := (gw*7 + i/10) % benchDevices
		p := i % 10
		r := wire.Reading{Device: "cab-" + strconv.Itoa(dev), Point: "p" + strconv.Itoa(p), Unit: "V", Time: base.Add(time.Duration(i/10) * time.Millisecond)}
		if p == 9 {
			r.Value = wire.Int(int64(i) * 1000)
		} else {
			r.Value = wire.Float(230 + float64(i)/7)
		}
		rs[i] = r
	}
	return rs
}

// retime moves a batch to a new base time, keeping its shape.
func retime(rs []wire.Reading, base time.Time) {
	for i := range rs {
		rs[i].Time = base.Add(time.Duration(i/10) * time.Millisecond)
	}
}

// BenchmarkEncode compares this package's line encoding with building
// client points (write.NewPoint) and encoding them with the client.
func BenchmarkEncode(b *testing.B) {
	rs := benchReadings(0, time.Unix(1_700_000_000, 0))
	b.Run("lineprotocol", func(b *testing.B) {
		s := encoder{fallback: DefaultMeasurement, meta: testMeta}
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			j := s.encode("gw-1", rs)
			n += len(j.members)
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
	})
	b.Run("client-point", func(b *testing.B) {
		b.ReportAllocs()
		n := 0
		for b.Loop() {
			for i := range rs {
				r := &rs[i]
				area, typ := testMeta("gw-1", r.Device)
				p := write.NewPoint(typ,
					map[string]string{influxschema.TagArea: area, influxschema.TagDevice: r.Device, influxschema.TagGateway: "gw-1", influxschema.TagType: typ},
					map[string]any{r.Point: r.Value.Any()}, r.Time)
				_ = write.PointToLineProtocol(p, time.Nanosecond)
				n++
			}
		}
		b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
	})
}

// runSink writes total readings through a sink from benchCallers
// goroutines and returns readings per second.
func runSink(b *testing.B, srv *influxtest.Server, total int, epoch time.Time) float64 {
	s := sinkOn(b, srv)
	batches := (total + benchBatch - 1) / benchBatch
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for c := range benchCallers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs := benchReadings(c, epoch)
			for {
				k := next.Add(1) - 1
				if k >= int64(batches) {
					return
				}
				retime(rs, epoch.Add(time.Duration(k)*time.Second))
				if rej, err := s.Write(context.Background(), "gw-"+strconv.Itoa(c), rs); err != nil || len(rej) > 0 {
					b.Errorf("write: %v, %d rejected", err, len(rej))
					return
				}
			}
		}()
	}
	wg.Wait()
	rate := float64(batches*benchBatch) / time.Since(start).Seconds()
	if st := s.Stats(); st.Requests > 0 {
		b.Logf("sink: %.0f readings/s, %d requests of %.0f readings on average", rate, st.Requests, float64(st.Points)/float64(st.Requests))
	}
	return rate
}

// runDirect writes the same shape of points, encoded beforehand, with the
// client's WriteAPIBlocking in batches of DefaultBatchSize from as many
// goroutines as the sink has writers: the rate InfluxDB itself accepts.
func runDirect(b *testing.B, srv *influxtest.Server, total int, epoch time.Time) float64 {
	enc := encoder{fallback: DefaultMeasurement, meta: testMeta}
	var bodies []string
	var body []byte
	lines := 0
	for k := 0; k*benchBatch < total; k++ {
		rs := benchReadings(k%benchCallers, epoch.Add(time.Duration(k)*time.Second))
		j := enc.encode("gw-"+strconv.Itoa(k%benchCallers), rs)
		body = append(body, j.buf...)
		lines += len(j.ends)
		if lines >= DefaultBatchSize {
			bodies = append(bodies, string(body))
			body, lines = body[:0], 0
		}
	}
	if len(body) > 0 {
		bodies = append(bodies, string(body))
	}
	client := influxdb2.NewClientWithOptions(srv.URL, "", influxdb2.DefaultOptions().SetLogLevel(0))
	defer client.Close()
	w := client.WriteAPIBlocking("", srv.Bucket)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range DefaultWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := next.Add(1) - 1
				if k >= int64(len(bodies)) {
					return
				}
				if err := w.WriteRecord(context.Background(), bodies[k]); err != nil {
					b.Errorf("direct write: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	n := (total + benchBatch - 1) / benchBatch * benchBatch
	return float64(n) / time.Since(start).Seconds()
}

// BenchmarkSinkInflux writes b.N readings through the sink into a real
// InfluxDB 1.8.10.
func BenchmarkSinkInflux(b *testing.B) {
	srv := influxtest.Start(b)
	b.ResetTimer()
	rate := runSink(b, srv, max(b.N, benchBatch), time.Unix(1_600_000_000, 0))
	b.ReportMetric(rate, "readings/s")
}

// BenchmarkDirectInflux writes b.N readings of the same shape straight
// with the client, pre-encoded, into a real InfluxDB 1.8.10.
func BenchmarkDirectInflux(b *testing.B) {
	srv := influxtest.Start(b)
	b.ResetTimer()
	rate := runDirect(b, srv, max(b.N, benchBatch), time.Unix(1_600_000_000, 0))
	b.ReportMetric(rate, "readings/s")
}

// BenchmarkSinkVsDirect runs both against one InfluxDB in the same run,
// alternating in five rounds on separate time ranges so that a change of
// load on the machine hits both alike, and reports each's median rate and
// the minimum, median and maximum of the rounds' ratios (target: sink /
// direct >= 0.95 in every round).
func BenchmarkSinkVsDirect(b *testing.B) {
	srv := influxtest.Start(b)
	b.ResetTimer()
	const rounds = 5
	per := max(b.N/rounds, benchBatch)
	var sink, direct, ratio []float64
	for r := range rounds {
		off := time.Duration(r) * 100 * 24 * time.Hour
		// Alternate which goes first: InfluxDB compacts what the first
		// wrote while the second runs.
		var s, d float64
		runD := func() { d = runDirect(b, srv, per, time.Unix(1_500_000_000, 0).Add(off)) }
		runS := func() { s = runSink(b, srv, per, time.Unix(1_600_000_000, 0).Add(off)) }
		if r%2 == 0 {
			runD()
			runS()
		} else {
			runS()
			runD()
		}
		sink, direct, ratio = append(sink, s), append(direct, d), append(ratio, s/d)
	}
	slices.Sort(sink)
	slices.Sort(direct)
	slices.Sort(ratio)
	b.ReportMetric(sink[rounds/2], "sink-readings/s")
	b.ReportMetric(direct[rounds/2], "direct-readings/s")
	b.ReportMetric(ratio[0], "min-sink/direct")
	b.ReportMetric(ratio[rounds/2], "sink/direct")
	b.ReportMetric(ratio[rounds-1], "max-sink/direct")
}
