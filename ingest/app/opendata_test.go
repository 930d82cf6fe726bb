package app_test

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/shacltest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// openDataBase is the public URL the catalogues are written for.
const openDataBase = "https://ponte.example.it"

// openDataConfig is twoCities with the platform's open data and Bari's
// own (its publisher, contact and licence); Firenze publishes none.
func openDataConfig(t *testing.T, dir string) string {
	t.Helper()
	y := twoCities(t, dir)
	bari := "  - {id: bari, name: Comune di Bari, areas: [\"072006\"], gateways: [gw2], tokens: [" + bariToken + "]}\n"
	if !strings.Contains(y, bari) {
		t.Fatal("twoCities changed: Bari's tenant line not found")
	}
	y = strings.Replace(y, bari, "  - id: bari\n    name: Comune di Bari\n    areas: [\"072006\"]\n    gateways: [gw2]\n    tokens: ["+bariToken+"]\n"+
		"    licence: {name: IODL 2.0, url: \"https://www.dati.gov.it/iodl/2.0/\", attribution: Comune di Bari}\n"+
		"    opendata:\n      publisher: {name: Comune di Bari, ipa_code: c_a662}\n      contact: {name: Ufficio Open Data, email: opendata@comune.bari.it}\n"+
		"      spatial: {name: Bari, identifier: \"http://sws.geonames.org/3182351/\"}\n", 1)
	return y + "opendata:\n  base_url: " + openDataBase + "\n  title: Dati aperti della rete di sensori urbani Ponte\n" +
		"  description: Indicatori urbani per area, aree, sensori e storico giornaliero delle città metropolitane di Firenze e Bari.\n" +
		"  publisher: {name: Comune di Firenze, ipa_code: c_d612}\n  contact: {email: opendata@comune.fi.it}\n" +
		"  dir: opendata\n  interval: 1s\n"
}

// httpGet GETs url and returns the status, content type and body.
func httpGet(t *testing.T, url string) (int, string, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

// TestOpenDataFromIngest: a real ingest serves the platform's DCAT-AP_IT
// catalogue at /opendata/ and Bari's at /t/bari/opendata/, both
// conforming to the DCAT-AP_IT shapes (rdf-validate-shacl); Bari's names
// Comune di Bari as publisher, with its licence and only its own URLs;
// its daily files hold Bari's areas only while the platform's hold both
// cities'; the files are at the URLs the index gives; the sites dataset
// is the public sites GeoJSON, Bari's holding its site only; a tenant
// without an opendata block and an unknown tenant are 404.
func TestOpenDataFromIngest(t *testing.T) {
	testenv.Integration(t, "ingest with its embedded broker")
	v := shacltest.New(t)
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, "", openDataConfig(t, dir), 2)
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	base := "http://" + addrs.HTTP

	// Each city's meter reports, so both cities' areas have an energy
	// indicator to record.
	now := time.Now().UTC().Truncate(time.Millisecond)
	for _, gwID := range []string{"gw1", "gw2"} {
		gw, err := ingesttest.Connect(addrs.BrokerURL, gwID, gwID, password(gwID))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := wire.Encode(nil, &wire.Batch{Gateway: gwID, Epoch: 7, Seqs: []uint64{1},
			Readings: []wire.Reading{{Device: "meter-1", Point: "total_power", Value: wire.Float(1200), Unit: "W", Time: now}}})
		if tok := gw.Publish(cfg.Topics().Up(gwID), 1, false, data); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatal(tok.Error())
		}
		gw.Disconnect(50)
	}

	// The daily files: the recorders sample every second; wait until
	// each scope's file has a row with a value.
	type index struct {
		Scope string `json:"scope"`
		Days  []struct {
			Day string `json:"day"`
			URL string `json:"url"`
		} `json:"days"`
	}
	daily := func(prefix string) (index, [][]string) {
		code, _, body := httpGet(t, base+prefix+"/opendata/daily/")
		var ix index
		if code != http.StatusOK || json.Unmarshal([]byte(body), &ix) != nil || len(ix.Days) == 0 {
			return ix, nil
		}
		u := ix.Days[len(ix.Days)-1].URL
		code, _, body = httpGet(t, base+strings.TrimPrefix(u, openDataBase))
		if code != http.StatusOK {
			t.Fatalf("GET %s (the index's URL): %d %s", u, code, body)
		}
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatalf("%s is not CSV: %v\n%s", u, err, body)
		}
		return ix, rows
	}
	withValue := func(rows [][]string, area string) bool {
		for _, r := range rows[min(1, len(rows)):] {
			if r[2] == area && r[6] != "" {
				return true
			}
		}
		return false
	}
	var bariIx index
	var bariRows, allRows [][]string
	testenv.Eventually(t, 30*time.Second, "daily files with both cities' values", func() bool {
		bariIx, bariRows = daily("/t/bari")
		_, allRows = daily("")
		return withValue(bariRows, "072006") && withValue(allRows, "072006") && withValue(allRows, "048017")
	})
	if bariIx.Scope != "bari" || len(bariIx.Days) != 1 {
		t.Errorf("Bari's index: %+v", bariIx)
	}
	stable := regexp.MustCompile(`^` + regexp.QuoteMeta(openDataBase) + `/t/bari/opendata/daily/indicators-\d{4}-\d{2}-\d{2}\.csv$`)
	if d := bariIx.Days[0]; !stable.MatchString(d.URL) || !strings.HasSuffix(d.URL, d.Day+".csv") {
		t.Errorf("Bari's daily file URL %q, want %s", d.URL, stable)
	}
	if strings.Join(bariRows[0], ",") != "time,date,area_id,area_name,level,indicator,value,unit,sensors,window" {
		t.Errorf("header %v", bariRows[0])
	}
	for _, r := range bariRows[1:] {
		if r[2] != "072006" {
			t.Errorf("Bari's daily file has area %s (%s): want Bari's only", r[2], r[3])
		}
	}

	// The catalogues, validated against the DCAT-AP_IT shapes.
	work := t.TempDir()
	catalog := func(prefix string) string {
		code, ctype, ttl := httpGet(t, base+prefix+"/opendata/catalog.ttl")
		if code != http.StatusOK || ctype != "text/turtle; charset=utf-8" {
			t.Fatalf("%s/opendata/catalog.ttl: %d %q %.300s", prefix, code, ctype, ttl)
		}
		path := filepath.Join(work, strings.ReplaceAll(prefix, "/", "-")+"catalog.ttl")
		testenv.WriteFile(t, path, ttl)
		if report, ok := v.Conforms(t, path); !ok {
			t.Errorf("%s/opendata/catalog.ttl does not conform to DCAT-AP_IT:\n%v", prefix, report)
		}
		code, ctype, js := httpGet(t, base+prefix+"/opendata/catalog.jsonld")
		jsPath := filepath.Join(work, strings.ReplaceAll(prefix, "/", "-")+"catalog.jsonld")
		testenv.WriteFile(t, jsPath, js)
		if report, ok := v.Run(t, "same", jsPath, path); code != http.StatusOK || ctype != "application/ld+json" || !ok {
			t.Errorf("%s/opendata/catalog.jsonld: %d %q, not the Turtle's triples: %v", prefix, code, ctype, report)
		}
		return ttl
	}
	all := catalog("")
	bari := catalog("/t/bari")
	for _, want := range []string{`"Comune di Bari"`, `"c_a662"`, "<https://www.dati.gov.it/iodl/2.0/>", "mailto:opendata@comune.bari.it",
		"<" + openDataBase + "/t/bari/api/v1/sites.geojson>", "<" + openDataBase + "/t/bari/opendata/daily/>", "c_a662:indicatori-aree"} {
		if !strings.Contains(bari, want) {
			t.Errorf("Bari's catalogue lacks %s", want)
		}
	}
	for _, not := range []string{"Comune di Firenze", "c_d612", "creativecommons.org"} {
		if strings.Contains(bari, not) {
			t.Errorf("Bari's catalogue names %s", not)
		}
	}
	ours := regexp.MustCompile(`<` + regexp.QuoteMeta(openDataBase) + `[^>]*>`)
	urls := ours.FindAllString(bari, -1)
	if len(urls) < 5 {
		t.Errorf("Bari's catalogue has %d URLs of ours: %v", len(urls), urls)
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, "<"+openDataBase+"/t/bari/") {
			t.Errorf("Bari's catalogue has a URL outside /t/bari/: %s", u)
		}
	}
	if !strings.Contains(all, `"Comune di Firenze"`) || !strings.Contains(all, "<"+openDataBase+"/api/v1/sites.geojson>") || strings.Contains(all, "/t/bari/") ||
		!strings.Contains(all, "<https://creativecommons.org/licenses/by/4.0/>") {
		t.Errorf("the platform's catalogue:\n%s", all)
	}

	// The sites dataset's distribution: the public sites GeoJSON.
	if code, _, body := httpGet(t, base+"/t/bari/api/v1/sites.geojson"); code != http.StatusOK || !strings.Contains(body, "ba-moro-meter") || strings.Contains(body, "fi-duomo-meter") {
		t.Errorf("Bari's sites: %d %.300s", code, body)
	}
	if code, _, body := httpGet(t, base+"/api/v1/sites.geojson"); code != http.StatusOK || !strings.Contains(body, "ba-moro-meter") || !strings.Contains(body, "fi-duomo-meter") {
		t.Errorf("the platform's sites: %d %.300s", code, body)
	}

	for path, want := range map[string]string{
		"/t/firenze/opendata/catalog.ttl":                  "tenant firenze publishes no open data",
		"/t/roma/opendata/catalog.ttl":                     "no tenant",
		"/t/bari/opendata/daily/indicators-2026-13-01.csv": "",
		"/t/bari/opendata/daily/../../../ingest.yaml":      "",
		"/opendata/other.ttl":                              "",
	} {
		if code, _, body := httpGet(t, base+path); code != http.StatusNotFound || !strings.Contains(body, want) {
			t.Errorf("%s: %d %.200s, want 404 %q", path, code, body, want)
		}
	}
}

// TestOpenDataNotConfigured: without the opendata section nothing is
// served under /opendata/ or a tenant's /t/{id}/opendata/, and the 404
// says what to configure.
func TestOpenDataNotConfigured(t *testing.T) {
	testenv.Integration(t, "ingest with its embedded broker")
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, "", twoCities(t, dir), 2)
	addrs := start(t, cfg, app.Options{Sink: ingesttest.NewMemSink()})
	for _, p := range []string{"/opendata/catalog.ttl", "/opendata/daily/", "/t/bari/opendata/catalog.jsonld"} {
		if code, _, body := httpGet(t, "http://"+addrs.HTTP+p); code != http.StatusNotFound || !strings.Contains(body, "add an opendata section") {
			t.Errorf("%s: %d %.200s, want 404 naming the opendata section", p, code, body)
		}
	}
}
