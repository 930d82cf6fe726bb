package opendata

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/internal/shacltest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// realTwin is a twin over Bari's municipalities with a traffic counter
// and an air station in Bari, their readings applied.
func realTwin(t *testing.T) *twin.Twin {
	t.Helper()
	areas, err := geo.LoadLayer("../../geo/data/bari-metro-municipalities.geojson", geo.KindAreas, geo.LoadOptions{IDProperty: "com_istat_code"})
	if err != nil {
		t.Fatal(err)
	}
	tw, err := twin.New(twin.Config{Areas: areas, Logger: slog.New(slog.DiscardHandler), Sites: []twin.Site{
		{Gateway: "gw-ba", Device: "tc1", Category: "traffic", Lon: 16.8719, Lat: 41.1171, Interval: time.Minute},
		{Gateway: "gw-ba", Device: "aq1", Category: "air", Lon: 16.8690, Lat: 41.1230, Interval: time.Minute},
	}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	tw.Apply("gw-ba", 1, &wire.Batch{Gateway: "gw-ba", Epoch: 1, Seqs: []uint64{1, 2, 3}, Readings: []wire.Reading{
		{Device: "tc1", Point: "lane1_intensity", Value: wire.Float(600), Unit: "1/h", Time: now, Quality: wire.QualityGood},
		{Device: "tc1", Point: "lane2_intensity", Value: wire.Float(420), Unit: "1/h", Time: now, Quality: wire.QualityGood},
		{Device: "aq1", Point: "no2", Value: wire.Float(41.5), Unit: "ug/m3", Time: now, Quality: wire.QualityGood},
	}})
	return tw
}

// fetch GETs url and returns the body, failing t unless the answer is
// 200 with content type ctype.
func fetch(t *testing.T, url, ctype string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ctype {
		t.Fatalf("GET %s: %d %q: %s", url, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	return body
}

// TestCatalogConformsToDCATAPIT validates the catalogue of a real twin's
// data, as the handler serves it, against the DCAT-AP_IT shapes with a
// real SHACL validator (rdf-validate-shacl), and checks that the JSON-LD,
// expanded by a real JSON-LD processor (jsonld.js), gives the same
// triples as the Turtle. Broken catalogues prove each check can fail.
func TestCatalogConformsToDCATAPIT(t *testing.T) {
	v := shacltest.New(t)
	tw := realTwin(t)
	if len(tw.Indicators().Areas) == 0 {
		t.Fatal("the twin has no areas")
	}
	dir := t.TempDir()
	rec, err := NewRecorder(RecorderConfig{Dir: dir, Scope: "bari"}, tw, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := rec.Sample(time.Now()); err != nil {
		t.Fatal(err)
	}
	rec.Close()
	h, err := NewHandler(HandlerConfig{Catalog: bariConfig(), Dir: dir, Scope: "bari"}, tw, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/t/bari/opendata", h))
	t.Cleanup(srv.Close)
	ttl := fetch(t, srv.URL+"/t/bari/opendata/catalog.ttl", "text/turtle; charset=utf-8")
	js := fetch(t, srv.URL+"/t/bari/opendata/catalog.jsonld", "application/ld+json")
	work := t.TempDir()
	ttlPath, jsPath := filepath.Join(work, "catalog.ttl"), filepath.Join(work, "catalog.jsonld")
	testenv.WriteFile(t, ttlPath, string(ttl))
	testenv.WriteFile(t, jsPath, string(js))
	shapes, _ := filepath.Abs("testdata/shacl/dcat-ap_it.shapes.ttl")

	report, ok := v.Run(t, "shacl", shapes, ttlPath)
	if !ok || report["conforms"] != true {
		t.Fatalf("the catalogue does not conform to DCAT-AP_IT:\n%v", report)
	}
	t.Logf("SHACL: %v triples conform", report["triples"])
	report, ok = v.Run(t, "same", jsPath, ttlPath)
	if !ok || report["same"] != true {
		t.Fatalf("JSON-LD and Turtle differ:\n%v", report)
	}
	t.Logf("JSON-LD = Turtle: %v triples", report["jsonld"])

	g, err := h.CatalogGraph()
	if err != nil {
		t.Fatal(err)
	}
	dataset := qn("dcatapit:Dataset")
	isDataset := map[Term]bool{}
	for _, tr := range g.triples {
		if tr.P == qn("rdf:type") && tr.O == dataset {
			isDataset[tr.S] = true
		}
	}
	for _, c := range []struct {
		name string
		drop func(Triple) bool
		path string
	}{
		{"a dataset without dct:publisher", func(tr Triple) bool { return isDataset[tr.S] && tr.P == qn("dct:publisher") }, ns("dct:publisher")},
		{"a dataset without dct:rightsHolder", func(tr Triple) bool { return isDataset[tr.S] && tr.P == qn("dct:rightsHolder") }, ns("dct:rightsHolder")},
		{"a distribution without dct:license", func(tr Triple) bool { return tr.P == qn("dct:license") }, ns("dct:license")},
	} {
		t.Run(c.name, func(t *testing.T) {
			broken := &Graph{}
			for _, tr := range g.triples {
				if !c.drop(tr) {
					broken.triples = append(broken.triples, tr)
				}
			}
			path := filepath.Join(t.TempDir(), "broken.ttl")
			testenv.WriteFile(t, path, string(broken.Turtle()))
			report, ok := v.Run(t, "shacl", shapes, path)
			if ok || report["conforms"] != false {
				t.Fatalf("reported conformant:\n%v", report)
			}
			results, _ := report["results"].([]any)
			found := false
			for _, r := range results {
				if r.(map[string]any)["path"] == c.path {
					found = true
				}
			}
			if !found {
				t.Errorf("no result on %s:\n%v", c.path, report)
			}
		})
	}

	t.Run("JSON-LD missing a triple", func(t *testing.T) {
		short := &Graph{triples: g.triples[:len(g.triples)-1]}
		sj, err := short.JSONLD()
		if err != nil {
			t.Fatal(err)
		}
		full := filepath.Join(t.TempDir(), "full.ttl")
		testenv.WriteFile(t, full, string(g.Turtle()))
		path := filepath.Join(t.TempDir(), "short.jsonld")
		testenv.WriteFile(t, path, string(sj))
		report, ok := v.Run(t, "same", path, full)
		if ok || report["same"] != false {
			t.Fatalf("reported the same:\n%v", report)
		}
		if only, _ := report["onlyTurtle"].([]any); len(only) != 1 {
			t.Errorf("want the one missing triple, got %v", report)
		}
	})
}
