package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Startup waits are generous: the demo shares small machines with builds
// and tests, and influxd's first start creates its files.
const startWait = 3 * time.Minute

// stack is the running demo: its processes and the addresses to poll.
type stack struct {
	cfg   Config
	work  string
	procs *procs
	ports *ports
	plan  *Plan
	token string
	// tenants are the demo's municipalities: each city of the plan, its
	// gateways and an operator token that sees only them.
	tenants []demoTenant
	influx  string // http://127.0.0.1:port
	ingest  string // public listener, http://127.0.0.1:port
	ops     string // ops listener, http://127.0.0.1:port
	broker  string // embedded broker, 127.0.0.1:port
	dead    string // ingest's dead-letter folder
}

// demoTenant is one of the demo's municipalities.
type demoTenant struct {
	ID, Name, City, Token string
	Gateways              []string
}

// cityTenants returns a tenant per city of p: the municipality by name,
// its gateways, a new token.
func cityTenants(p *Plan) []demoTenant {
	var out []demoTenant
	for _, city := range p.Cities() {
		t := demoTenant{ID: strings.ToLower(city), Name: "Comune di " + city, City: city, Token: secret()}
		for _, g := range p.Gateways {
			if g.City == city {
				t.Gateways = append(t.Gateways, g.Site.Gateway.ID)
			}
		}
		out = append(out, t)
	}
	return out
}

// tools are the external programs the demo runs.
type tools struct {
	influxd, mosquitto, socat string
}

// findTools looks the components up on PATH and where the project's
// bootstrap puts them: influxd in ./.tools/bin or $(go env GOPATH)/bin,
// mosquitto in /usr/sbin (Debian's package).
func findTools(root string) (tools, error) {
	var t tools
	var missing []string
	find := func(name, install string, dirs ...string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, d := range dirs {
			p := filepath.Join(d, name)
			if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
				return p
			}
		}
		missing = append(missing, fmt.Sprintf("%s (%s)", name, install))
		return ""
	}
	t.influxd = find("influxd", "go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10", filepath.Join(root, ".tools", "bin"), goBin())
	t.mosquitto = find("mosquitto", "apt-get install mosquitto", "/usr/sbin")
	t.socat = find("socat", "apt-get install socat")
	if len(missing) > 0 {
		return t, fmt.Errorf("the demo needs %s", strings.Join(missing, ", "))
	}
	return t, nil
}

// goBin is $(go env GOPATH)/bin, or ~/go/bin without a go command.
func goBin() string {
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		if p := strings.TrimSpace(string(out)); p != "" {
			return filepath.Join(strings.Split(p, string(os.PathListSeparator))[0], "bin")
		}
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go", "bin")
}

// secret is 32 random hex digits.
func secret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand panics on a broken source)
	return hex.EncodeToString(b)
}

// start brings the whole chain up, each component once the one before
// answers: InfluxDB, the LoRaWAN network servers' brokers, the pty pairs
// and simulators, ingest, then the gateways.
func (s *stack) start(ctx context.Context) error {
	t, err := findTools(s.cfg.Root)
	if err != nil {
		return err
	}
	for _, d := range []string{"logs", "pty", "influx", "ingest"} {
		if err := os.MkdirAll(filepath.Join(s.work, d), 0o700); err != nil {
			return err
		}
	}
	s.broker = fmt.Sprintf("127.0.0.1:%d", s.ports.next())
	plan, err := MakePlan(PlanConfig{Root: s.cfg.Root, Work: s.work, Port: s.ports.next, Secret: secret, Ingest: s.broker})
	if err != nil {
		return err
	}
	s.plan = plan
	if err := plan.WriteSites(); err != nil {
		return err
	}
	s.status("InfluxDB 1.8")
	if err := s.startInflux(ctx, t.influxd); err != nil {
		return err
	}
	if err := s.startDevices(ctx, t); err != nil {
		return err
	}
	s.status("ponte-ingest")
	if err := s.startIngest(ctx); err != nil {
		return err
	}
	for _, g := range plan.Gateways {
		s.status(fmt.Sprintf("ponte-edge %s (%s, %d devices)", g.Site.Gateway.ID, g.City, len(g.Site.Devices)))
		if _, err := s.procs.start("edge-"+g.Site.Gateway.ID, filepath.Join(s.cfg.Bin, "ponte-edge"), "--config", g.File, "--log-level", "warn"); err != nil {
			return err
		}
	}
	for _, g := range plan.Gateways {
		if err := s.procs.waitFor(ctx, startWait, "ponte-edge "+g.Site.Gateway.ID+" on "+g.HTTP, httpOK("http://"+g.HTTP+"/status", "")); err != nil {
			return err
		}
	}
	return nil
}

// status prints a startup step on the error stream (stdout is for the
// URLs, the status block and the summary).
func (s *stack) status(what string) { fmt.Fprintf(s.cfg.Err, "== starting %s\n", what) }

func (s *stack) startInflux(ctx context.Context, bin string) error {
	port, rpc := s.ports.next(), s.ports.next()
	dir := filepath.Join(s.work, "influx")
	conf := fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = %q
[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%d"
  log-enabled = false
[logging]
  level = "warn"
`, rpc, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), port)
	confPath := filepath.Join(s.work, "influxd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return err
	}
	if _, err := s.procs.start("influxd", bin, "-config", confPath); err != nil {
		return err
	}
	s.influx = fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := s.procs.waitFor(ctx, startWait, "InfluxDB on "+s.influx, httpStatus(s.influx+"/ping", 204)); err != nil {
		return err
	}
	resp, err := http.PostForm(s.influx+"/query", url.Values{"q": {"CREATE DATABASE ponte"}})
	if err != nil {
		return fmt.Errorf("create database: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("create database: InfluxDB answered %s", resp.Status)
	}
	return nil
}

// startDevices starts the network servers' brokers, the pty pairs and the
// simulators, in real time (ponte-sim's default time scale, 1), and waits
// until each simulator serves.
func (s *stack) startDevices(ctx context.Context, t tools) error {
	for _, city := range s.plan.Cities() {
		port, ok := s.plan.Brokers[city]
		if !ok {
			continue
		}
		s.status(fmt.Sprintf("Mosquitto as %s's LoRaWAN network server broker on 127.0.0.1:%d", city, port))
		conf := filepath.Join(s.work, "lorawan-"+strings.ToLower(city)+".conf")
		if err := os.WriteFile(conf, fmt.Appendf(nil, "listener %d 127.0.0.1\nallow_anonymous true\n", port), 0o600); err != nil {
			return err
		}
		if _, err := s.procs.start("mosquitto-"+strings.ToLower(city), t.mosquitto, "-c", conf); err != nil {
			return err
		}
		if err := s.procs.waitFor(ctx, startWait, city+"'s LoRaWAN broker", tcpOpen(fmt.Sprintf("127.0.0.1:%d", port))); err != nil {
			return err
		}
	}
	s.status(fmt.Sprintf("%d pty pairs (socat)", len(s.plan.Ptys)))
	for _, name := range s.plan.Ptys {
		dev, ponte := filepath.Join(s.work, "pty", name+"-dev"), filepath.Join(s.work, "pty", name+"-ponte")
		if _, err := s.procs.start("socat-"+name, t.socat, "pty,raw,echo=0,link="+dev, "pty,raw,echo=0,link="+ponte); err != nil {
			return err
		}
		if err := s.procs.waitFor(ctx, startWait, "the pty pair "+name, func() bool { return exists(dev) && exists(ponte) }); err != nil {
			return err
		}
	}
	s.status(fmt.Sprintf("%d simulators (ponte-sim, real time)", len(s.plan.Sims)))
	var started []*proc
	for i, sim := range s.plan.Sims {
		args := []string{"--profile", sim.Profile, "--seed", strconv.Itoa(100 * (i + 1))}
		switch sim.Transport {
		case "tcp":
			args = append(args, "--modbus-tcp", sim.Endpoint, "--units", joinInts(sim.Units))
		case "rtu":
			args = append(args, "--modbus-rtu", sim.Endpoint, "--units", joinInts(sim.Units))
		case "serial":
			args = append(args, "--serial", sim.Endpoint, "--interval", "2s")
		case "mqtt":
			args = append(args, "--mqtt", sim.Endpoint, "--mqtt-ids", strings.Join(sim.IDs, ","), "--interval", "5s")
		case "rsmp":
			args = append(args, "--rsmp", sim.Endpoint, "--rsmp-site", sim.RSMPSite, "--rsmp-security-code", sim.RSMPCode)
		}
		p, err := s.procs.start(sim.Name, filepath.Join(s.cfg.Bin, "ponte-sim"), args...)
		if err != nil {
			return err
		}
		started = append(started, p)
	}
	for _, p := range started {
		if err := s.procs.waitFor(ctx, startWait, p.name, func() bool { return logSays(p, "serving")() || logSays(p, "publishing")() }); err != nil {
			return err
		}
	}
	return nil
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// startIngest writes ingest's config (the embedded broker, InfluxDB, the
// generated site configs under sites:, the twin with both metropolitan
// areas and the roads) and starts it.
func (s *stack) startIngest(ctx context.Context) error {
	s.token = secret()
	s.tenants = cityTenants(s.plan)
	s.ingest = fmt.Sprintf("http://127.0.0.1:%d", s.ports.next())
	s.ops = fmt.Sprintf("http://127.0.0.1:%d", s.ports.next())
	s.dead = filepath.Join(s.work, "ingest", "dead-letter")
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by ponte-demo.
broker:
  listen: %s
influx:
  url: %s
  bucket: ponte/autogen
http:
  listen: %s
  ops_listen: %s
state_dir: %s
dead_letter:
  dir: %s
profiles: %s
sites:
`, s.broker, s.influx, strings.TrimPrefix(s.ingest, "http://"), strings.TrimPrefix(s.ops, "http://"),
		filepath.Join(s.work, "ingest", "state"), s.dead, filepath.Join(s.cfg.Root, "firmware-profiles"))
	for _, g := range s.plan.Gateways {
		fmt.Fprintf(&b, "  - %s\n", g.File)
	}
	b.WriteString("gateways:\n")
	for _, g := range s.plan.Gateways {
		fmt.Fprintf(&b, "  - {id: %s, password: %s}\n", g.Site.Gateway.ID, g.Password)
	}
	fmt.Fprintf(&b, `twin:
  areas:
    - %s
    - %s
  area_id: com_istat_code
  roads: %s
  road_max_metres: 50
  tokens: [%s]
`, filepath.Join(s.cfg.Root, "geo", "data", "firenze-metro-municipalities.geojson"),
		filepath.Join(s.cfg.Root, "geo", "data", "bari-metro-municipalities.geojson"),
		filepath.Join(s.cfg.Root, "geo", "testdata", "roads.geojson"), s.token)
	b.WriteString("tenants:\n")
	for _, t := range s.tenants {
		fmt.Fprintf(&b, "  - {id: %s, name: %q, areas: [%q], gateways: [%s], tokens: [%s]}\n",
			t.ID, t.Name, t.City, strings.Join(t.Gateways, ", "), t.Token)
	}
	conf := filepath.Join(s.work, "ingest.yaml")
	if err := os.WriteFile(conf, []byte(b.String()), 0o600); err != nil {
		return err
	}
	if _, err := s.procs.start("ingest", filepath.Join(s.cfg.Bin, "ponte-ingest"), "--config", conf, "--log-level", "warn"); err != nil {
		return err
	}
	return s.procs.waitFor(ctx, startWait, "ponte-ingest ready on "+s.ops, httpStatus(s.ops+"/readyz", 200))
}

// client is the demo's HTTP client for its own polls: a short timeout, so
// a slow answer shows as "status unavailable" for one round. (Clients
// share http.DefaultTransport's connections.)
func client() *http.Client { return &http.Client{Timeout: 4 * time.Second} }

func httpStatus(u string, want int) func() bool {
	return func() bool {
		resp, err := client().Get(u)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == want
	}
}

func httpOK(u, token string) func() bool {
	return func() bool {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client().Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	}
}
