package layout

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ponte-city/ponte"

// allowed lists, for each top-level folder, the top-level folders its
// packages may import (their own included).
var allowed = map[string][]string{
	"cmd":      {"edge", "ingest", "twin", "geo", "wire", "internal"},
	"edge":     {"edge", "wire", "internal"},
	"ingest":   {"ingest", "twin", "geo", "wire", "internal"},
	"twin":     {"twin", "geo", "wire", "internal"},
	"geo":      {"geo", "wire", "internal"},
	"wire":     {"wire"},
	"internal": {"internal", "wire"},
	"e2e":      {"e2e", "edge", "ingest", "twin", "geo", "wire", "internal"},
}

// pkg is what go list says of one package.
type pkg struct {
	ImportPath, Dir                    string
	GoFiles, TestGoFiles, XTestGoFiles []string
	Imports, TestImports, XTestImports []string
}

// listPackages runs go list over the module, the fault suite's tag on, so
// its files are checked too.
func listPackages(t *testing.T, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-tags", "fault", "-json"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// top is the top-level folder of a package of the module ("" otherwise).
func top(path string) string {
	rest, ok := strings.CutPrefix(path, module+"/")
	if !ok {
		return ""
	}
	first, _, _ := strings.Cut(rest, "/")
	return first
}

// TestImportRules fails on every import against the arrows, naming the
// file that makes it, and on a top-level folder the rules do not know.
func TestImportRules(t *testing.T) {
	for _, p := range listPackages(t, "./...") {
		from := top(p.ImportPath)
		ok, known := allowed[from]
		if !known {
			t.Errorf("%s: top-level folder %q has no import rule (add it to allowed in internal/layout)", p.ImportPath, from)
			continue
		}
		for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
			to := top(imp)
			if to == "" || slices.Contains(ok, to) {
				continue
			}
			t.Errorf("%s imports %s: %s may import only %s",
				importer(p, imp), strings.TrimPrefix(imp, module+"/"), from, strings.Join(ok, ", "))
		}
	}
}

// importer names the file of p that imports imp.
func importer(p pkg, imp string) string {
	for _, f := range slices.Concat(p.GoFiles, p.TestGoFiles, p.XTestGoFiles) {
		path := filepath.Join(p.Dir, f)
		af, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			continue
		}
		for _, s := range af.Imports {
			if v, _ := strconv.Unquote(s.Path.Value); v == imp {
				return strings.TrimPrefix(p.ImportPath, module+"/") + "/" + f
			}
		}
	}
	return strings.TrimPrefix(p.ImportPath, module+"/")
}

// TestIngestLinksNoFieldbus: the central service carries no Modbus or
// serial code; only the edge talks to devices.
func TestIngestLinksNoFieldbus(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "./cmd/ponte-ingest")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/goburrow/modbus", "github.com/goburrow/serial", "github.com/tarm/serial", module + "/edge/"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("ponte-ingest links %s", dep)
			}
		}
	}
}
