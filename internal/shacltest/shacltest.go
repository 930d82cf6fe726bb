// Package shacltest runs the DCAT-AP_IT catalogue validator of
// twin/opendata (the Node tool in twin/opendata/shacl: rdf-validate-shacl
// for SHACL, jsonld.js and n3 to compare JSON-LD with Turtle) from any
// package's tests, such as ingest's, which check the catalogues a real
// ingest serves. It needs node (and npm, to install the tool's locked
// packages with npm ci the first time, as `make opendata-shacl` does);
// under -short the test is skipped, without them it fails (testenv.Need).
package shacltest

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/internal/testenv"
)

// Validator runs validate.mjs.
type Validator struct {
	node, dir, root string
}

// New finds node and the tool (from the working directory up to go.mod),
// installing its packages if they are missing.
func New(tb testing.TB) Validator {
	tb.Helper()
	node := testenv.Need(tb, "node", "apt-get install nodejs npm")
	root := moduleRoot(tb)
	dir := filepath.Join(root, "twin", "opendata", "shacl")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", ".package-lock.json")); err != nil {
		npm := testenv.Need(tb, "npm", "apt-get install npm")
		cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
	}
	return Validator{node: node, dir: dir, root: root}
}

// Shapes is the path of the DCAT-AP_IT shapes (twin/opendata/testdata/shacl).
func (v Validator) Shapes() string {
	return filepath.Join(v.root, "twin", "opendata", "testdata", "shacl", "dcat-ap_it.shapes.ttl")
}

// Conforms validates the Turtle file data against the DCAT-AP_IT shapes
// and returns the report and whether it conforms.
func (v Validator) Conforms(tb testing.TB, data string) (map[string]any, bool) {
	tb.Helper()
	report, ok := v.Run(tb, "shacl", v.Shapes(), data)
	return report, ok && report["conforms"] == true
}

// Run runs validate.mjs mode a b and returns its JSON report and whether
// it exited 0; an exit other than 0 or 1 fails tb.
func (v Validator) Run(tb testing.TB, mode, a, b string) (map[string]any, bool) {
	tb.Helper()
	cmd := exec.Command(v.node, filepath.Join(v.dir, "validate.mjs"), mode, a, b)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		tb.Fatalf("validate.mjs %s: %v\n%s%s", mode, err, out, stderr.String())
	}
	var report map[string]any
	if jerr := json.Unmarshal(out, &report); jerr != nil {
		tb.Fatalf("validate.mjs %s printed no JSON report: %v\n%s%s", mode, jerr, out, stderr.String())
	}
	return report, err == nil
}

// moduleRoot is the folder of go.mod, from the working directory up.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("shacltest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Node is the path of node; Dir the tool's folder, where its packages
// (n3, jsonld, rdf-validate-shacl) resolve for scripts run there.
func (v Validator) Node() string { return v.node }

// Dir is the validator tool's folder (twin/opendata/shacl).
func (v Validator) Dir() string { return v.dir }
