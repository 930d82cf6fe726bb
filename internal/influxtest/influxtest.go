package influxtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// Install is the command that builds the influxd binary these tests run.
const Install = "go install github.com/influxdata/influxdb/cmd/influxd@v1.8.10"

// DB is the database every Server creates; Bucket is the v2 compatibility
// bucket ("database/retention-policy") that writes go to.
const (
	DB     = "ponte"
	Bucket = DB + "/autogen"
)

// readyTimeout bounds how long a start may take before the test fails.
const readyTimeout = 60 * time.Second

// Server is a real influxd run by a test. Its methods may be called from
// any goroutine; Stop and Start serialise.
type Server struct {
	// URL is "http://127.0.0.1:PORT", the base URL for the v2 client.
	URL string
	// Bucket is the bucket to write to ("ponte/autogen").
	Bucket string
	// DB is the database to query ("ponte").
	DB string
	// Port is the HTTP port.
	Port int

	t    testing.TB
	dir  string // the configuration, data, WAL and meta directories
	proc *testenv.Process
	mu   sync.Mutex // serialises Start and Stop
}

// Option changes the configuration Start gives influxd.
type Option func(*settings)

// settings are the options' effect; the zero value is InfluxDB's defaults.
type settings struct {
	snapshotCold time.Duration
}

// SnapshotWhenIdle makes influxd write its cache to a TSM file once no
// write came for d (cache-snapshot-write-cold-duration; InfluxDB's default
// is 10m), instead of only when the cache reaches 25 MB. A benchmark that
// waits for influxd to go idle between its timed parts then starts each
// part with an empty cache, so that every part does the same snapshots
// and compactions for the same points instead of one inheriting the
// cache the one before nearly filled.
func SnapshotWhenIdle(d time.Duration) Option {
	return func(s *settings) { s.snapshotCold = d }
}

// Start starts influxd with its data in t.TempDir() on free loopback ports,
// waits until it answers /ping, creates the database and registers Stop as
// a cleanup. Under -short it skips t: it is an integration test. (The
// ports are probed free and then given to influxd, which does not say
// which port it bound.)
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	var set settings
	for _, o := range opts {
		o(&set)
	}
	bin := findBinary(t)
	for attempt := 1; ; attempt++ {
		dir := t.TempDir()
		port, rpc := testenv.FreePort(t), testenv.FreePort(t)
		conf := filepath.Join(dir, "influxdb.conf")
		if err := os.WriteFile(conf, []byte(config(dir, port, rpc, set)), 0o644); err != nil {
			t.Fatalf("write influxd config: %v", err)
		}
		s := &Server{
			URL:    fmt.Sprintf("http://127.0.0.1:%d", port),
			Bucket: Bucket,
			DB:     DB,
			Port:   port,
			t:      t,
			dir:    dir,
			proc:   testenv.NewProcess(t, "influxd", bin, "-config", conf),
		}
		s.proc.Ready, s.proc.ReadyTimeout = s.pingOK(), readyTimeout
		err := s.proc.TryStart()
		if testenv.BindConflict(err) && attempt < 3 {
			continue // another test bound a port between the probe and the start
		}
		if err != nil {
			t.Fatal(err)
		}
		s.post(fmt.Sprintf("CREATE DATABASE %q", s.DB))
		return s
	}
}

// findBinary looks influxd up on PATH, in the checkout's .tools/bin (see
// testenv.Need) and in $(go env GOPATH)/bin.
func findBinary(t testing.TB) string {
	t.Helper()
	testenv.Integration(t, "influxd")
	var dirs []string
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, d := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(d, "bin"))
		}
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	return testenv.Need(t, "influxd", "InfluxDB 1.8.10: "+Install, dirs...)
}

// config renders an influxd configuration: loopback only, no reporting,
// no background services the tests do not need, fsync on every write (the
// default) so that an acknowledged write survives Stop.
func config(dir string, port, rpc int, set settings) string {
	var data string
	if set.snapshotCold > 0 {
		data = fmt.Sprintf("  cache-snapshot-write-cold-duration = %q\n", set.snapshotCold.String())
	}
	return fmt.Sprintf(`reporting-disabled = true
bind-address = "127.0.0.1:%d"

[meta]
  dir = %q
  logging-enabled = false

[data]
  dir = %q
  wal-dir = %q
  query-log-enabled = false
  trace-logging-enabled = false
%s
[retention]
  enabled = false

[monitor]
  store-enabled = false

[subscriber]
  enabled = false

[continuous_queries]
  enabled = false

[http]
  enabled = true
  bind-address = "127.0.0.1:%d"
  auth-enabled = false
  log-enabled = false
  flux-enabled = false
  pprof-enabled = false

[logging]
  level = "warn"
  suppress-logo = true
`, rpc, filepath.Join(dir, "meta"), filepath.Join(dir, "data"), filepath.Join(dir, "wal"), data, port)
}
