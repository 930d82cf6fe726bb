package agent

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// benchProfile is a Modbus device of points uint16 holding registers, read
// in ceil(points/125) requests.
func benchProfile(points int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "model: bench-%d\nmanufacturer: ponte\nsource: generated for BenchmarkAgentFootprint\ncategory: energy\nkind: modbus\nmodbus:\n  max_registers: 125\n  points:\n", points)
	for i := range points {
		fmt.Fprintf(&b, "    - {name: p%04d, table: holding, address: %d, type: uint16, unit: \"1\", sim: {pattern: random, min: 0, max: 1000}}\n", i, i)
	}
	return b.String()
}

// footprintShape is one size of BenchmarkAgentFootprint: addrs Modbus TCP
// addresses (one ponte-sim process serving them all), units devices behind
// each, points registers per device, all polled every second.
type footprintShape struct {
	name                 string
	addrs, units, points int
	target               footprintTarget
	// burn is the threads of synthetic CPU load (ponte-sim --burn) run
	// beside the agent from before it starts (BenchmarkAgentStarved).
	burn int
}

// footprintTarget is what a shape must stay within (DESIGN.md, issue 17).
type footprintTarget struct{ mb, pctCPU float64 }

// footprintShapes are the benchmark's sizes: today's city (1x, 10k
// points/s), ten times (100k points/s over 1,000 devices), a few wide
// devices (10 x 1,000 points), and 100x (1M points/s), which this 2-core
// machine does not sustain with the simulator and Mosquitto on it: the
// figures say how far it gets.
var footprintShapes = []footprintShape{
	{"1x", 1, 100, 100, footprintTarget{30, 10}, 0},
	{"10x", 10, 100, 100, footprintTarget{30, 20}, 0},
	{"wide", 1, 10, 1000, footprintTarget{30, 10}, 0},
	{"100x", 100, 100, 100, footprintTarget{0, 0}, 0},
}

// BenchmarkAgentFootprint runs the built ponte-edge against the built
// ponte-sim, forwarding to a real Mosquitto and a counting acknowledger,
// for about 20 s (PONTE_BENCH_SECONDS) per shape (footprintShapes). It
// reports the agent's resident memory (VmRSS at the end, and the peak
// VmHWM), its CPU time and the simulator's as shares of one core over the
// measured wall time, the points/s the acknowledger received, the readings
// lost (polled but never acknowledged), polls later than 1.5 intervals
// after the device's previous one, and the p99 age of a batch's oldest
// reading when it reached the acknowledger. PONTE_BENCH_EDGE runs another
// ponte-edge binary (a before/after comparison).
func BenchmarkAgentFootprint(b *testing.B) {
	secs := 20
	if s := benchSeconds(); s > 0 {
		secs = s
	}
	// PONTE_BENCH_EDGE names another ponte-edge binary, to compare a
	// change with what came before it in the same conditions.
	edgeBin := os.Getenv("PONTE_BENCH_EDGE")
	if edgeBin == "" {
		edgeBin = buildBinary(b, "github.com/ponte-city/ponte/cmd/ponte-edge")
	}
	simBin := buildBinary(b, "github.com/ponte-city/ponte/cmd/ponte-sim")
	for _, shape := range footprintShapes {
		b.Run(shape.name, func(b *testing.B) {
			runFootprint(b, shape, edgeBin, simBin, time.Duration(secs)*time.Second)
		})
	}
}

func runFootprint(b *testing.B, shape footprintShape, edgeBin, simBin string, measure time.Duration) {
	broker := testenv.Mosquitto(b)
	ack := newBenchAcker(b, broker.URL)
	dir := b.TempDir()
	profDir := filepath.Join(dir, "profiles")
	if err := os.Mkdir(profDir, 0o755); err != nil {
		b.Fatal(err)
	}
	profName := fmt.Sprintf("bench-%d", shape.points)
	testenv.WriteFile(b, filepath.Join(profDir, profName+".yaml"), benchProfile(shape.points))
	var addrs []string
	for seen := map[int]bool{}; len(addrs) < shape.addrs; {
		if p := testenv.FreePort(b); !seen[p] { // a hundred picks may repeat one
			seen[p] = true
			addrs = append(addrs, fmt.Sprintf("127.0.0.1:%d", p))
		}
	}
	if shape.burn > 0 {
		start(b, simBin, "--burn", strconv.Itoa(shape.burn))
	}
	sim := start(b, simBin, "--profile", filepath.Join(profDir, profName+".yaml"), "--modbus-tcp", strings.Join(addrs, ","),
		"--units", fmt.Sprintf("1-%d", shape.units))
	testenv.Eventually(b, 30*time.Second, "ponte-sim to listen", func() bool {
		for _, a := range addrs {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err != nil {
				return false
			}
			c.Close()
		}
		return true
	})

	var devs []string
	for i, a := range addrs {
		for u := 1; u <= shape.units; u++ {
			devs = append(devs, fmt.Sprintf("  - {name: dev-%03d-%03d, profile: %s, address: \"tcp://%s\", unit: %d, interval: 1s, location: {lon: 16.87, lat: 41.12}}\n",
				i, u, profName, a, u))
		}
	}
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	site := strings.Replace(siteYAML("gw-bench", broker.URL, dir, listen, devs...), "profiles: "+mustAbs(shippedProfiles), "profiles: "+profDir, 1)
	site = strings.Replace(site, "batch_max_wait: 100ms", "batch_max_wait: 1s", 1)
	path := filepath.Join(dir, "site.yaml")
	testenv.WriteFile(b, path, site)
	p := start(b, edgeBin, "--config", path, "--log-level", "warn")
	testenv.Eventually(b, 60*time.Second, "the agent to be ready", func() bool {
		code, _, err := tryGet("http://" + listen + "/readyz")
		return err == nil && code == 200
	})
	time.Sleep(3 * time.Second) // warm up: connections, first polls

	pid, simPid := p.cmd.Process.Pid, sim.cmd.Process.Pid
	b.ResetTimer()
	polled0 := metricSum(b, "http://"+listen+"/metrics", "ponte_edge_device_readings_total")
	skipped0 := metricSum(b, "http://"+listen+"/metrics", "ponte_edge_device_polls_skipped_total")
	latePolls0 := metricSum(b, "http://"+listen+"/metrics", "ponte_edge_device_polls_late_total")
	cpu0, sim0, t0, n0 := cpuSeconds(b, pid), cpuSeconds(b, simPid), time.Now(), ack.count()
	ack.resetLate()
	runQueue := sampleRunQueue(measure)
	cpu1, sim1, t1, n1 := cpuSeconds(b, pid), cpuSeconds(b, simPid), time.Now(), ack.count()
	polled := metricSum(b, "http://"+listen+"/metrics", "ponte_edge_device_readings_total")
	// The agent's own count of slots its buses skipped or polled late
	// (0 from a ponte-edge older than these metrics).
	skipped := metricSum(b, "http://"+listen+"/metrics", "ponte_edge_device_polls_skipped_total") - skipped0
	latePolls := metricSum(b, "http://"+listen+"/metrics", "ponte_edge_device_polls_late_total") - latePolls0
	b.StopTimer()
	wall := t1.Sub(t0).Seconds()
	rss, hwm := memKB(b, pid, "VmRSS:"), memKB(b, pid, "VmHWM:")
	cpuPct, simPct := 100*(cpu1-cpu0)/wall, 100*(sim1-sim0)/wall
	rate := float64(n1-n0) / wall
	polledRate := (polled - polled0) / wall // the metrics page lags a little at 10,000 devices
	late, p99 := ack.lateness()
	bad := ack.badReadings()
	want := float64(shape.addrs * shape.units * shape.points)

	// Everything polled up to t1 must arrive, without a gap, and be
	// acknowledged back to the agent's buffer.
	// (A bounded wait, not Eventually: the figures are reported either way.)
	// A shape without a target (100x) overloads the machine: its backlog
	// is reported, not waited for.
	delivered, patience := false, 60*time.Second
	if shape.target.mb == 0 {
		patience = 0
	}
	for end := time.Now().Add(patience); !delivered && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		delivered = ack.contiguous() >= uint64(polled) &&
			metricSum(b, "http://"+listen+"/metrics", "ponte_edge_buffer_acked_seq") >= polled
	}
	lost := max(0, polled-float64(ack.count())) // dropped ones included
	dropped := metricSum(b, "http://"+listen+"/metrics", "ponte_edge_buffer_dropped_total")
	load := loadAverage()

	b.ReportMetric(float64(rss)/1024, "MB_rss")
	b.ReportMetric(float64(hwm)/1024, "MB_rss_peak")
	b.ReportMetric(cpuPct, "pct_cpu")
	b.ReportMetric(simPct, "pct_cpu_sim")
	b.ReportMetric(rate, "readings/s")
	b.ReportMetric(polledRate, "polled_readings/s")
	b.ReportMetric(dropped, "lost_dropped_by_buffer")
	b.ReportMetric(100*rate/want, "pct_of_offered")
	b.ReportMetric(lost, "lost_readings")
	b.ReportMetric(float64(late), "late_polls")
	b.ReportMetric(p99*1000, "p99_age_ms")
	b.ReportMetric(1e6*(cpu1-cpu0)/float64(n1-n0), "cpu_us/point")
	// Polls offered in the window but not polled in it (each device's poll
	// is shape.points readings): skipped, or late past the window's end.
	shortPolls := max(0, (want-polledRate)*wall/float64(shape.points))
	b.ReportMetric(shortPolls, "late_or_lost_polls_in_window")
	b.ReportMetric(skipped, "lost_polls")
	b.ReportMetric(latePolls, "late_polls_taken")
	b.ReportMetric(runQueue, "run_queue")
	b.ReportMetric(float64(bad), "lost_to_bad_quality")
	target := "no target (as far as it goes)"
	switch {
	case shape.burn > 0:
		target = fmt.Sprintf("under %d threads of load; Telegraf's published figure: 9464 of 10000 points/s", shape.burn)
	case shape.target.mb > 0:
		target = fmt.Sprintf("target <= %.0f MB and <= %.0f %%", shape.target.mb, shape.target.pctCPU)
	}
	b.Logf("%s: %d devices x %d points at 1s (%.0f points/s offered) over %.1fs, load average %s, run queue %.1f on %d CPUs:\n"+
		"  ponte-edge RSS %.1f MB (peak %.1f MB), CPU %.2f%% of one core (%.2f us/point); %s\n"+
		"  ponte-sim CPU %.2f%% of one core\n"+
		"  %.0f points/s polled, %.0f acknowledged (%.1f%% of offered); %.0f polled in all, %.0f lost, of which %.0f dropped by the buffer; %.0f polls short in the window, %.0f skipped and %.0f polled late by the agent's count; %d late polls seen (gap over 1.5 s), %d readings not good (timeouts); p99 batch age %.0f ms",
		shape.name, shape.addrs*shape.units, shape.points, want, wall, load, runQueue, runtime.NumCPU(),
		float64(rss)/1024, float64(hwm)/1024, cpuPct, 1e6*(cpu1-cpu0)/float64(n1-n0), target,
		simPct, polledRate, rate, 100*rate/want, polled, lost, dropped, shortPolls, skipped, latePolls, late, bad, p99*1000)
	if shape.target.mb > 0 && (!delivered || dropped > 0) {
		b.Errorf("not every polled reading was delivered and acknowledged: polled %.0f, contiguous at the acknowledger %d, dropped %.0f",
			polled, ack.contiguous(), dropped)
	}
	if err := ack.err(); err != nil {
		b.Error(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	if err := p.wait(b, 30*time.Second); err != nil {
		b.Errorf("agent exit after SIGTERM: %v", err)
	}
}

// BenchmarkAgentStarved is issue 17's starvation case: 100 devices x 100
// points at 1 s (10,000 points/s, the 1x shape) while ponte-sim --burn
// keeps 20 CPU-bound threads runnable on the machine, a run queue of
// about 20 (on the two cores of the machine it was written on: a load
// average of 20). It reports what BenchmarkAgentFootprint does, plus the
// polls the agent skipped (lost_polls) or took late (late_polls_taken) by
// its own count, the polls short of the offered rate in the window
// (skipped, or late past its end: what a ponte-edge older than those
// counts can be compared by), readings of bad quality (timeouts:
// lost_to_bad_quality), and the run queue sampled during the window (run_queue, from /proc/stat's procs_running; the 1-minute load
// average lags a 60 s window and is logged beside it). Telegraf's
// published figure in the same conditions is 9,464 of 10,000 points/s;
// Telegraf is not installed here. PONTE_BENCH_BURN sets the threads;
// the window is 60 s unless PONTE_BENCH_SECONDS says otherwise.
func BenchmarkAgentStarved(b *testing.B) {
	secs, burn := 60, 20
	if s := benchSeconds(); s > 0 {
		secs = s
	}
	if n, err := strconv.Atoi(os.Getenv("PONTE_BENCH_BURN")); err == nil && n > 0 {
		burn = n
	}
	edgeBin := os.Getenv("PONTE_BENCH_EDGE")
	if edgeBin == "" {
		edgeBin = buildBinary(b, "github.com/ponte-city/ponte/cmd/ponte-edge")
	}
	simBin := buildBinary(b, "github.com/ponte-city/ponte/cmd/ponte-sim")
	shape := footprintShape{"starved", 1, 100, 100, footprintTarget{30, 0}, burn}
	runFootprint(b, shape, edgeBin, simBin, time.Duration(secs)*time.Second)
}

// sampleRunQueue waits d and returns the mean of /proc/stat's
// procs_running (tasks runnable now, this process's sampler included)
// sampled every 100 ms meanwhile; 0 when it cannot be read.
func sampleRunQueue(d time.Duration) float64 {
	var sum float64
	n := 0
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		data, err := os.ReadFile("/proc/stat")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if rest, ok := strings.CutPrefix(line, "procs_running "); ok {
				if v, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
					sum += float64(v)
					n++
				}
			}
		}
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// benchAcker stands in for ingest at benchmark rates: it counts readings,
// acks the highest sequence number up to which it has every one, and
// watches each device's poll times. Unlike acknowledger it keeps no
// record of each reading, so it holds up at 100k readings/s.
type benchAcker struct {
	c  paho.Client
	mu sync.Mutex

	n       int
	epoch   uint64
	contig  uint64
	ahead   map[uint64]bool // received above contig
	last    map[string]time.Time
	late    int
	bad     int       // readings of a quality other than good
	ages    []float64 // seconds, the oldest reading of each batch
	problem error
}

func newBenchAcker(t testing.TB, url string) *benchAcker {
	a := &benchAcker{ahead: map[uint64]bool{}, last: map[string]time.Time{}}
	a.c = mqttClient(t, url, fmt.Sprintf("bench-ingest-%d", time.Now().UnixNano()))
	if tok := a.c.Subscribe(wire.Topics{}.UpFilter(""), 1, a.onBatch); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	return a
}

func (a *benchAcker) onBatch(_ paho.Client, m paho.Message) {
	now := time.Now()
	bt, err := wire.Decode(m.Payload())
	a.mu.Lock()
	if err != nil || (a.epoch != 0 && bt.Epoch != a.epoch) {
		if a.problem == nil {
			a.problem = fmt.Errorf("batch: %v (epoch %d)", err, a.epoch)
		}
		a.mu.Unlock()
		return
	}
	a.epoch = bt.Epoch
	// What the gateway declares it will never send (dropped by its
	// buffer's caps, see wire.Batch) closes the gap, as ingest does.
	if bt.Retained > a.contig+1 {
		a.contig = bt.Retained - 1
	}
	for s := max(bt.From, a.contig+1); bt.From != 0 && s < bt.First(); s++ {
		a.ahead[s] = true
	}
	for i, s := range bt.Seqs {
		if s <= a.contig || a.ahead[s] {
			continue // a resend
		}
		a.n++
		a.ahead[s] = true
		rd := &bt.Readings[i]
		if rd.Quality != wire.QualityGood {
			a.bad++ // a timeout under starvation is delivered, but as bad_comm
		}
		if prev, ok := a.last[rd.Device]; ok && rd.Time.After(prev) {
			if rd.Time.Sub(prev) > 1500*time.Millisecond {
				a.late++
			}
		}
		if rd.Time.After(a.last[rd.Device]) {
			a.last[rd.Device] = rd.Time
		}
	}
	for a.ahead[a.contig+1] {
		delete(a.ahead, a.contig+1)
		a.contig++
	}
	if len(bt.Readings) > 0 {
		a.ages = append(a.ages, now.Sub(bt.Readings[0].Time).Seconds())
	}
	c := a.contig
	a.mu.Unlock()
	if c > 0 {
		a.c.Publish(wire.Topics{}.Ack(bt.Gateway), 1, false, wire.EncodeAck(wire.Ack{Gateway: bt.Gateway, Epoch: bt.Epoch, Seq: c}))
	}
}

func (a *benchAcker) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

func (a *benchAcker) contiguous() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.contig
}

func (a *benchAcker) err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.problem
}

// resetLate starts counting late polls, bad readings and batch ages
// afresh.
func (a *benchAcker) resetLate() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.late, a.bad, a.ages = 0, 0, nil
}

// badReadings returns the readings not of good quality since resetLate.
func (a *benchAcker) badReadings() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.bad
}

// lateness returns the late polls and the p99 batch age since resetLate.
func (a *benchAcker) lateness() (int, float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.ages) == 0 {
		return a.late, 0
	}
	s := slices.Clone(a.ages)
	slices.Sort(s)
	return a.late, s[len(s)*99/100]
}

// benchSeconds is PONTE_BENCH_SECONDS, how long a benchmark measures (0:
// its default).
func benchSeconds() int {
	s, _ := strconv.Atoi(os.Getenv("PONTE_BENCH_SECONDS"))
	return s
}

// metricSum adds up every sample of a metric on the agent's /metrics.
func metricSum(b testing.TB, url, name string) float64 {
	b.Helper()
	// At 10,000 devices the page is megabytes from a busy agent: tryGet's
	// 2 s is too short.
	c := http.Client{Timeout: time.Minute}
	resp, err := c.Get(url)
	if err != nil {
		b.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return sumSamples(string(body), name, "")
}

// sumSamples adds up the samples of a metric on a Prometheus text page
// whose labels contain match ("" for all); unparsable values count 0.
func sumSamples(page, name, match string) float64 {
	var sum float64
	for _, line := range strings.Split(page, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') || !strings.Contains(rest, match) {
			continue
		}
		v, _ := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64)
		sum += v
	}
	return sum
}

// loadAverage is the 1, 5 and 15-minute load average, for the log.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(data))[:3], " ")
}

// cpuSeconds returns the CPU seconds process pid used.
func cpuSeconds(b testing.TB, pid int) float64 {
	b.Helper()
	sec, err := testenv.ProcessCPU(pid)
	if err != nil {
		b.Fatal(err)
	}
	return sec
}

// memKB returns a kB field of /proc/PID/status.
func memKB(b testing.TB, pid int, field string) int64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				b.Fatalf("parse %s %q", field, line)
			}
			return v
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
