package opendata

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/shacltest"

	"github.com/ponte-city/ponte/internal/testenv"
)

// The AgID sample (testdata/agid-sample/catalog.ttl) is AgID's own
// DCAT-AP_IT examples in one graph; these tests use it to check Ponte's
// hand-written shapes and Ponte's catalogue against the guidelines'
// examples rather than against Ponte's reading of them.

const agidSample = "testdata/agid-sample/catalog.ttl"

// guidelineProps are the properties the DCAT-AP_IT guidelines list per
// class, "M" mandatory and "R" recommended (optional ones are left out):
// docs/_sources/<class>_elementi_obbligatori.rst.txt and
// _elementi_raccomandati.rst.txt of italia/linee-guida-cataloghi-dati-dcat-ap-it
// at bb66e2daf9e6260fa33aba63f6fc0b7bbe379166. dct:Location has no
// mandatory property: its CRS, coordinates and geometry type are mandatory
// only inside a geometry, which is optional.
var guidelineProps = []struct {
	class string
	props map[string]string
}{
	{"dcatapit:Catalog", map[string]string{
		"dct:title": "M", "dct:description": "M", "dct:publisher": "M", "dct:modified": "M", "dcat:dataset": "M",
		"foaf:homepage": "R", "dct:language": "R", "dct:issued": "R", "dcat:themeTaxonomy": "R"}},
	{"dcatapit:Dataset", map[string]string{
		"dct:identifier": "M", "dct:title": "M", "dct:description": "M", "dct:modified": "M", "dcat:theme": "M",
		"dct:rightsHolder": "M", "dct:accrualPeriodicity": "M", "dcat:distribution": "M",
		"dct:subject": "R", "dcat:contactPoint": "R", "dct:publisher": "R"}},
	{"dcatapit:Distribution", map[string]string{
		"dct:format": "M", "dcat:accessURL": "M", "dct:license": "M", "dct:description": "R"}},
	{"dcatapit:Agent", map[string]string{"dct:identifier": "M", "foaf:name": "M"}},
	{"dcatapit:Organization", map[string]string{"vcard:fn": "M", "vcard:hasEmail": "M"}},
	{"dcatapit:LicenseDocument", map[string]string{"dct:type": "R"}},
	{"dct:PeriodOfTime", map[string]string{"dcatapit:startDate": "M"}},
	{"dct:Location", map[string]string{}},
}

// plainTriple is a triple as IRIs, blank labels and lexical forms, enough
// to see which properties each class uses.
type plainTriple struct{ S, P, O string }

// parseTurtle parses a Turtle file with n3 (the parser the validator
// uses, from shacl/node_modules).
func parseTurtle(t *testing.T, v shacltest.Validator, path string) []plainTriple {
	t.Helper()
	const script = `import { readFileSync } from 'node:fs'
import { Parser } from 'n3'
const qs = new Parser({ format: 'text/turtle' }).parse(readFileSync(process.argv[1], 'utf8'))
console.log(JSON.stringify(qs.map(q => [q.subject.value, q.predicate.value, q.object.value])))`
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(v.Node(), "--input-type=module", "-e", script, abs)
	cmd.Dir = v.Dir()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("parse %s with n3: %v\n%s", path, err, stderr.String())
	}
	var rows [][3]string
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("parse %s with n3: %v", path, err)
	}
	ts := make([]plainTriple, len(rows))
	for i, r := range rows {
		ts[i] = plainTriple{r[0], r[1], r[2]}
	}
	return ts
}

// plain turns a Graph's triples into plainTriples.
func plain(g *Graph) []plainTriple {
	var ts []plainTriple
	for _, tr := range g.Triples() {
		ts = append(ts, plainTriple{tr.S.value, tr.P.value, tr.O.value})
	}
	return ts
}

// classProps maps each class (full IRI) to the properties (full IRIs)
// its instances have.
func classProps(ts []plainTriple) map[string]map[string]bool {
	types := map[string][]string{}
	for _, tr := range ts {
		if tr.P == ns("rdf:type") {
			types[tr.S] = append(types[tr.S], tr.O)
		}
	}
	out := map[string]map[string]bool{}
	for _, tr := range ts {
		for _, c := range types[tr.S] {
			if out[c] == nil {
				out[c] = map[string]bool{}
			}
			if tr.P != ns("rdf:type") {
				out[c][tr.P] = true
			}
		}
	}
	return out
}

// missingMandatory lists, as "class property", the mandatory properties
// of the guidelines that the sample uses on a class and ours does not.
func missingMandatory(sample, ours map[string]map[string]bool) []string {
	var missing []string
	for _, c := range guidelineProps {
		for p, status := range c.props {
			if status == "M" && sample[ns(c.class)][ns(p)] && !ours[ns(c.class)][ns(p)] {
				missing = append(missing, c.class+" "+p)
			}
		}
	}
	slices.Sort(missing)
	return missing
}

// comparison is the table the test logs: per class, every property the
// sample, Ponte or the guidelines name, with the guidelines' status
// ("other": optional in the guidelines, or not in them).
func comparison(sample, ours map[string]map[string]bool) string {
	var b strings.Builder
	mark := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "-"
	}
	for _, c := range guidelineProps {
		fmt.Fprintf(&b, "\n%s\n  %-34s %-11s %-6s %s\n", c.class, "property", "guidelines", "AgID", "Ponte")
		props := map[string]bool{}
		for p := range c.props {
			props[ns(p)] = true
		}
		for p := range sample[ns(c.class)] {
			props[p] = true
		}
		for p := range ours[ns(c.class)] {
			props[p] = true
		}
		names := make([]string, 0, len(props))
		for p := range props {
			names = append(names, p)
		}
		slices.Sort(names)
		for _, p := range names {
			name := compact(p)
			if name == "" {
				name = "<" + p + ">"
			}
			status := c.props[name]
			if status == "" {
				status = "other"
			}
			fmt.Fprintf(&b, "  %-34s %-11s %-6s %s\n", name, status, mark(sample[ns(c.class)][p]), mark(ours[ns(c.class)][p]))
		}
	}
	return b.String()
}

// TestAgIDSampleAgainstShapes validates AgID's own examples with Ponte's
// shapes. They conform but for one result: the catalogue example lists a
// dataset (LinkedOpenIPA20_agid) that no example describes, which AgID's
// rule 5 flags too. A variant where a theme IRI is described without
// being a skos:Concept proves the relaxed class shapes can still fail.
func TestAgIDSampleAgainstShapes(t *testing.T) {
	v := shacltest.New(t)
	shapes, _ := filepath.Abs("testdata/shacl/dcat-ap_it.shapes.ttl")
	sample, _ := filepath.Abs(agidSample)

	report, ok := v.Run(t, "shacl", shapes, sample)
	results, _ := report["results"].([]any)
	t.Logf("AgID sample: %v triples, %d results", report["triples"], len(results))
	if ok || len(results) != 1 {
		t.Fatalf("want exactly the one result on the undescribed dataset, got:\n%v", report)
	}
	want := map[string]any{
		"focusNode":                 "http://dati.gov.it/resource/Catalogp/datigov_agid",
		"path":                      ns("dcat:dataset"),
		"value":                     "http://dati.gov.it/resource/Dataset/LinkedOpenIPA20_agid",
		"severity":                  "http://www.w3.org/ns/shacl#Violation",
		"sourceConstraintComponent": "http://www.w3.org/ns/shacl#ClassConstraintComponent",
	}
	got := results[0].(map[string]any)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("result %s = %v, want %v", k, got[k], w)
		}
	}

	t.Run("described theme that is no skos:Concept", func(t *testing.T) {
		body, err := os.ReadFile(sample)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "catalog.ttl")
		testenv.WriteFile(t, path, string(body)+
			"\n<http://publications.europa.eu/resource/authority/data-theme/ECON> dct:title \"Economia\"@it .\n")
		report, _ := v.Run(t, "shacl", shapes, path)
		found := false
		for _, r := range report["results"].([]any) {
			r := r.(map[string]any)
			if r["path"] == ns("dcat:theme") && r["value"] == "http://publications.europa.eu/resource/authority/data-theme/ECON" {
				found = true
			}
		}
		if !found {
			t.Errorf("no result on dcat:theme:\n%v", report)
		}
	})
}

// TestCatalogUsesAgIDMandatoryProperties compares, class by class, the
// properties Ponte's catalogue uses with those of AgID's examples: every
// property the guidelines make mandatory that the examples use must be in
// Ponte's catalogue. The table is logged.
func TestCatalogUsesAgIDMandatoryProperties(t *testing.T) {
	v := shacltest.New(t)
	sample := classProps(parseTurtle(t, v, agidSample))
	cfg := bariConfig()
	g, err := Catalog(cfg, Datasets(cfg, fixedCoverage()), time.Date(2026, 5, 4, 23, 30, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	ours := classProps(plain(g))
	t.Logf("properties per class (guidelines: M mandatory, R recommended):%s", comparison(sample, ours))

	for _, c := range guidelineProps {
		if len(sample[ns(c.class)]) == 0 {
			t.Errorf("the AgID sample has no %s with properties", c.class)
		}
		if len(ours[ns(c.class)]) == 0 {
			t.Errorf("Ponte's catalogue has no %s with properties", c.class)
		}
	}
	if m := missingMandatory(sample, ours); len(m) > 0 {
		t.Errorf("mandatory in the guidelines, used by AgID's examples, missing from Ponte's catalogue: %v", m)
	}

	t.Run("a catalogue without dct:license", func(t *testing.T) {
		var ts []plainTriple
		for _, tr := range plain(g) {
			if tr.P != ns("dct:license") {
				ts = append(ts, tr)
			}
		}
		m := missingMandatory(sample, classProps(ts))
		if !slices.Equal(m, []string{"dcatapit:Distribution dct:license"}) {
			t.Errorf("missing = %v, want the distribution's dct:license", m)
		}
	})
}
