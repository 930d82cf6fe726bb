package app_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
)

// composeFile is what TestShippedCompose reads of compose.yaml.
type composeFile struct {
	Services map[string]struct {
		Image string `yaml:"image"`
		Build *struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
			Target     string `yaml:"target"`
		} `yaml:"build"`
		Command     []string            `yaml:"command"`
		Environment map[string]string   `yaml:"environment"`
		DependsOn   map[string]struct{} `yaml:"depends_on"`
		Volumes     []string            `yaml:"volumes"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// TestShippedCompose checks deploy/compose as far as can be without
// Docker (the test machines have no daemon): the services of issue 14 are
// there; every dependency and named volume is declared; every file it
// mounts exists, and the mounted configs are valid as the containers see
// them (nats-server -t on each node's, config.Load on each instance's,
// with the environment compose passes); the images' build stages exist;
// the proxy's Caddyfile is valid (caddy validate) and proxies to both
// instances' public ports, checking their ops ports.
func TestShippedCompose(t *testing.T) {
	const dir = "../../deploy/compose"
	data, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(data, &cf); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	var names []string
	for n := range cf.Services {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"influxdb", "ingest-a", "ingest-b", "nats-1", "nats-2", "nats-3", "proxy"}; !slices.Equal(names, want) {
		t.Fatalf("services %v, want %v", names, want)
	}
	// The variables compose requires (${NAME:?...}) get a secret each.
	env := clusterEnv(t)
	for _, m := range regexp.MustCompile(`\$\{(\w+):\?`).FindAllStringSubmatch(string(data), -1) {
		if _, ok := env[m[1]]; !ok {
			t.Errorf("compose.yaml requires %s, which clusterEnv does not set", m[1])
		}
	}
	dockerfile, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	caddyfile, err := os.ReadFile(filepath.Join(dir, "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	natsBin := natstest.Binary(t)
	for _, name := range names {
		s := cf.Services[name]
		for dep := range s.DependsOn {
			if _, ok := cf.Services[dep]; !ok {
				t.Errorf("%s depends on %q, not a service", name, dep)
			}
		}
		if s.Build != nil {
			if s.Build.Dockerfile != "deploy/compose/Dockerfile" || !strings.Contains(string(dockerfile), " AS "+s.Build.Target+"\n") {
				t.Errorf("%s: build %+v: want deploy/compose/Dockerfile with a stage %q", name, *s.Build, s.Build.Target)
			}
		}
		// The container's file system as far as mounts make it.
		root := t.TempDir()
		for _, v := range s.Volumes {
			parts := strings.Split(v, ":")
			src, dst := parts[0], parts[1]
			if !strings.HasPrefix(src, ".") {
				if _, ok := cf.Volumes[src]; !ok {
					t.Errorf("%s mounts volume %q, not declared under volumes", name, src)
				}
				continue
			}
			abs, err := filepath.Abs(filepath.Join(dir, src))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(abs); err != nil {
				t.Errorf("%s mounts %s: %v", name, src, err)
				continue
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(root, dst)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(abs, filepath.Join(root, dst)); err != nil {
				t.Fatal(err)
			}
		}
		switch {
		case strings.HasPrefix(name, "nats-"):
			conf := filepath.Join(root, "etc/nats/nats.conf")
			out, err := exec.Command(natsBin, "-t", "-c", conf).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "is valid") {
				t.Errorf("%s: nats-server -t on its mounted config: %v\n%s", name, err, out)
			}
			if s.Environment["PONTE_NATS_PASSWORD"] == "" {
				t.Errorf("%s: no PONTE_NATS_PASSWORD for the accounts file", name)
			}
		case strings.HasPrefix(name, "ingest-"):
			i := slices.Index(s.Command, "--config")
			if i < 0 || i+1 >= len(s.Command) {
				t.Fatalf("%s: command %v names no --config", name, s.Command)
			}
			cfg, err := config.Load(filepath.Join(root, s.Command[i+1]))
			if err != nil {
				t.Errorf("%s: its mounted config: %v", name, err)
				continue
			}
			checkClusterConfig(t, cfg, env["PONTE_NATS_PASSWORD"])
			_, port, _ := strings.Cut(cfg.HTTP.Listen, ":")
			_, ops, _ := strings.Cut(cfg.HTTP.OpsListen, ":")
			if !strings.Contains(string(caddyfile), name+":"+port) || !strings.Contains(string(caddyfile), "health_port "+ops) {
				t.Errorf("Caddyfile does not proxy to %s:%s (http.listen) with health checks on %s (http.ops_listen)", name, port, ops)
			}
			for _, dep := range []string{"nats-1", "nats-2", "nats-3", "influxdb"} {
				if _, ok := s.DependsOn[dep]; !ok {
					t.Errorf("%s does not depend on %s", name, dep)
				}
			}
		}
	}
	if !strings.Contains(string(caddyfile), "flush_interval -1") {
		t.Error("Caddyfile: SSE must pass unbuffered (flush_interval -1)")
	}
	caddy := testenv.Need(t, "caddy", "apt-get install caddy, or deploy/bootstrap test")
	out, err := exec.Command(caddy, "validate", "--adapter", "caddyfile", "--config", filepath.Join(dir, "Caddyfile")).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Valid configuration") {
		t.Errorf("caddy validate Caddyfile: %v\n%s", err, out)
	}
}
