//go:build ha

package ha

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
)

// Sizes of the system under test.
const (
	gateways   = 20
	devices    = 5    // meters per gateway
	perGW      = 7200 // readings per gateway
	batchSize  = 60
	rate       = 60.0 // readings/s per gateway: about two minutes of load
	ingestUser = "ponte-ingest"
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

// buildIngest builds ponte-ingest into a temporary directory.
func buildIngest(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", dir+"/", "github.com/ponte-city/ponte/cmd/ponte-ingest")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ponte-ingest: %v\n%s", err, out)
	}
	return filepath.Join(dir, "ponte-ingest")
}

// gwID is the ID of gateway i (1-based).
func gwID(i int) string { return fmt.Sprintf("gw%02d", i) }

// ingestPermissions returns the permissions block of the ponte-ingest user
// in the shipped deploy/nats/accounts.conf, so that the test proves what
// is shipped is enough for broker.nats, dedup.nats and twin.replica.
func ingestPermissions(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy/nats/accounts.conf"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?s)user: ponte-ingest\s.*?(permissions: \{.*?\n\s*\})`).FindSubmatch(data)
	if m == nil {
		t.Fatal("deploy/nats/accounts.conf: no permissions block for user ponte-ingest")
	}
	return string(m[1])
}

// natsAccounts is the account block of the test's cluster: the shipped
// ingest permissions, and one MQTT user per gateway confined to its own
// subjects, as in deploy/nats/accounts.conf; gwPass holds the gateways'
// IDs and passwords.
func natsAccounts(t *testing.T, ingestPass string, gwPass map[string]string) string {
	var b strings.Builder
	b.WriteString("accounts {\n  PONTE {\n    jetstream: enabled\n    users: [\n")
	fmt.Fprintf(&b, "      { user: %q, password: %q, allowed_connection_types: [\"STANDARD\"],\n        %s }\n", ingestUser, ingestPass, ingestPermissions(t))
	for _, g := range slices.Sorted(maps.Keys(gwPass)) {
		fmt.Fprintf(&b, `      { user: %q, password: %q, allowed_connection_types: ["MQTT"],
        permissions: { publish: ["ponte.gw.%s.up", "ponte.gw.%s.status"], subscribe: ["ponte.gw.%s.ack", "ponte.gw.%s.cmd"] } }
`, g, gwPass[g], g, g, g, g)
	}
	b.WriteString("    ]\n  }\n}\n")
	return b.String()
}

// instance is one ponte-ingest process.
type instance struct {
	name      string
	proc      *testenv.Process
	http, ops string
}

// system is one run's processes.
type system struct {
	dir        string
	nats       *natstest.Cluster
	influx     *influxtest.Server
	ingestPass string
	gwPass     map[string]string
	token      string
	a, b       *instance
}

// startSystem starts the NATS cluster, InfluxDB and two ingest instances.
func startSystem(t *testing.T) *system {
	t.Helper()
	root := repoRoot(t)
	bin := buildIngest(t)
	s := &system{dir: t.TempDir(), ingestPass: testenv.Secret(t), gwPass: map[string]string{}, token: testenv.Secret(t)}
	for i := 1; i <= gateways; i++ {
		s.gwPass[gwID(i)] = testenv.Secret(t)
	}
	s.nats = natstest.Start(t, natstest.Options{Nodes: 3, Config: natsAccounts(t, s.ingestPass, s.gwPass)})
	s.influx = influxtest.Start(t)

	var sites []string
	for i := 1; i <= gateways; i++ {
		sites = append(sites, writeSite(t, s.dir, i))
	}
	twin := fmt.Sprintf("sites: [%s]\nprofiles: %s\ntwin:\n  areas: [%s]\n  tokens: [%s]\n  replica:\n    %s    snapshot_interval: 10s\n",
		strings.Join(sites, ", "), filepath.Join(root, "firmware-profiles"),
		filepath.Join(root, "geo/data/firenze-metro-municipalities.geojson"), s.token, s.natsConn())
	s.a, s.b = s.newInstance(t, bin, "a", twin), s.newInstance(t, bin, "b", twin)
	s.a.proc.Start()
	s.b.proc.Start()
	return s
}

// natsConn is the body of a NATS connection block of ingest's config
// (every node, ingest's user), indented for a section's "nats:" key.
func (s *system) natsConn() string {
	var urls []string
	for _, n := range s.nats.Nodes {
		urls = append(urls, n.URL)
	}
	return fmt.Sprintf("urls: [%s]\n    user: %s\n    password: %s\n", strings.Join(urls, ", "), ingestUser, s.ingestPass)
}

// newInstance configures (not starts) ponte-ingest instance name on the
// cluster with broker.nats and dedup.nats, and InfluxDB; extra is
// appended to its config (sites, twin).
func (s *system) newInstance(t *testing.T, bin, name, extra string) *instance {
	t.Helper()
	in := &instance{name: name,
		http: fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		ops:  fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))}
	dir := filepath.Join(s.dir, name)
	conn := s.natsConn()
	var y strings.Builder
	fmt.Fprintf(&y, "broker:\n  client_id: ingest-%s\n  nats:\n    %s    ack_wait: 5s\n", name, conn)
	fmt.Fprintf(&y, "dedup:\n  nats:\n    %s", conn)
	fmt.Fprintf(&y, "influx:\n  url: %s\n  bucket: %s\n  retry_base: 100ms\n  retry_max: 1s\n", s.influx.URL, s.influx.Bucket)
	fmt.Fprintf(&y, "http:\n  listen: %s\n  ops_listen: %s\nstate_dir: %s\ndead_letter:\n  dir: %s\n", in.http, in.ops, filepath.Join(dir, "state"), filepath.Join(dir, "dead-letter"))
	y.WriteString(extra)
	path := filepath.Join(s.dir, name+".yaml")
	testenv.WriteFile(t, path, y.String())
	in.proc = testenv.NewProcess(t, "ingest-"+name, bin, "--config", path, "--log-level", "debug")
	in.proc.Ready = testenv.HTTPStatus("http://"+in.ops+"/readyz", http.StatusOK)
	in.proc.ReadyTimeout = 2 * time.Minute
	return in
}

// writeSite writes gateway i's site config: its meters in Firenze, polled
// every 10 minutes (so that their sites stay fresh for the whole run and
// contribute to the indicators).
func writeSite(t *testing.T, dir string, i int) string {
	t.Helper()
	g := gwID(i)
	var y strings.Builder
	fmt.Fprintf(&y, "gateway: {id: %s}\nuplink:\n  broker: tcp://127.0.0.1:1883\nbuffer:\n  dir: %s\ndevices:\n", g, filepath.Join(dir, "buf-"+g))
	for d := 0; d < devices; d++ {
		fmt.Fprintf(&y, "  - {name: %s, profile: eastron-sdm630-v2, address: \"tcp://127.0.0.1:502\", unit: %d, interval: 10m, area: Firenze, location: {lon: %.5f, lat: %.5f}}\n",
			devName(d), d+1, 11.2400+0.001*float64(i), 43.7700+0.001*float64(d))
	}
	path := filepath.Join(dir, g+".yaml")
	testenv.WriteFile(t, path, y.String())
	return path
}

// metrics reads an instance's /metrics: name{labels} -> value.
func (in *instance) metrics() (map[string]float64, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + in.ops + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// sum adds the values of every series of metric name.
func sum(m map[string]float64, name string) float64 {
	var s float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

// get reads an operator API path of an instance into w.
func (s *system) get(in *instance, path string, w io.Writer) error {
	req, _ := http.NewRequest("GET", "http://"+in.http+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s from %s: %s", path, in.name, resp.Status)
	}
	_, err = io.Copy(w, resp.Body)
	return err
}
