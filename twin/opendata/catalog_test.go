package opendata

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestCatalogGolden: the catalogue of a fixed municipality, as JSON-LD
// and Turtle, is what the golden files hold (read them to review the
// DCAT-AP_IT shape).
func TestCatalogGolden(t *testing.T) {
	cfg := bariConfig()
	now := time.Date(2026, 5, 4, 23, 30, 0, 0, time.UTC) // 5 May in Rome
	g, err := Catalog(cfg, Datasets(cfg, fixedCoverage()), now)
	if err != nil {
		t.Fatal(err)
	}
	js, err := g.JSONLD()
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "catalog.jsonld", js)
	golden(t, "catalog.ttl", g.Turtle())
	golden(t, "catalog.nt", g.NTriples())
	var doc map[string]any
	if err := json.Unmarshal(js, &doc); err != nil {
		t.Fatalf("JSON-LD is not JSON: %v", err)
	}
	ttl := string(g.Turtle())
	for _, want := range []string{
		`dct:modified "2026-05-05"^^xsd:date`, // the day in Rome, not UTC
		`dct:identifier "c_a662:indicatori-aree"`,
		`<https://ponte.example.it/t/bari/opendata/dataset/indicatori-aree>`,
		`dcat:accessURL <https://ponte.example.it/t/bari/api/v1/indicators.csv>`,
		`<http://publications.europa.eu/resource/authority/frequency/DAILY>`,
		`foaf:name "Creative Commons Attribution 4.0 International (CC BY 4.0)"`,
	} {
		if !strings.Contains(ttl, want) {
			t.Errorf("Turtle lacks %s", want)
		}
	}
}

// TestCatalogWithoutSites: with no SitesURL the sites dataset is left
// out (Ponte has no public sites route yet), the others stay.
func TestCatalogWithoutSites(t *testing.T) {
	cfg := bariConfig()
	cfg.SitesURL = ""
	ds := Datasets(cfg, fixedCoverage())
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.ID)
	}
	if strings.Join(ids, ",") != DatasetIndicators+","+DatasetAreas+","+DatasetDaily {
		t.Errorf("datasets %v", ids)
	}
}

// TestCatalogConfigErrors: each invalid field is named with what was
// expected, all at once.
func TestCatalogConfigErrors(t *testing.T) {
	cfg := CatalogConfig{BaseURL: "ftp://x", Prefix: "t/bari/", Publisher: Agent{IPACode: "c a662"},
		Contact: Contact{Email: "not an address"}, Licence: Licence{URL: "/licence"}, Language: "it",
		Spatial: Spatial{Identifier: "geonames 3182351"}, TimeZone: "Mars/Olympus", SitesURL: "sites.geojson"}
	err := cfg.Validate()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"base_url", "prefix", "title.it: required", "description.it: required",
		"publisher.name: required", "publisher.ipa_code", "contact.email", "licence.url", "licence.name",
		"language", "spatial.identifier", "time_zone", "sites_url"} {
		if !strings.Contains(err.Error(), "opendata: "+want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if _, err := Catalog(cfg, nil, time.Now()); err == nil {
		t.Error("Catalog built an invalid config")
	}
	ok := bariConfig()
	ok.BaseURL = "http://127.0.0.1:8080/"
	if err := ok.Validate(); err != nil {
		t.Errorf("http base URL with a trailing slash: %v", err)
	}
}

// TestDatasetErrors: a bad dataset is named by index and ID.
func TestDatasetErrors(t *testing.T) {
	cfg := bariConfig()
	ds := Datasets(cfg, fixedCoverage())
	ds[0].Themes = []string{"traffic"}
	ds[1].Distributions[0].AccessURL = "https://x/<script>"
	ds[2].Frequency = ""
	_, err := Catalog(cfg, ds, time.Now())
	for _, want := range []string{
		`datasets[0] (indicatori-aree).themes[0]: "traffic": want an EU data theme code`,
		`datasets[1] (aree).distributions[0].access_url`,
		`datasets[2] (sensori).frequency: "": want an EU frequency code`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestTurtleEscaping: hostile strings in literals come out escaped so a
// Turtle reader gets them back unchanged; an IRI with > or a space, a bad
// language tag and invalid UTF-8 are refused, not written.
func TestTurtleEscaping(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`say "hi"`, `"say \"hi\""`},
		{"two\nlines\r\n", `"two\nlines\r\n"`},
		{`back\slash`, `"back\\slash"`},
		{"tab\tand\x00nul\x1f\x7f", `"tab\tand\u0000nul\u001F\u007F"`},
		{"città — 東京 🚦", `"città — 東京 🚦"`},
		{`""" end`, `"\"\"\" end"`},
	} {
		g := &Graph{}
		g.add(iri("https://x/s"), qn("dct:title"), lit(c.in))
		if err := g.Err(); err != nil {
			t.Fatal(err)
		}
		got := string(g.NTriples())
		if want := "<https://x/s> <http://purl.org/dc/terms/title> " + c.want + " .\n"; got != want {
			t.Errorf("%q: got %s want %s", c.in, got, want)
		}
		js, _ := g.JSONLD()
		var doc struct {
			Graph []struct {
				Title []map[string]string `json:"dct:title"`
			} `json:"@graph"`
		}
		if err := json.Unmarshal(js, &doc); err != nil || doc.Graph[0].Title[0]["@value"] != c.in {
			t.Errorf("%q: JSON-LD does not carry it back: %s (%v)", c.in, js, err)
		}
	}
	for _, c := range []struct {
		name string
		s, p Term
		o    Term
	}{
		{"> in IRI", iri("https://x/a>b"), qn("dct:title"), lit("x")},
		{"space in IRI", iri("https://x/a b"), qn("dct:title"), lit("x")},
		{"relative IRI", iri("/a"), qn("dct:title"), lit("x")},
		{"quote in object IRI", iri("https://x/a"), qn("dcat:accessURL"), iri(`https://x/"a`)},
		{"backslash in datatype", iri("https://x/a"), qn("dct:modified"), typedLit("x", `https://x/\d`)},
		{"bad language tag", iri("https://x/a"), qn("dct:title"), langLit("x", "it IT")},
		{"invalid UTF-8", iri("https://x/a"), qn("dct:title"), lit("a\xffb")},
		{"literal subject", lit("x"), qn("dct:title"), lit("x")},
		{"bad blank label", blank("a-b"), qn("dct:title"), lit("x")},
	} {
		g := &Graph{}
		g.add(c.s, c.p, c.o)
		if g.Err() == nil || len(g.Triples()) != 0 {
			t.Errorf("%s: accepted", c.name)
		}
	}
	if !validLangTag("en-GB") || !validLangTag("it") || validLangTag("-it") || validLangTag("1t") {
		t.Error("language tags")
	}
}

// TestHostileConfigText: a publisher name with quotes and a newline goes
// through Catalog into both serializations escaped.
func TestHostileConfigText(t *testing.T) {
	cfg := bariConfig()
	cfg.Publisher.Name = "Comune \"di\" Bari\n<b>\\"
	g, err := Catalog(cfg, Datasets(cfg, fixedCoverage()), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(g.Turtle()), `foaf:name "Comune \"di\" Bari\n<b>\\"@it`) {
		t.Errorf("publisher name not escaped:\n%s", g.Turtle())
	}
}
