package agent

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// benchProfile is a Modbus device of 100 holding registers, read in one
// request: 100 devices polled every second make 10k points/s.
func benchProfile() string {
	var b strings.Builder
	b.WriteString("model: bench-100\nmanufacturer: ponte\nsource: generated for BenchmarkAgentFootprint\ncategory: energy\nkind: modbus\nmodbus:\n  max_registers: 125\n  points:\n")
	for i := range 100 {
		fmt.Fprintf(&b, "    - {name: p%03d, table: holding, address: %d, type: uint16, unit: \"1\", sim: {pattern: random, min: 0, max: 1000}}\n", i, i)
	}
	return b.String()
}

// BenchmarkAgentFootprint runs the built ponte-edge against the built
// ponte-sim serving 100 Modbus TCP units of 100 points each, polled every
// second (10k points/s), forwarding to a real Mosquitto and a test
// acknowledger, for about 20 s (PONTE_BENCH_SECONDS). It reports the
// agent's resident memory (VmRSS at the end, and the peak VmHWM), its CPU
// time as a share of one core over the measured wall time, and the
// points/s ingest received. Targets: <= 30 MB and <= 10 %.
func BenchmarkAgentFootprint(b *testing.B) {
	secs := 20
	if s, err := strconv.Atoi(os.Getenv("PONTE_BENCH_SECONDS")); err == nil && s > 0 {
		secs = s
	}
	edgeBin := buildBinary(b, "github.com/ponte-city/ponte/cmd/ponte-edge")
	simBin := buildBinary(b, "github.com/ponte-city/ponte/cmd/ponte-sim")
	broker := testenv.Mosquitto(b)
	ack := newAcknowledger(b, broker.URL, true)
	dir := b.TempDir()
	profDir := filepath.Join(dir, "profiles")
	if err := os.Mkdir(profDir, 0o755); err != nil {
		b.Fatal(err)
	}
	testenv.WriteFile(b, filepath.Join(profDir, "bench-100.yaml"), benchProfile())
	simAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	start(b, simBin, "--profile", filepath.Join(profDir, "bench-100.yaml"), "--modbus-tcp", simAddr, "--units", "1-100")
	testenv.Eventually(b, 10*time.Second, "ponte-sim to listen", func() bool {
		c, err := net.DialTimeout("tcp", simAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	var devs []string
	for u := 1; u <= 100; u++ {
		devs = append(devs, fmt.Sprintf("  - {name: dev-%03d, profile: bench-100, address: \"tcp://%s\", unit: %d, interval: 1s, location: {lon: 16.87, lat: 41.12}}\n", u, simAddr, u))
	}
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	site := strings.Replace(siteYAML("gw-bench", broker.URL, dir, listen, devs...), "profiles: "+mustAbs(shippedProfiles), "profiles: "+profDir, 1)
	site = strings.Replace(site, "batch_max_wait: 100ms", "batch_max_wait: 1s", 1)
	path := filepath.Join(dir, "site.yaml")
	testenv.WriteFile(b, path, site)
	p := start(b, edgeBin, "--config", path, "--log-level", "warn")
	testenv.Eventually(b, 15*time.Second, "the agent to be ready", func() bool {
		code, _, err := tryGet("http://" + listen + "/readyz")
		return err == nil && code == 200
	})
	time.Sleep(3 * time.Second) // warm up: connections, first polls

	pid := p.cmd.Process.Pid
	count := func() int {
		n := 0
		for _, v := range ack.devices() {
			n += v
		}
		return n
	}
	b.ResetTimer()
	cpu0, t0, n0 := cpuSeconds(b, pid), time.Now(), count()
	time.Sleep(time.Duration(secs) * time.Second)
	cpu1, t1, n1 := cpuSeconds(b, pid), time.Now(), count()
	b.StopTimer()
	wall := t1.Sub(t0).Seconds()
	rss, hwm := memKB(b, pid, "VmRSS:"), memKB(b, pid, "VmHWM:")
	cpuPct := 100 * (cpu1 - cpu0) / wall
	rate := float64(n1-n0) / wall
	b.ReportMetric(float64(rss)/1024, "MB_rss")
	b.ReportMetric(float64(hwm)/1024, "MB_rss_peak")
	b.ReportMetric(cpuPct, "pct_cpu")
	b.ReportMetric(rate, "readings/s")
	b.Logf("ponte-edge over %.1fs: RSS %.1f MB (peak %.1f MB), CPU %.2f%% of one core, %.0f points/s at ingest",
		wall, float64(rss)/1024, float64(hwm)/1024, cpuPct, rate)
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		b.Fatal(err)
	}
	if err := p.wait(b, 30*time.Second); err != nil {
		b.Errorf("agent exit after SIGTERM: %v", err)
	}
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
