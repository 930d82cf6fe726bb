package monitoring

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const (
	root      = "../.."
	rulesFile = root + "/deploy/prometheus/ponte-rules.yaml"
	dashFile  = root + "/deploy/grafana/ponte.json"
)

var (
	literal = regexp.MustCompile(`"(ponte_(?:edge|ingest|twin)_[a-z0-9_]+)"`)
	inExpr  = regexp.MustCompile(`\bponte_[a-z0-9_]+`)
)

// codeMetrics returns every metric name the module's Go code spells out.
func codeMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllSubmatch(b, -1) {
			names[string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !names["ponte_ingest_dead_letters_total"] || !names["ponte_edge_device_up"] {
		t.Fatalf("found %d metric names in the code, not the known ones: the scan is broken", len(names))
	}
	return names
}

// unknown returns the metric names in expr the code does not register
// (a histogram's _bucket, _sum and _count count as its name), and whether
// expr names any metric at all.
func unknown(expr string, known map[string]bool) (missing []string, any bool) {
	for _, n := range inExpr.FindAllString(expr, -1) {
		any = true
		base := n
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suf); ok && known[b] {
				base = b
			}
		}
		if !known[base] {
			missing = append(missing, n)
		}
	}
	return missing, any
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestAlertRules: the rules parse (promtool when installed), each alert
// has a severity and a summary, every metric they name exists, and the
// alerts the operators rely on are there.
func TestAlertRules(t *testing.T) {
	if promtool, err := exec.LookPath("promtool"); err == nil {
		out, err := exec.Command(promtool, "check", "rules", rulesFile).CombinedOutput()
		if err != nil {
			t.Fatalf("promtool check rules: %v\n%s", err, out)
		}
	} else {
		t.Log("promtool not installed: the rules are checked by the YAML parse and metric names only")
	}
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	known := codeMetrics(t)
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = true
			if r.Alert == "" || r.Expr == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("%s: group %s: rule %q needs alert, expr, labels.severity and annotations.summary", rulesFile, g.Name, r.Alert)
			}
			missing, any := unknown(r.Expr, known)
			if !any {
				t.Errorf("%s: alert %s: expr %q names no ponte metric", rulesFile, r.Alert, r.Expr)
			}
			for _, m := range missing {
				t.Errorf("%s: alert %s: metric %s is registered nowhere in the code", rulesFile, r.Alert, m)
			}
		}
	}
	for _, want := range []string{"PonteGatewayOffline", "PonteGatewayNotAcknowledged", "PonteGatewayBufferGrowing",
		"PonteDeviceDown", "PonteDeviceRefused", "PonteIngestDeadLetters", "PonteIngestInfluxUnhealthy", "PonteIngestGapOpen"} {
		if !alerts[want] {
			t.Errorf("%s: no alert %s", rulesFile, want)
		}
	}
}

type panel struct {
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

// TestDashboard: the dashboard is JSON Grafana imports (uid, title,
// panels), every panel outside a row's header queries something, and every
// metric its queries name exists.
func TestDashboard(t *testing.T) {
	b, err := os.ReadFile(dashFile)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		UID    string  `json:"uid"`
		Title  string  `json:"title"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashFile, err)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("%s: uid %q, title %q: both required", dashFile, d.UID, d.Title)
	}
	known := codeMetrics(t)
	var used []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", dashFile, p.Title)
			}
			for _, q := range p.Targets {
				missing, any := unknown(q.Expr, known)
				if !any {
					t.Errorf("%s: panel %q: query %q names no ponte metric", dashFile, p.Title, q.Expr)
				}
				for _, m := range missing {
					t.Errorf("%s: panel %q: metric %s is registered nowhere in the code", dashFile, p.Title, m)
				}
				used = append(used, inExpr.FindAllString(q.Expr, -1)...)
			}
		}
	}
	walk(d.Panels)
	sort.Strings(used)
	for _, want := range []string{"ponte_ingest_gateway_last_seen_timestamp_seconds", "ponte_ingest_dead_letters_total", "ponte_edge_buffer_oldest_age_seconds"} {
		if i := sort.SearchStrings(used, want); i == len(used) || used[i] != want {
			t.Errorf("%s: no panel shows %s", dashFile, want)
		}
	}
}
