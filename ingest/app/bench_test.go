package app_test

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	influxapi "github.com/influxdata/influxdb-client-go/v2/api"
	"github.com/influxdata/influxdb-client-go/v2/api/write"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

const (
	benchGateways = 8
	benchBatch    = 1000 // edge/uplink DefaultBatchMaxReadings
	benchWindow   = 16   // edge/uplink DefaultWindow
	benchWorkers  = 8    // ingest's service.Config.Workers default
)

// Direct writers: InfluxDB's own rate is its best for these points, and on
// the benchmark machine (InfluxDB on one core) 4 writers of 5,000 lines
// keep it busiest: 2 writers leave it waiting on WAL fsyncs (0.87-0.98 of
// its core), 1 writer or 2,500-line requests more so, 10,000 or 20,000
// lines are no faster and gzip is 35 % slower (influxd decompresses on the
// same core).
const (
	directWriters = 4
	directLines   = 5000
)

// BenchmarkPipelineInflux measures readings/s from gateways' MQTT
// publishes through Mosquitto and ingest into a real InfluxDB 1.8.10, up to
// the acknowledgements, against InfluxDB's own rate for the same points:
// their line protocol encoded beforehand and written with the client
// (directWriters x directLines). Each of five rounds runs four parts in
// the order direct, ingest, ingest, direct (the reverse in odd rounds), so
// that a drift of the machine's speed within a round cancels; its ratio
// is the time of its direct parts over that of its ingest parts. Every
// part starts with InfluxDB idle and its cache empty (written to disk
// once writes stop, SnapshotWhenIdle), so no part pays for the snapshot
// or compaction of the one before, and writes its own new gateways (so
// the same number of new series on both sides), with gateway names of the
// same length. A first, unmeasured round warms InfluxDB and ingest up.
// The gateways publish as edge/uplink's sender does (Pipeline: a window
// of 16 batches of 1,000 without waiting for each PUBACK). It reports the
// median rates, the minimum, median and maximum of the rounds' ratios
// (target: >= 0.95 in every round), the run's ratio (all its direct time
// over all its ingest time, the figure to compare over runs), CPU per
// reading of each process and the share of its core influxd used on each
// side, with InfluxDB on half the cores and everything else on the other
// half, and this process's largest live heap and share of its CPU spent
// collecting garbage (ingest's, mostly: the gateways' payloads are made
// outside the heap).
func BenchmarkPipelineInflux(b *testing.B) {
	const rounds = 5
	const warm = 2                // each side's first parts: the unmeasured round
	const parts = 2*rounds + warm // each side's
	srv := influxtest.Start(b, influxtest.SnapshotWhenIdle(100*time.Millisecond))
	br := testenv.Mosquitto(b)
	pinInfluxApart(b, srv.Pid(), br.Pid())
	ids, highest := spreadIDs(parts*benchGateways, benchWorkers)
	cfg := influxConfig(b, srv, br.URL, highest)
	reg := prometheus.NewRegistry()
	addrs := start(b, cfg, app.Options{Registry: reg})
	perGw := uint64(b.N)/(benchGateways*(parts-warm)) + 1
	perGw = (perGw + benchBatch - 1) / benchBatch * benchBatch
	total := float64(perGw * benchGateways)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	// Every part's payloads and bodies are made before the clock starts,
	// outside the Go heap: 2-3 GB of fixtures on the heap set the pace of
	// ingest's garbage collector, whose garbage then grew into fresh
	// memory for the first rounds (16,000 page faults in the first
	// measured part, and 67,000 with 0.44 s of system time in a 4.2 s
	// part of 5,000-reading batches, against none in the later parts).
	fix := newOffHeap(b)
	caches := make([][]map[uint64][]byte, parts)
	bodies := make([][]string, parts)
	// With PONTE_BENCH_RATIO_AA=1 the ingest parts are direct parts too,
	// of gateways of their own (bodiesA): the spread of the rounds' ratios
	// is then the benchmark's own, what a ratio of one round can tell.
	aa := os.Getenv("PONTE_BENCH_RATIO_AA") != ""
	bodiesA := make([][]string, parts)
	for h := range parts {
		caches[h] = make([]map[uint64][]byte, benchGateways)
		for i := range benchGateways {
			n := h*benchGateways + i + 1
			caches[h][i] = map[uint64][]byte{}
			for first := uint64(1); first <= perGw; first += benchBatch {
				caches[h][i][first] = fix.bytes(ingesttest.BatchFor(ids[n-1], 42, first, min(first+benchBatch-1, perGw)))
			}
		}
		bodies[h] = fix.strings(directBodies(ids[h*benchGateways:(h+1)*benchGateways], "gd", perGw))
		if aa {
			bodiesA[h] = fix.strings(directBodies(ids[h*benchGateways:(h+1)*benchGateways], "ga", perGw))
		}
	}
	runtime.GC() // the heap copies of the fixtures

	// viaIngest connects part h's gateways, then times their runs; it adds
	// to firstDone the share of the part after which the first gateway had
	// all its batches acknowledged (the rest is a tail with fewer
	// gateways, and fewer readings in flight, than the start), and to bulk
	// and tail influxd's CPU seconds and the wall seconds before and after.
	var firstDone float64
	var bulk, tail [2]float64
	var doneAt [benchGateways]float64 // when each gateway was done, as a share of its part, in order
	influxCPU := func() float64 {
		c, err := testenv.ProcessCPU(srv.Pid())
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	viaIngest := func(h int) time.Duration {
		type gwc struct {
			g *ingesttest.Gateway
			c mqtt.Client
		}
		var gws []gwc
		for i := range benchGateways {
			cc := caches[h][i]
			g := &ingesttest.Gateway{ID: ids[h*benchGateways+i], Epoch: 42, Topics: wire.Topics{}, Batch: benchBatch,
				Window: benchWindow, Pipeline: true, ResendAfter: time.Minute, Payload: func(first, _ uint64) []byte { return cc[first] }}
			c, err := g.Connect(addrs.BrokerURL, password(g.ID))
			if err != nil {
				b.Fatal(err)
			}
			gws = append(gws, gwc{g, c})
		}
		b.StartTimer() // b's time is that of the ingest parts only
		start, c0 := time.Now(), influxCPU()
		errs := make(chan error, benchGateways)
		for _, gc := range gws {
			go func() { errs <- gc.g.Run(ctx, gc.c, perGw) }()
		}
		var first time.Duration
		var c1 float64
		var at [benchGateways]time.Duration
		for k := range benchGateways {
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			at[k] = time.Since(start)
			if k == 0 {
				first, c1 = at[k], influxCPU()
			}
		}
		d, c2 := time.Since(start), influxCPU()
		b.StopTimer()
		for k := range at {
			doneAt[k] += at[k].Seconds() / d.Seconds()
		}
		firstDone += first.Seconds() / d.Seconds()
		bulk[0], bulk[1] = bulk[0]+c1-c0, bulk[1]+first.Seconds()
		tail[0], tail[1] = tail[0]+c2-c1, tail[1]+(d-first).Seconds()
		for _, gc := range gws {
			gc.c.Disconnect(50)
		}
		return d
	}

	client := influxdb2.NewClientWithOptions(srv.URL, "", influxdb2.DefaultOptions().SetLogLevel(0))
	defer client.Close()
	api := client.WriteAPIBlocking("", srv.Bucket)
	directOf := func(bodies [][]string) func(int) time.Duration {
		return func(h int) time.Duration { return writeDirect(b, ctx, api, bodies[h]) }
	}
	direct := directOf(bodies)
	if aa {
		viaIngest = directOf(bodiesA)
	}

	// One side's sums over the rounds: wall time, CPU seconds of ingest
	// (this process), Mosquitto and influxd, CPU seconds anything else on
	// the machine took meanwhile, and the sink's requests (writing over
	// wall is how many were in flight on average).
	type side struct {
		wall     time.Duration
		cpu      [3]float64
		others   float64
		requests float64
		lines    float64
		writing  float64 // the sink's write seconds, summed over writes
		gc       float64 // this process's CPU seconds in its garbage collector
		heap     uint64  // its largest live heap after a collection, in bytes
	}
	cpu := func() [3]float64 { return cpuOf(b, br.Pid(), srv.Pid()) }
	busy := func() float64 {
		cpus, err := testenv.CPUBusy()
		if err != nil {
			b.Fatal(err)
		}
		var sum float64
		for _, c := range cpus {
			sum += c
		}
		return sum
	}
	timed := func(f func(int) time.Duration, h int, sum *side) (time.Duration, float64) {
		testenv.WaitIdle(b, srv.Pid(), 2*time.Second, 0.02, time.Minute)
		reqs, lines, secs := sinkBatches(b, reg)
		before, busy0, gc0 := cpu(), busy(), gcOf()
		d := f(h)
		after, busy1, gc1 := cpu(), busy(), gcOf()
		sum.gc += gc1.seconds - gc0.seconds
		sum.heap = max(sum.heap, gc1.heap)
		reqs2, lines2, secs2 := sinkBatches(b, reg)
		others := busy1 - busy0
		for k := range sum.cpu {
			sum.cpu[k] += after[k] - before[k]
			others -= after[k] - before[k]
		}
		sum.wall += d
		sum.others += others
		sum.requests += reqs2 - reqs
		sum.lines += lines2 - lines
		sum.writing += secs2 - secs
		return d, others
	}

	// An unmeasured round warms InfluxDB and ingest up. The first writes
	// into a new database take longer: with both sides direct
	// (PONTE_BENCH_RATIO_AA) the first round's ratio was 1.09 without it,
	// the others' 0.99-1.02. After a warm-up of one part per side the
	// first round was still the lowest through ingest (0.88-0.92 in four
	// runs, against 0.93-0.99 for the others); after a whole round, 0.97.
	for k, f := range []func(int) time.Duration{direct, viaIngest, viaIngest, direct} {
		testenv.WaitIdle(b, srv.Pid(), 2*time.Second, 0.02, time.Minute)
		f(k / 2)
	}
	firstDone, bulk, tail, doneAt = 0, [2]float64{}, [2]float64{}, [benchGateways]float64{}
	b.ResetTimer()
	b.StopTimer()
	var ingS, dirS side
	var ing, dir, ratio []float64
	hi, hd := warm, warm
	for r := range rounds {
		var ti, td time.Duration
		var oi, od float64
		runIngest := func() {
			d, o := timed(viaIngest, hi, &ingS)
			ti, oi, hi = ti+d, oi+o, hi+1
		}
		runDirect := func() {
			d, o := timed(direct, hd, &dirS)
			td, od, hd = td+d, od+o, hd+1
		}
		if r%2 == 0 {
			runDirect()
			runIngest()
			runIngest()
			runDirect()
		} else {
			runIngest()
			runDirect()
			runDirect()
			runIngest()
		}
		i, d := 2*total/ti.Seconds(), 2*total/td.Seconds()
		ing, dir, ratio = append(ing, i), append(dir, d), append(ratio, i/d)
		b.Logf("round %d: ingest %.0f readings/s, direct %.0f, ratio %.3f; other processes took %.2f cores beside ingest, %.2f beside direct",
			r+1, i, d, i/d, oi/ti.Seconds(), od/td.Seconds())
	}
	n := total * rounds * 2
	b.Logf("influxd: %.3f us/reading and %.2f of its core fed by ingest, %.3f and %.2f direct; sink: %.0f requests of %.0f lines on average, %.2f in flight on average; the first gateway done after %.2f of an ingest part on average, influxd using %.2f of its core until then and %.2f after",
		ingS.cpu[2]/n*1e6, ingS.cpu[2]/ingS.wall.Seconds(), dirS.cpu[2]/n*1e6, dirS.cpu[2]/dirS.wall.Seconds(),
		ingS.requests, ingS.lines/max(ingS.requests, 1), ingS.writing/ingS.wall.Seconds(), firstDone/(parts-warm), bulk[0]/max(bulk[1], 1e-9), tail[0]/max(tail[1], 1e-9))
	var shares []string
	for _, a := range doneAt {
		shares = append(shares, fmt.Sprintf("%.3f", a/(parts-warm)))
	}
	b.Logf("this process (ingest and the gateways): live heap up to %.0f MB, %.1f %% of its CPU in its garbage collector, beside ingest; %.0f MB and %.1f %% beside direct",
		float64(ingS.heap)/1e6, 100*ingS.gc/ingS.cpu[0], float64(dirS.heap)/1e6, 100*dirS.gc/max(dirS.cpu[0], 1e-9))
	b.Logf("gateways done, in order, after these shares of an ingest part on average: %s", strings.Join(shares, " "))
	// Where the time goes on a shared machine: CPU per reading of each
	// process in the ingest parts (this process: ingest and the
	// gateways' MQTT clients), and of influxd in the direct ones.
	b.ReportMetric(ingS.cpu[0]/n*1e6, "ingest-us/reading")
	b.ReportMetric(ingS.cpu[1]/n*1e6, "mosquitto-us/reading")
	b.ReportMetric(ingS.cpu[2]/n*1e6, "influxd-us/reading")
	b.ReportMetric(dirS.cpu[2]/n*1e6, "direct-influxd-us/reading")
	b.ReportMetric(float64(ingS.heap)/1e6, "ingest-heap-MB")
	b.ReportMetric(ingS.cpu[2]/ingS.wall.Seconds(), "influxd-cores")
	b.ReportMetric(dirS.cpu[2]/dirS.wall.Seconds(), "direct-influxd-cores")
	b.ReportMetric(ingS.others/ingS.wall.Seconds(), "others-cores")
	b.ReportMetric(dirS.others/dirS.wall.Seconds(), "direct-others-cores")
	slices.Sort(ing)
	slices.Sort(dir)
	slices.Sort(ratio)
	b.ReportMetric(ing[rounds/2], "readings/s")
	b.ReportMetric(dir[rounds/2], "direct-readings/s")
	b.ReportMetric(ratio[0], "min-ratio")
	b.ReportMetric(ratio[rounds/2], "ratio")
	b.ReportMetric(ratio[rounds-1], "max-ratio")
	b.ReportMetric(dirS.wall.Seconds()/ingS.wall.Seconds(), "run-ratio")
}

// offHeap holds a benchmark's fixtures in memory mapped outside the Go
// heap, so that they do not count toward the collector's heap goal: the
// process under test then collects as often as its own live heap makes
// it. The memory is released when the benchmark ends, unless it failed.
type offHeap struct {
	b    *testing.B
	mem  []byte // the current chunk
	used int
}

// offHeapChunk is the size of each mapping.
const offHeapChunk = 256 << 20

func newOffHeap(b *testing.B) *offHeap { return &offHeap{b: b} }

// bytes returns a copy of p outside the heap.
func (o *offHeap) bytes(p []byte) []byte {
	if len(p) > len(o.mem)-o.used {
		size := max(offHeapChunk, len(p))
		mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
		if err != nil {
			o.b.Fatalf("map %d bytes for fixtures: %v", size, err)
		}
		o.b.Cleanup(func() {
			// After a failure gateways' clients may still be sending
			// payloads from it: a use after unmapping would crash the
			// binary and lose the failure's message, so it stays mapped.
			if !o.b.Failed() {
				_ = syscall.Munmap(mem)
			}
		})
		o.mem, o.used = mem, 0
	}
	c := o.mem[o.used : o.used+len(p) : o.used+len(p)]
	copy(c, p)
	o.used += len(p)
	return c
}

// strings returns copies of ss outside the heap.
func (o *offHeap) strings(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		c := o.bytes([]byte(s))
		out[i] = unsafe.String(unsafe.SliceData(c), len(c))
	}
	return out
}

// writeDirect writes bodies to InfluxDB with directWriters at once and
// returns how long it took.
func writeDirect(b *testing.B, ctx context.Context, api influxapi.WriteAPIBlocking, bodies []string) time.Duration {
	start := time.Now()
	work := make(chan string)
	var wg sync.WaitGroup
	for range directWriters {
		wg.Go(func() {
			for body := range work {
				if err := api.WriteRecord(ctx, body); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for _, body := range bodies {
		work <- body
	}
	close(work)
	wg.Wait()
	return time.Since(start)
}

// directBodies returns the line protocol of the readings 1 to perGw of
// each of gateways, renamed with prefix for "gw" (as long as ingest's
// names), in requests of directLines lines.
func directBodies(gateways []string, prefix string, perGw uint64) []string {
	var bodies []string
	var body strings.Builder
	lines := 0
	for _, id := range gateways {
		gw := prefix + strings.TrimPrefix(id, "gw")
		for s := uint64(1); s <= perGw; s++ {
			rd := ingesttest.ReadingFor(s)
			p := write.NewPoint("ponte", map[string]string{"device": rd.Device, "gateway": gw},
				map[string]any{rd.Point: rd.Value.Any()}, rd.Time)
			body.WriteString(write.PointToLineProtocol(p, time.Nanosecond))
			if lines++; lines == directLines {
				bodies = append(bodies, body.String())
				body.Reset()
				lines = 0
			}
		}
	}
	if lines > 0 {
		bodies = append(bodies, body.String())
	}
	return bodies
}

// sinkBatches returns the sink's HTTP writes so far, the lines they
// carried and the seconds they took, from its histograms in reg.
func sinkBatches(b *testing.B, reg *prometheus.Registry) (requests, lines, seconds float64) {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	found := 0
	for _, mf := range mfs {
		switch mf.GetName() {
		case "ponte_ingest_influx_batch_points":
			h := mf.GetMetric()[0].GetHistogram()
			requests, lines = float64(h.GetSampleCount()), h.GetSampleSum()
			found++
		case "ponte_ingest_influx_write_duration_seconds":
			seconds = mf.GetMetric()[0].GetHistogram().GetSampleSum()
			found++
		}
	}
	if found != 2 {
		b.Fatal("no ponte_ingest_influx_batch_points or write_duration_seconds in the registry")
	}
	return requests, lines, seconds
}

// spreadIDs returns n gateway IDs from gw1 on, each run of workers of them
// on distinct workers of ingest's service (which picks a gateway's worker
// by the FNV-1a hash of its ID, service.Submit), so that every part's
// gateways have a worker each: with gw1-gw8, gw9-gw16 ... parts had 6 to 8
// workers for their 8 gateways, and the gateways sharing one finished last.
// highest is the number of the last ID (gw<highest>).
func spreadIDs(n, workers int) (ids []string, highest int) {
	var out []string
	used := map[uint32]bool{}
	for k := 1; len(out) < n; k++ {
		id := fmt.Sprintf("gw%d", k)
		h := fnv.New32a()
		h.Write([]byte(id))
		w := h.Sum32() % uint32(workers)
		if used[w] {
			continue
		}
		used[w] = true
		out = append(out, id)
		if len(used) == workers {
			clear(used)
		}
		highest = k
	}
	return out, highest
}

// BenchmarkMixedRequests measures what InfluxDB spends on the same lines
// in requests of different make-up: one gateway's consecutive lines, as
// the direct side of BenchmarkPipelineInflux writes them ("pure"), or
// runs of 1,000 lines (one uplink batch) of the eight gateways in turn,
// as a sink taking its queue in arrival order would ("mixed"), in
// requests of 5,000 lines or of 4,460 (the sink's average before full
// requests, see ingest/influx minBatch). Each of four rounds writes every
// make-up once, in a rotating order, each to new gateways, with InfluxDB
// idle before and on a core of its own; it reports each make-up's rate and
// influxd's CPU per reading while the writes run (writing the cache out
// after, while the next part waits for InfluxDB to be idle, is counted
// for none). A first round is unmeasured. b.N is the readings of one part
// (so ns/op is the time of the 16 measured parts over one part's readings;
// the rates and CPU per reading are the figures).
func BenchmarkMixedRequests(b *testing.B) {
	const rounds = 4 // each make-up once in each place of the order
	type makeUp struct {
		name  string
		mixed bool
		lines int
	}
	makeUps := []makeUp{{"pure-5000", false, 5000}, {"mixed-5000", true, 5000}, {"pure-4460", false, 4460}, {"mixed-4460", true, 4460}}
	srv := influxtest.Start(b, influxtest.SnapshotWhenIdle(100*time.Millisecond))
	pinInfluxApart(b, srv.Pid())
	client := influxdb2.NewClientWithOptions(srv.URL, "", influxdb2.DefaultOptions().SetLogLevel(0))
	defer client.Close()
	api := client.WriteAPIBlocking("", srv.Bucket)
	perGw := uint64(max(b.N/benchGateways, benchBatch))
	part := 0
	bodiesOf := func(m makeUp) []string {
		var lines [][]string // each gateway's
		for range benchGateways {
			id := fmt.Sprintf("gw%d", 100000+part)
			part++
			var ls []string
			for _, body := range directBodies([]string{id}, "gm", perGw) {
				ls = append(ls, strings.SplitAfter(body, "\n")...)
			}
			lines = append(lines, slices.DeleteFunc(ls, func(l string) bool { return l == "" }))
		}
		var order []string
		if m.mixed {
			for c := 0; c < int(perGw); c += benchBatch {
				for _, ls := range lines {
					order = append(order, ls[c:min(c+benchBatch, len(ls))]...)
				}
			}
		} else {
			order = slices.Concat(lines...)
		}
		var bodies []string
		for c := 0; c < len(order); c += m.lines {
			bodies = append(bodies, strings.Join(order[c:min(c+m.lines, len(order))], ""))
		}
		return bodies
	}
	ctx := context.Background()
	cpu := make([]float64, len(makeUps))
	wall := make([]float64, len(makeUps))
	b.ResetTimer()
	b.StopTimer() // the timer runs in the measured parts only
	for r := range rounds + 1 {
		for k := range makeUps {
			i := (k + r) % len(makeUps)
			bodies := bodiesOf(makeUps[i])
			testenv.WaitIdle(b, srv.Pid(), 2*time.Second, 0.02, time.Minute)
			c0, err := testenv.ProcessCPU(srv.Pid())
			if err != nil {
				b.Fatal(err)
			}
			if r > 0 {
				b.StartTimer()
			}
			d := writeDirect(b, ctx, api, bodies)
			b.StopTimer()
			c1, err := testenv.ProcessCPU(srv.Pid())
			if err != nil {
				b.Fatal(err)
			}
			if r > 0 {
				cpu[i] += c1 - c0
				wall[i] += d.Seconds()
			}
		}
	}
	n := float64(perGw * benchGateways * rounds)
	for i, m := range makeUps {
		b.Logf("%s: %.0f readings/s, influxd %.3f us/reading", m.name, n/wall[i], cpu[i]/n*1e6)
		b.ReportMetric(n/wall[i], m.name+"-readings/s")
		b.ReportMetric(cpu[i]/n*1e6, m.name+"-influxd-us/reading")
	}
}

// gcStats is what runtime/metrics says of this process's garbage
// collector: the CPU seconds it used so far, and the live heap after the
// last collection.
type gcStats struct {
	seconds float64
	heap    uint64
}

func gcOf() gcStats {
	sm := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/gc/heap/live:bytes"}}
	metrics.Read(sm)
	return gcStats{seconds: sm[0].Value.Float64(), heap: sm[1].Value.Uint64()}
}
