package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/testenv"
)

// BenchmarkRTUBusLimit polls an RS-485 line at 19200 baud 8E1 as fast as
// it carries: four units of 100 holding registers (one request each)
// asked for every 100 ms, which the line cannot do, so the bus goroutine
// polls back to back. The line is a socat pty pair, which moves bytes at
// memory speed; ponte-sim --pace-line answers each request when a real
// line would deliver the reply's last character (the request's 8
// characters, the 3.5-character silence, the reply's 5 + 2N), and
// ponte-edge keeps its own 3.5-character silence before each request.
//
// The line's theoretical maximum for this request shape is N points per
// (8 + 5 + 2N characters + 2 silences), with no slave turnaround: 793
// points/s at N = 100. The benchmark reports the points/s the agent
// polled (good readings counted by its metrics) and their share of that.
func BenchmarkRTUBusLimit(b *testing.B) {
	const (
		baud, points, units = 19200, 100, 4
	)
	secs := 20
	if s := benchSeconds(); s > 0 {
		secs = s
	}
	edgeBin := buildBinary(b, "github.com/ponte-city/ponte/cmd/ponte-edge")
	simBin := buildBinary(b, "github.com/ponte-city/ponte/cmd/ponte-sim")
	broker := testenv.Mosquitto(b)
	newBenchAcker(b, broker.URL)
	ours, theirs := testenv.PtyPair(b)
	dir := b.TempDir()
	profDir := filepath.Join(dir, "profiles")
	if err := os.Mkdir(profDir, 0o755); err != nil {
		b.Fatal(err)
	}
	prof := filepath.Join(profDir, "bench-100.yaml")
	testenv.WriteFile(b, prof, benchProfile(points))
	start(b, simBin, "--profile", prof, "--modbus-rtu", theirs, "--baud", fmt.Sprint(baud), "--parity", "E",
		"--pace-line", "--units", fmt.Sprintf("1-%d", units))

	var devs []string
	for u := 1; u <= units; u++ {
		devs = append(devs, fmt.Sprintf("  - {name: rtu-%d, profile: bench-100, address: \"rtu://%s?baud=%d&parity=E\", unit: %d, interval: 100ms, timeout: 1s, location: {lon: 16.87, lat: 41.12}}\n",
			u, ours, baud, u))
	}
	listen := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	site := strings.Replace(siteYAML("gw-rtu", broker.URL, dir, listen, devs...), "profiles: "+mustAbs(shippedProfiles), "profiles: "+profDir, 1)
	path := filepath.Join(dir, "site.yaml")
	testenv.WriteFile(b, path, site)
	start(b, edgeBin, "--config", path, "--log-level", "warn")
	metrics := "http://" + listen + "/metrics"
	good := func() float64 {
		code, body, err := tryGet(metrics)
		if err != nil || code != 200 {
			return 0
		}
		return sumSamples(body, "ponte_edge_device_readings_total", `quality="good"`)
	}
	testenv.Eventually(b, 30*time.Second, "good RTU readings", func() bool { return good() > 0 })
	time.Sleep(2 * time.Second) // warm up

	b.ResetTimer()
	n0, t0 := good(), time.Now()
	time.Sleep(time.Duration(secs) * time.Second)
	n1, t1 := good(), time.Now()
	b.StopTimer()
	rate := (n1 - n0) / t1.Sub(t0).Seconds()
	line := sim.NewLineTiming(baud, 8, "E", 1)
	cycle := line.Exchange(8, 5+2*points) + line.Silence()
	theory := points / cycle.Seconds()
	b.ReportMetric(rate, "points/s")
	b.ReportMetric(theory, "line_max_points/s")
	b.ReportMetric(100*rate/theory, "pct_of_line")
	b.Logf("RTU %d baud 8E1, %d units x %d registers: %.0f points/s polled over %.1fs (load average %s); "+
		"the line's maximum is %.1f points/s (%v per request of %d registers: 8 + %d characters of %v and two silences of %v); Ponte reaches %.1f%%",
		baud, units, points, rate, t1.Sub(t0).Seconds(), loadAverage(), theory, cycle, points, 5+2*points, line.Char(), line.Silence(), 100*rate/theory)
	if n1 <= n0 {
		b.Fatal("no readings polled over the RTU line")
	}
}
