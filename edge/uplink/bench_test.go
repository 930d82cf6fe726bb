package uplink

import (
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// BenchmarkFrame measures replay after an outage on the gateway: records
// read back from a real buffer, decoded and framed into encoded batches
// of 1000 readings (the target is >= 300k readings/s on one core).
func BenchmarkFrame(b *testing.B) {
	const backlog, batch = 200_000, 1000
	buf := openBuf(b)
	for i := 0; i < backlog; i += 10_000 {
		produceDurable(b, buf, i, 10_000)
	}
	fr := newFramer(testGW, buf.Epoch(), func(uint64, error) { b.Fatal("bad record") })
	var cursor uint64
	bytes := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		recs, err := buf.Read(cursor, batch, DefaultBatchMaxBytes)
		if err != nil {
			b.Fatal(err)
		}
		if len(recs) == 0 {
			cursor = 0
			continue
		}
		f, err := fr.frame(cursor, 1, recs)
		if err != nil {
			b.Fatal(err)
		}
		bytes += len(f.payload)
		cursor = f.to + 1
		if cursor > backlog {
			cursor = 0
		}
	}
	el := b.Elapsed().Seconds()
	b.ReportMetric(float64(b.N*batch)/el, "readings/s")
	b.ReportMetric(float64(bytes)/float64(b.N*batch), "bytes/reading")
}

// BenchmarkEndToEnd replays a backlog through Mosquitto to the test
// acknowledger and waits for the buffer to drain: readings/s through a
// real broker with ingest's acknowledgements in the loop (the
// acknowledger's own bookkeeping included).
func BenchmarkEndToEnd(b *testing.B) {
	broker := testenv.Mosquitto(b)
	a := newAcker(b, broker.URL, ackContig)
	buf := openBuf(b)
	n := b.N * 1000
	for i := 0; i < n; i += 10_000 {
		produceDurable(b, buf, i, min(10_000, n-i))
	}
	cfg := baseConfig(broker.URL)
	cfg.AckTimeout = time.Minute
	b.ResetTimer()
	start(b, cfg, buf)
	testenv.Eventually(b, 10*time.Minute, "drained", func() bool { return buf.Stats().Records == 0 })
	b.StopTimer()
	if a.distinct() != n {
		b.Fatalf("acknowledger saw %d of %d readings", a.distinct(), n)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkFrameLive is the per-batch path of live forwarding: 1,000
// durable records read into the sender's reused slices, framed, and the
// payload released as the broker's PUBACK releases it (sender.run). One
// op is one batch; allocs/op and B/op are what the collector is left.
func BenchmarkFrameLive(b *testing.B) {
	const batch = 1000
	buf := openBuf(b)
	produceDurable(b, buf, 0, batch)
	fr := newFramer(testGW, buf.Epoch(), func(uint64, error) { b.Fatal("bad record") })
	recs, arena, err := buf.ReadInto(1, batch, DefaultBatchMaxBytes, nil, nil)
	if err != nil || len(recs) != batch {
		b.Fatalf("read: %d records, %v", len(recs), err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if recs, arena, err = buf.ReadInto(1, batch, DefaultBatchMaxBytes, recs, arena); err != nil {
			b.Fatal(err)
		}
		f, err := fr.frame(1, 1, recs)
		if err != nil {
			b.Fatal(err)
		}
		fr.release(f.payload)
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "readings/s")
}
