// Package natstest runs real NATS servers for tests: a cluster of nodes on
// loopback, each with JetStream (file store in the test's temporary
// directory), an MQTT listener (the gateways' side) and a monitoring port,
// started as separate processes so that a test can kill -9 one node and
// bring it back on the same ports and store.
//
// The server is nats-server v2.15.3 (Install), which deploy/bootstrap
// builds into .tools/bin; Debian 12's package (2.9.10) predates features
// Ponte uses and is refused with the command that installs the right one.
package natstest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/internal/testenv"
)

// Version is the nats-server release the tests run; Install builds it.
const (
	Version = "v2.15.3"
	Install = "go install github.com/nats-io/nats-server/v2@" + Version
)

// minMinor is the oldest 2.x minor release accepted.
const minMinor = 10

// readyTimeout bounds a node's start and a cluster's forming.
const readyTimeout = 60 * time.Second

// Options shape a cluster. The zero value is one node.
type Options struct {
	// Nodes is the number of servers (default 1). With more than one they
	// form a cluster named "ponte" with routes to each other.
	Nodes int
	// Config is appended to every node's configuration (nats-server's
	// format): accounts and users, MQTT authorisation, limits.
	Config string
	// MQTT is added inside every node's mqtt block (nats-server's
	// format), e.g. "consumer_memory_storage: true": a second mqtt block
	// in Config would replace the listener's.
	MQTT string
	// JetStream is added inside every node's jetstream block, e.g.
	// "limits { default_max_consumers: -1 }".
	JetStream string
}

// Cluster is a running set of NATS servers.
type Cluster struct {
	Nodes []*Node
}

// Node is one server of a cluster.
type Node struct {
	// Name is the server_name ("n1", "n2", ...).
	Name string
	// URL is the client URL ("nats://127.0.0.1:PORT").
	URL string
	// MQTT is the MQTT listener's URL ("tcp://127.0.0.1:PORT"), for paho.
	MQTT string
	// Monitor is the monitoring base URL ("http://127.0.0.1:PORT").
	Monitor string

	proc *testenv.Process
}

// Start starts opts.Nodes servers and waits until every node answers
// /healthz (JetStream ready: with a cluster, a meta leader elected). The
// servers are killed when the test ends. Under -short it skips t.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	bin := Binary(t)
	n := max(opts.Nodes, 1)
	for attempt := 1; ; attempt++ {
		c, err := start(t, bin, n, opts)
		if err == nil {
			return c
		}
		if !testenv.BindConflict(err) || attempt == 3 {
			t.Fatal(err)
		}
		for _, node := range c.Nodes {
			node.Kill()
		}
	}
}

func start(t testing.TB, bin string, n int, opts Options) (*Cluster, error) {
	t.Helper()
	dir := t.TempDir()
	type ports struct{ client, cluster, mqtt, http int }
	ps := make([]ports, n)
	for i := range ps {
		ps[i] = ports{testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)}
	}
	c := &Cluster{}
	for i, p := range ps {
		name := "n" + strconv.Itoa(i+1)
		var routes []string
		for _, q := range ps {
			routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", q.cluster))
		}
		conf := nodeConfig(name, filepath.Join(dir, name), p.client, p.mqtt, p.http, p.cluster, routes, n > 1, opts) + opts.Config
		path := filepath.Join(dir, name+".conf")
		if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
			t.Fatalf("write %s: %v", path, err)
		}
		node := &Node{
			Name:    name,
			URL:     fmt.Sprintf("nats://127.0.0.1:%d", p.client),
			MQTT:    fmt.Sprintf("tcp://127.0.0.1:%d", p.mqtt),
			Monitor: fmt.Sprintf("http://127.0.0.1:%d", p.http),
			proc:    testenv.NewProcess(t, "nats-"+name, bin, "-c", path),
		}
		// A node answers on its client port before the cluster has
		// formed; the cluster's readiness is waited for below.
		node.proc.Ready = testenv.TCPOpen(fmt.Sprintf("127.0.0.1:%d", p.client))
		node.proc.ReadyTimeout = readyTimeout
		c.Nodes = append(c.Nodes, node)
		if err := node.proc.TryStart(); err != nil {
			return c, err
		}
	}
	for _, node := range c.Nodes {
		if err := node.waitHealthy(); err != nil {
			return c, err
		}
	}
	return c, nil
}

// nodeConfig renders one server's configuration.
func nodeConfig(name, store string, client, mqtt, monitor, cluster int, routes []string, clustered bool, opts Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "server_name: %s\nlisten: \"127.0.0.1:%d\"\nhttp: \"127.0.0.1:%d\"\n", name, client, monitor)
	fmt.Fprintf(&b, "jetstream {\n  store_dir: %q\n  max_memory_store: 64MB\n  max_file_store: 1GB\n%s\n}\n", store, opts.JetStream)
	fmt.Fprintf(&b, "mqtt {\n  listen: \"127.0.0.1:%d\"\n%s\n}\n", mqtt, opts.MQTT)
	if clustered {
		fmt.Fprintf(&b, "cluster {\n  name: ponte\n  listen: \"127.0.0.1:%d\"\n  routes: [\n", cluster)
		for _, r := range routes {
			fmt.Fprintf(&b, "    %q\n", r)
		}
		b.WriteString("  ]\n}\n")
	}
	return b.String()
}

// URLs is every node's client URL, comma-separated, as nats.Connect takes
// them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		urls[i] = n.URL
	}
	return strings.Join(urls, ",")
}

// Kill ends the node with SIGKILL (a crash) and waits until it is gone.
func (n *Node) Kill() { n.proc.Kill() }

// Start brings a killed node back on the same ports and store and waits
// until it reports healthy (caught up with the cluster).
func (n *Node) Start(t testing.TB) {
	t.Helper()
	n.proc.Start()
	if err := n.waitHealthy(); err != nil {
		t.Fatal(err)
	}
}

// Running reports whether the node's process runs.
func (n *Node) Running() bool { return n.proc.Running() }

// Pid returns the node's process ID (0 when it is not running), for
// benchmarks that account the server's CPU time.
func (n *Node) Pid() int { return n.proc.Pid() }

// waitHealthy polls the node's /healthz until it answers {"status":"ok"}.
func (n *Node) waitHealthy() error {
	deadline := time.Now().Add(readyTimeout)
	client := &http.Client{Timeout: 2 * time.Second}
	var last string
	for time.Now().Before(deadline) {
		if !n.proc.Running() {
			return fmt.Errorf("nats %s exited while starting\nlog tail:\n%s", n.Name, n.proc.LogTail(40))
		}
		resp, err := client.Get(n.Monitor + "/healthz")
		if err == nil {
			var h struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			}
			_ = json.NewDecoder(resp.Body).Decode(&h)
			resp.Body.Close()
			if h.Status == "ok" {
				return nil
			}
			last = h.Error
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("nats %s not healthy within %v (last: %s)\nlog tail:\n%s", n.Name, readyTimeout, last, n.proc.LogTail(40))
}

var versionRE = regexp.MustCompile(`v2\.(\d+)\.\d+`)

// Binary returns the path of a nats-server of Version's generation: the
// project's tools folder first (deploy/bootstrap puts Version there), then
// PATH and the sbin folders. An older server (Debian 12 ships 2.9.10) fails
// t with the command that installs the right one.
func Binary(t testing.TB) string {
	t.Helper()
	testenv.Integration(t, "nats-server")
	bin := filepath.Join(testenv.ToolsBin(), "nats-server")
	if st, err := os.Stat(bin); err != nil || st.IsDir() {
		bin = testenv.Need(t, "nats-server", "nats-server "+Version+": "+Install)
	}
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --version: %v: %s", bin, err, out)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("%s --version says %q; want nats-server %s (%s)", bin, strings.TrimSpace(string(out)), Version, Install)
	}
	if minor, _ := strconv.Atoi(m[1]); minor < minMinor {
		t.Fatalf("%s is %s; the tests need nats-server 2.%d or later (%s, or deploy/bootstrap test)", bin, strings.TrimSpace(string(out)), minMinor, Install)
	}
	return bin
}

// State returns what the running nodes' monitoring reports of their
// JetStream streams and consumers (leader, replicas' lag, delivered, ack
// pending, waiting pulls) and of their client and MQTT connections: for a
// test's failure message, so that a stall can be traced to the stream,
// consumer or node it waits on.
func (c *Cluster) State() string {
	client := &http.Client{Timeout: 5 * time.Second}
	var b strings.Builder
	for _, n := range c.Nodes {
		if !n.Running() {
			fmt.Fprintf(&b, "== %s: not running\n", n.Name)
			continue
		}
		for _, path := range []string{"/jsz?accounts=true&streams=true&consumers=true", "/connz?subs=true"} {
			fmt.Fprintf(&b, "== %s %s\n", n.Name, path)
			resp, err := client.Get(n.Monitor + path)
			if err != nil {
				fmt.Fprintf(&b, "%v\n", err)
				continue
			}
			var v any
			if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
				fmt.Fprintf(&b, "decode: %v\n", err)
			} else {
				out, _ := json.Marshal(v)
				b.Write(out)
				b.WriteByte('\n')
			}
			resp.Body.Close()
		}
	}
	return b.String()
}

// JetStream connects to url (one node's or the cluster's URLs) with opts
// and returns the connection's JetStream context; the connection is
// closed when the test ends.
func JetStream(tb testing.TB, url string, opts ...nats.Option) jetstream.JetStream {
	tb.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		tb.Fatalf("connect to %s: %v", url, err)
	}
	tb.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatal(err)
	}
	return js
}
