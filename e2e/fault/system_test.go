//go:build fault

package fault

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/testenv"
)

// Sizes of the system under test.
const (
	gateways       = 3
	metersPerGW    = 4
	pollInterval   = "200ms" // 4 meters x ~15 points read / 200 ms: ~300 readings/s per gateway
	pollTimeout    = 500 * time.Millisecond
	batchMax       = 1000 // the forwarder's default batch_max_readings
	segmentBytes   = "1MiB"
	ingestLogLevel = "debug" // app.AppliedMsg is logged at Debug
)

// repoRoot is the module's root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// gateway is one edge agent with its simulator and its link.
type gateway struct {
	id      string
	sim     *testenv.Process
	edge    *testenv.Process
	link    *testenv.Proxy
	listen  string // the agent's HTTP API
	bufDir  string
	copyDir string // hard links of every segment the buffer ever had
	watch   *segWatcher
	devices []string
}

// system is one run's processes.
type system struct {
	kind       string // "embedded" or "mosquitto"
	dir        string
	influx     *influxtest.Server
	mosq       *testenv.Broker
	ingest     *testenv.Process
	ingestHTTP string
	ingestOps  string // /readyz and /metrics
	gws        []*gateway
	tl         *timeline
}

// startSystem starts InfluxDB, the broker (Mosquitto or ingest's own),
// ingest, and per gateway a simulator, a proxy and an edge agent.
func startSystem(t *testing.T, kind, bins string, tl *timeline) *system {
	t.Helper()
	root := repoRoot(t)
	profiles := filepath.Join(root, "firmware-profiles")
	s := &system{kind: kind, dir: t.TempDir(), tl: tl}
	s.influx = influxtest.Start(t)
	s.ingestHTTP = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	s.ingestOps = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	var brokerAddr string
	if kind == "mosquitto" {
		s.mosq = testenv.Mosquitto(t)
		brokerAddr = fmt.Sprintf("127.0.0.1:%d", s.mosq.Port)
	} else {
		brokerAddr = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	}

	var ingestGWs, sites strings.Builder
	for i := 1; i <= gateways; i++ {
		g := &gateway{id: fmt.Sprintf("gw%d", i)}
		gdir := filepath.Join(s.dir, g.id)
		g.bufDir, g.copyDir = filepath.Join(gdir, "buffer"), filepath.Join(gdir, "segments-seen")
		for _, d := range []string{g.bufDir, g.copyDir} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		simAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		g.sim = testenv.NewProcess(t, g.id+"-sim", filepath.Join(bins, "ponte-sim"),
			"--profile", filepath.Join(profiles, "eastron-sdm630-v2.yaml"), "--modbus-tcp", simAddr,
			"--units", fmt.Sprintf("1-%d", metersPerGW), "--seed", fmt.Sprint(simSeed(i)))
		g.sim.Ready = testenv.TCPOpen(simAddr)
		g.sim.Start()
		g.link = testenv.StartProxy(t, brokerAddr)
		g.listen = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		password := "pw-" + g.id + "-" + testenv.Secret(t)
		var site strings.Builder
		fmt.Fprintf(&site, "gateway: {id: %s}\nprofiles: %s\nuplink:\n  broker: tcp://%s\n", g.id, profiles, g.link.Addr())
		if kind != "mosquitto" {
			fmt.Fprintf(&site, "  password: %s\n", password)
		}
		site.WriteString("  batch_max_wait: 200ms\n  ack_timeout: 3s\n  backoff_base: 100ms\n  backoff_max: 1s\n")
		fmt.Fprintf(&site, "buffer: {dir: %s, segment_bytes: %s, sync_interval: 50ms}\nhttp: {listen: %q}\ndevices:\n", g.bufDir, segmentBytes, g.listen)
		fmt.Fprintf(&ingestGWs, "  - id: %s\n", g.id)
		if kind != "mosquitto" {
			fmt.Fprintf(&ingestGWs, "    password: %s\n", password)
		}
		for u := 1; u <= metersPerGW; u++ {
			name := fmt.Sprintf("%s-meter-%d", g.id, u)
			g.devices = append(g.devices, name)
			fmt.Fprintf(&site, "  - {name: %s, profile: eastron-sdm630-v2, address: \"tcp://%s\", unit: %d, interval: %s, timeout: %s, area: Firenze, location: {lon: %.5f, lat: %.5f}}\n",
				name, simAddr, u, pollInterval, pollTimeout, 11.2500+0.001*float64(i), 43.7700+0.001*float64(u))
		}
		sitePath := filepath.Join(gdir, "site.yaml")
		testenv.WriteFile(t, sitePath, site.String())
		fmt.Fprintf(&sites, "%s, ", sitePath)
		g.edge = testenv.NewProcess(t, g.id+"-edge", filepath.Join(bins, "ponte-edge"), "--config", sitePath, "--log-level", "info")
		listen := g.listen
		g.edge.Ready = testenv.HTTPStatus("http://"+listen+"/readyz", http.StatusOK)
		s.gws = append(s.gws, g)
	}

	var ing strings.Builder
	if kind == "mosquitto" {
		fmt.Fprintf(&ing, "broker:\n  url: tcp://%s\n", brokerAddr)
	} else {
		fmt.Fprintf(&ing, "broker:\n  listen: %s\n", brokerAddr)
	}
	fmt.Fprintf(&ing, "influx:\n  url: %s\n  bucket: %s\n  retry_base: 100ms\n  retry_max: 1s\n", s.influx.URL, s.influx.Bucket)
	fmt.Fprintf(&ing, "http:\n  listen: %s\n  ops_listen: %s\nstate_dir: %s\ndead_letter:\n  dir: %s\n", s.ingestHTTP, s.ingestOps, filepath.Join(s.dir, "ingest-state"), filepath.Join(s.dir, "dead-letter"))
	fmt.Fprintf(&ing, "gateways:\n%s", ingestGWs.String())
	fmt.Fprintf(&ing, "sites: [%s]\nprofiles: %s\ntwin:\n  areas: [%s]\n  tokens: [%s]\n",
		strings.TrimSuffix(sites.String(), ", "), profiles, filepath.Join(root, "geo/data/firenze-metro-municipalities.geojson"), testenv.Secret(t))
	ingestPath := filepath.Join(s.dir, "ingest.yaml")
	testenv.WriteFile(t, ingestPath, ing.String())
	s.ingest = testenv.NewProcess(t, "ingest", filepath.Join(bins, "ponte-ingest"), "--config", ingestPath, "--log-level", ingestLogLevel)
	readyz := "http://" + s.ingestOps + "/readyz"
	s.ingest.Ready = testenv.HTTPStatus(readyz, http.StatusOK)
	s.ingest.Start()

	for _, g := range s.gws {
		g.watch = watchSegments(t, g.bufDir, g.copyDir)
		g.edge.Start()
	}
	return s
}

// edgeStatus is the part of the agent's /status the test reads.
type edgeStatus struct {
	Buffer struct {
		Records    uint64 `json:"records"`
		Epoch      string `json:"epoch"`
		LastSeq    uint64 `json:"last_seq"`
		DurableSeq uint64 `json:"durable_seq"`
		AckedSeq   uint64 `json:"acked_seq"`
	} `json:"buffer"`
	Uplink struct {
		Connected bool   `json:"connected"`
		LastError string `json:"last_error"`
	} `json:"uplink"`
}

// status reads the agent's /status; ok is false while it is down.
func (g *gateway) status() (st edgeStatus, ok bool) {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get("http://" + g.listen + "/status")
	if err != nil {
		return st, false
	}
	defer resp.Body.Close()
	return st, resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil
}

// statusLine summarises every gateway's state for the timeline.
func (s *system) statusLine() string {
	var parts []string
	for _, g := range s.gws {
		if st, ok := g.status(); ok {
			link := "up"
			if !st.Uplink.Connected {
				link = "down"
			}
			parts = append(parts, fmt.Sprintf("%s durable %d acked %d link %s", g.id, st.Buffer.DurableSeq, st.Buffer.AckedSeq, link))
		} else {
			parts = append(parts, g.id+" (agent down)")
		}
	}
	return strings.Join(parts, "; ")
}
