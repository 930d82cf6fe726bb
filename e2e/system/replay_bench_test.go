package system_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/edge/uplink"
	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// Replay shape: replayDevices energy meters, replayPoints points each,
// polled every second while the gateway's link was down.
const (
	replayDevices = 1000
	replayPoints  = 10
	replayGW      = "rp-e2e-01"
)

// telegrafReplay is Telegraf's rate draining a 7M-point backlog into
// InfluxDB on a machine of this kind (writing the fields of a device's
// poll as one line), measured when issue 17 was filed; Telegraf is not
// run here.
const telegrafReplay = 537_000

// BenchmarkReplayBacklog: a gateway whose link was cut holds a backlog in
// its buffer (PONTE_BENCH_BACKLOG readings, default 7,000,000: 1,000
// meters x 10 points, polled every second); once the link is back, its
// uplink drains it through ingest (embedded broker, decode, dedup, the
// InfluxDB sink) into InfluxDB 1.8.10, each batch acknowledged only once
// InfluxDB accepted it. Timed from the uplink's start to the buffer empty
// (every reading acknowledged); then InfluxDB is asked how many values it
// holds, which must be every reading.
func BenchmarkReplayBacklog(b *testing.B) {
	testenv.Integration(b, "ingest with its embedded broker, InfluxDB and an uplink in-process")
	total := 7_000_000
	if v := os.Getenv("PONTE_BENCH_BACKLOG"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < replayDevices*replayPoints {
			b.Fatalf("PONTE_BENCH_BACKLOG=%q: expected a number of readings >= %d", v, replayDevices*replayPoints)
		}
		total = n
	}
	polls := total / (replayDevices * replayPoints)
	total = polls * replayDevices * replayPoints

	p, err := profile.Load(absPath(b, "../../firmware-profiles/eastron-sdm630-v2.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	var points []string
	for _, pt := range p.Modbus.Points[:replayPoints] {
		points = append(points, pt.Name)
	}
	dir := b.TempDir()
	var devs []e2eDevice
	for d := range replayDevices {
		devs = append(devs, e2eDevice{name: fmt.Sprintf("rp-meter-%04d", d), profile: "eastron-sdm630-v2", address: "ADDR", unit: 1 + d%247,
			interval: "1s", lon: 11.2 + float64(d)/10000, lat: 43.77, entity: fmt.Sprintf("urn:ngsi-ld:StreetlightControlCabinet:rp-%04d", d)})
	}
	testenv.WriteFile(b, filepath.Join(dir, "rp-site.yaml"), siteYAML(replayGW, "tcp://127.0.0.1:1883", e2ePassword(replayGW), filepath.Join(dir, "unused"), "127.0.0.1:502", devs))

	// The backlog: polls of every meter, a second apart, ending now.
	buf, err := buffer.Open(context.Background(), buffer.Config{Dir: filepath.Join(dir, "buffer"), SyncInterval: 5 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = buf.Close(ctx)
	})
	start := time.Now().Add(-time.Duration(polls) * time.Second).Truncate(time.Second)
	fillStart := time.Now()
	recs := make([][]byte, 0, replayDevices*replayPoints)
	var r wire.Reading
	for k := range polls {
		recs = recs[:0]
		at := start.Add(time.Duration(k) * time.Second)
		for d := range devs {
			for i, pt := range points {
				r = wire.Reading{Device: devs[d].name, Point: pt, Unit: "V", Value: wire.Float(230 + float64(k%100)/10 + float64(i)), Time: at.Add(time.Duration(d) * time.Millisecond)}
				recs = append(recs, wire.AppendRecord(nil, &r))
			}
		}
		c, err := buf.Append(recs)
		if err != nil {
			b.Fatal(err)
		}
		// The buffer holds at most DefaultMemoryRecords not yet durable
		// (Append never blocks): wait, as a gateway's polls would.
		if err := c.Wait(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	if st := buf.Stats(); st.Records != uint64(total) {
		b.Fatalf("the buffer holds %d records, want the backlog's %d", st.Records, total)
	}
	b.Logf("backlog: %d readings (%d polls of %d meters x %d points) in the buffer in %.1f s", total, polls, replayDevices, replayPoints, time.Since(fillStart).Seconds())

	srv := influxtest.Start(b)
	cfg := ingestConfigYAML(b, dir, "", []string{replayGW}, "sites: [rp-site.yaml]\nprofiles: "+absPath(b, "../../firmware-profiles")+"\n")
	cfg.Influx.URL, cfg.Influx.Bucket = srv.URL, srv.Bucket
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	ing := startIngest(b, cfg, func(o *app.Options) { o.Sink = nil })

	before := cpuTimes(b, srv)
	b.ResetTimer()
	f, err := uplink.New(uplink.Config{Gateway: replayGW, Broker: ing.BrokerURL, Password: e2ePassword(replayGW),
		AckTimeout: time.Minute, Version: "bench", Registerer: prometheus.NewRegistry()}, buf)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(b, 30*time.Minute, "the backlog drained", func() bool { return buf.Stats().Records == 0 })
	b.StopTimer()
	el := b.Elapsed().Seconds()
	after := cpuTimes(b, srv)

	var stored int64
	for _, s := range srv.Query(b, `SELECT count(*) FROM "energy"`) {
		for _, row := range s.Values {
			for _, v := range row[1:] {
				n, _ := v.(json.Number).Int64()
				stored += n
			}
		}
	}
	if stored != int64(total) {
		b.Fatalf("InfluxDB holds %d values, want the %d readings of the backlog", stored, total)
	}
	rate := float64(total) / el
	b.ReportMetric(rate, "readings/s")
	b.ReportMetric(rate/telegrafReplay, "vs-telegraf")
	b.ReportMetric((after.self-before.self)/el, "ponte-cores")
	b.ReportMetric((after.influx-before.influx)/el, "influxd-cores")
	b.Logf("replay: %d readings in %.1f s = %.0f readings/s (Telegraf, as measured for issue 17: %d/s); ponte (ingest and uplink in this process) %.2f cores, influxd %.2f cores",
		total, el, rate, telegrafReplay, (after.self-before.self)/el, (after.influx-before.influx)/el)
}

// cpu is CPU seconds (user and system) used so far.
type cpu struct{ self, influx float64 }

// cpuTimes reads the CPU time of this process and of srv's influxd.
func cpuTimes(b *testing.B, srv *influxtest.Server) cpu {
	self, err := testenv.SelfCPU()
	if err != nil {
		b.Fatal(err)
	}
	influx, err := testenv.ProcessCPU(srv.Pid())
	if err != nil {
		b.Fatal(err)
	}
	return cpu{self: self, influx: influx}
}
