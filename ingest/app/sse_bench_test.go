package app_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// The twin freshness target (DESIGN.md, issue 17): p99 <= 200 ms from
// ingest receipt to an SSE client, with 100,000 sensor sites, 1,000 SSE
// clients and 1,000 changes/s.

// sseSize is a twin and a change rate of the SSE benchmarks: gateways
// site configs of perGw meters each, a change every interval.
type sseSize struct {
	gateways, perGw int
	interval        time.Duration
}

// sseToday is the size the single-instance and cluster benchmarks were
// first measured at: 10,000 sites, ~167 changes/s (every site once a
// minute).
var sseToday = sseSize{gateways: 100, perGw: 100, interval: 6 * time.Millisecond}

// sseSizes are the cost curve of BenchmarkIngestToSSE: 1,000 sites at
// ~17 changes/s, today's size, and 100,000 sites at 1,000 changes/s.
var sseSizes = []sseSize{
	{gateways: 10, perGw: 100, interval: 60 * time.Millisecond},
	sseToday,
	{gateways: 1000, perGw: 100, interval: time.Millisecond},
}

func (s sseSize) String() string {
	return fmt.Sprintf("sites=%d/rate=%d", s.gateways*s.perGw, int(time.Second/s.interval))
}

// BenchmarkIngestToSSE measures, through the whole ingest, the latency from
// a gateway publishing a batch (the reading's acquisition time is the
// publish time) to each of 1,000 SSE clients having read and decoded the
// change: embedded broker, decode, validation, dedup, sink (in memory),
// twin placed from the gateways' site configs (100 meters each), API, at
// each of sseSizes. The clients run in the same process, so on a small
// machine they compete with ingest for the cores (real clients are
// browsers elsewhere); they find the timestamp without decoding each
// event, to cost as little as they can.
func BenchmarkIngestToSSE(b *testing.B) {
	for _, size := range sseSizes {
		b.Run(size.String(), func(b *testing.B) { benchIngestToSSE(b, size) })
	}
}

func benchIngestToSSE(b *testing.B, size sseSize) {
	dir := b.TempDir()
	cfg, _ := writeConfig(b, dir, "", sseTwinConfig(b, dir, size), size.gateways)
	addrs := start(b, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	topics := cfg.Topics()
	pubs := make([]func([]byte), size.gateways)
	clients := sseSubscribe(b, addrs.HTTP)
	for g := range size.gateways {
		c, err := ingesttest.Connect(addrs.BrokerURL, fmt.Sprintf("ponte-edge-gw%d", g+1), fmt.Sprintf("gw%d", g+1), password(fmt.Sprintf("gw%d", g+1)))
		if err != nil {
			b.Fatal(err)
		}
		defer c.Disconnect(50)
		topic := topics.Up(fmt.Sprintf("gw%d", g+1))
		pubs[g] = func(p []byte) { c.Publish(topic, 1, false, p) }
	}
	clients.measure(b, pubs, 1, size)
}

// sseToken is the operator token of the SSE benchmarks' twin.
const sseToken = "bench-operator-token-0123456789"

// sseTwinConfig writes the site configs of size's gateways into dir and
// returns ingest's config lines for them and the twin.
func sseTwinConfig(b *testing.B, dir string, size sseSize) string {
	b.Helper()
	for g := range size.gateways {
		var y strings.Builder
		fmt.Fprintf(&y, "gateway:\n  id: gw%d\nuplink:\n  broker: tcp://127.0.0.1:1883\nbuffer:\n  dir: %s\ndevices:\n", g+1, dir)
		for d := range size.perGw {
			// A grid from central Firenze, about 20 m apart (north
			// across the metropolitan area at 1,000 gateways).
			fmt.Fprintf(&y, "  - {name: m%d, profile: eastron-sdm630-v2, address: \"tcp://127.0.0.1:%d\", unit: 1, interval: 60s, location: {lon: %.5f, lat: %.5f}}\n",
				d, 10000+d, 11.22+float64(d)*0.0003, 43.76+float64(g)*0.0002)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("site%d.yaml", g+1)), []byte(y.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return fmt.Sprintf("sites: [%s]\nprofiles: %s\ntwin:\n  areas: [%s]\n  tokens: [%s]\n",
		filepath.Join(dir, "site*.yaml"), abs(b, "../../firmware-profiles"), abs(b, "../../geo/data/firenze-metro-municipalities.geojson"), sseToken)
}

// sseClients is how many SSE clients each benchmark connects: 1,000, or
// PONTE_BENCH_SSE_CLIENTS (a smaller number measures the latency of the
// path on a machine that 1,000 clients in the benchmark's own process
// saturate).
var sseClients = func() int {
	if n, err := strconv.Atoi(os.Getenv("PONTE_BENCH_SSE_CLIENTS")); err == nil && n > 0 {
		return n
	}
	return 1000
}()

// sseReaders are sseClients SSE clients of one ingest, each with the
// latencies it measured; or, with PONTE_BENCH_SSE_PROCESS=1, a child
// process running them (proc), so that the ingest process's CPU time is
// its own.
type sseReaders struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	lat    [][]time.Duration
	got    []atomic.Int64
	proc   *sseProcess
}

// sseInProcess is false when PONTE_BENCH_SSE_PROCESS=1: the clients run
// in a child process (the test binary again) and ms_cpu_per_change is
// the ingest process's alone, ms_client_cpu_per_change the clients'.
var sseInProcess = os.Getenv("PONTE_BENCH_SSE_PROCESS") != "1"

// envSSEClients is set, to the stream's address, in a child process of
// SSE clients (TestMain).
const envSSEClients = "PONTE_BENCH_SSE_CHILD_ADDR"

// sseSubscribe connects sseClients clients to the SSE stream at httpAddr
// and waits until each has its first event.
func sseSubscribe(b *testing.B, httpAddr string) *sseReaders {
	b.Helper()
	if !sseInProcess {
		p, err := startSSEProcess(httpAddr)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(p.stop)
		return &sseReaders{cancel: func() {}, proc: p}
	}
	s, err := connectReaders(httpAddr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.cancel)
	return s
}

// connectReaders connects sseClients clients to the SSE stream at
// httpAddr and waits (60 s at most) until each has its first event.
func connectReaders(httpAddr string) (*sseReaders, error) {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sseReaders{cancel: cancel, lat: make([][]time.Duration, sseClients), got: make([]atomic.Int64, sseClients)}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: sseClients}}
	var ready atomic.Int64
	for i := range sseClients {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+httpAddr+"/api/v1/stream?type=site", nil)
			// A token in the URL is refused (it would land in access logs).
			req.Header.Set("Authorization", "Bearer "+sseToken)
			resp, err := client.Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			// A site's event is under a KiB; a longer line (the
			// indicators of every area) is skipped in pieces rather than
			// read whole: a 1 MiB buffer per client made the harness
			// allocate and clear a GiB, and the figures measured that.
			// 64 KiB takes a stream's write (one per 50 ms) in one read.
			r := bufio.NewReaderSize(resp.Body, 64<<10)
			readLine := func() ([]byte, error) {
				line, err := r.ReadSlice('\n')
				for err == bufio.ErrBufferFull {
					line = nil
					_, err = r.ReadSlice('\n')
				}
				return line, err
			}
			if _, err := readLine(); err != nil {
				return
			}
			ready.Add(1)
			for {
				line, err := readLine()
				if err != nil {
					return
				}
				// A light client: it finds the power attribute's
				// observedAt without decoding the whole feature, so the
				// measuring harness costs the shared cores little.
				data, ok := bytes.CutPrefix(line, []byte("data: "))
				if !ok {
					continue
				}
				_, rest, ok := bytes.Cut(data, []byte(`"power":{`))
				if !ok {
					continue
				}
				_, rest, ok = bytes.Cut(rest, []byte(`"observedAt":"`))
				if !ok {
					continue
				}
				ts, _, _ := bytes.Cut(rest, []byte(`"`))
				if at, err := time.Parse(time.RFC3339Nano, string(ts)); err == nil {
					s.lat[i] = append(s.lat[i], time.Since(at))
					s.got[i].Add(1)
				}
			}
		}()
	}
	for deadline := time.Now().Add(60 * time.Second); ready.Load() < int64(sseClients); {
		if time.Now().After(deadline) {
			cancel()
			return nil, fmt.Errorf("only %d of %d SSE clients subscribed", ready.Load(), sseClients)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return s, nil
}

// wait waits (60 s at most) until every client has n events.
func (s *sseReaders) wait(n int64) {
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		done := true
		for i := range s.got {
			done = done && s.got[i].Load() >= n
		}
		if done {
			break
		}
	}
}

// latencies stops the clients and returns the latencies they measured,
// but for each client's first skip (the warm-up).
func (s *sseReaders) latencies(skip int) []time.Duration {
	s.cancel()
	s.wg.Wait()
	var all []time.Duration
	for _, l := range s.lat {
		all = append(all, l[min(skip, len(l)):]...)
	}
	return all
}

// processCPU is the CPU time (user and system) the process has used.
func processCPU(b *testing.B) time.Duration {
	sec, err := testenv.SelfCPU()
	if err != nil {
		b.Fatal(err)
	}
	return time.Duration(sec * float64(time.Second))
}

// measure publishes b.N one-reading batches of epoch, one every
// size.interval, gateway and meter in turn through pubs (one per gateway;
// the reading's acquisition time is the publish time), waits until every
// client has every change, stops the clients and reports the latencies'
// p50 and p99, the events per second and the changes per second
// published (below the size's rate when the publisher falls behind).
func (s *sseReaders) measure(b *testing.B, pubs []func([]byte), epoch uint64, size sseSize) {
	b.Helper()
	publish := func(i int) {
		g, d := i%size.gateways, (i/size.gateways)%size.perGw
		batch := &wire.Batch{Gateway: fmt.Sprintf("gw%d", g+1), Epoch: epoch, Seqs: []uint64{uint64(i/size.gateways + 1)},
			Readings: []wire.Reading{{Device: fmt.Sprintf("m%d", d), Point: "total_power", Value: wire.Float(float64(100 + i)), Unit: "W", Time: time.Now()}}}
		data, err := wire.Encode(nil, batch)
		if err != nil {
			b.Fatal(err)
		}
		pubs[g](data)
	}
	// pace publishes changes from to to-1, change i due at start + (i -
	// from) x interval; one that falls behind goes at once (a ticker
	// would drop the ticks missed, and the rate offered with them).
	pace := func(from, to int) time.Time {
		start := time.Now()
		for i := from; i < to; i++ {
			if wait := time.Until(start.Add(time.Duration(i-from) * size.interval)); wait > 0 {
				time.Sleep(wait)
			}
			publish(i)
		}
		return start
	}
	// A second of changes first, unmeasured: each stream's buffer grows
	// to the size of its writes once (a page fault per page it touches
	// first), which a short run would count as a cost per change.
	warm := max(50, int(time.Second/size.interval))
	pace(0, warm)
	if s.proc != nil {
		if err := s.proc.warm(int64(warm)); err != nil {
			b.Fatal(err)
		}
	} else {
		s.wait(int64(warm))
	}
	b.ResetTimer()
	if s.proc != nil {
		if err := s.proc.start(); err != nil {
			b.Fatal(err)
		}
	}
	cpu0 := processCPU(b)
	start := pace(warm, warm+b.N)
	published := time.Since(start)
	clientCPU, count := time.Duration(-1), 0
	if s.proc != nil {
		var err error
		if clientCPU, count, err = s.proc.wait(int64(warm+b.N), warm); err != nil {
			b.Fatal(err)
		}
	} else {
		s.wait(int64(warm + b.N))
	}
	elapsed := time.Since(start)
	cpu := processCPU(b) - cpu0
	b.StopTimer()
	var all []time.Duration
	if s.proc != nil {
		var err error
		if all, err = s.proc.latencies(count); err != nil {
			b.Fatal(err)
		}
	} else {
		all = s.latencies(warm)
	}
	if want := b.N * sseClients; len(all) < want {
		b.Fatalf("%d events received, want %d", len(all), want)
	}
	slices.Sort(all)
	ms := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))]) / float64(time.Millisecond) }
	b.ReportMetric(ms(0.50), "ms_p50")
	b.ReportMetric(ms(0.99), "ms_p99")
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/published.Seconds(), "changes/s")
	// CPU time of the process (ingest, and its clients unless they run
	// in a child process: then the child's is ms_client_cpu_per_change)
	// per change: steadier than the latencies on a shared machine.
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "ms_cpu_per_change")
	if clientCPU >= 0 {
		b.ReportMetric(float64(clientCPU)/float64(time.Millisecond)/float64(b.N), "ms_client_cpu_per_change")
	}
}
