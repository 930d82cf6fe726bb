package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/twin/opendata"
)

// TestOpenDataErrors runs testdata/opendata/<case>/: config.yaml must
// fail with expected.err, each error at its file, line and field.
func TestOpenDataErrors(t *testing.T) {
	testenv.ErrorCases(t, "testdata/opendata/*/config.yaml", func(t *testing.T, path string) error {
		_, err := Load(path)
		return err
	})
}

// TestOpenData: the platform's catalogue takes the file's fields, the
// twin's licence and time zone by default and its dir relative to the
// file; a tenant's takes its publisher, contact and licence, titles made
// from its name, and its URLs under /t/{id}; a tenant without an
// opendata block, or a config without the section, publishes nothing.
func TestOpenData(t *testing.T) {
	y := tenantsBase + "  time_zone: Europe/Berlin\n  licence: {name: IODL 2.0, url: \"https://www.dati.gov.it/iodl/2.0/\"}\n" +
		"opendata:\n  base_url: https://ponte.example.it/\n  title: Dati aperti urbani\n  description: Indicatori urbani.\n" +
		"  publisher: {name: Città metropolitana di Bari, ipa_code: cmba}\n  contact: {email: opendata@cittametropolitana.ba.it}\n" +
		"  spatial: {name: Bari, identifier: \"http://sws.geonames.org/3182351/\", bbox: [16.7, 40.9, 17.1, 41.2]}\n" +
		"  dir: od\n  keep_days: 30\n  interval: 1m\n" +
		"tenants:\n" +
		"  - id: bari\n    name: Comune di Bari\n    areas: [\"072006\"]\n    tokens: [bari-operator-token-0001]\n" +
		"    licence: {name: CC BY 4.0, url: \"https://creativecommons.org/licenses/by/4.0/\"}\n" +
		"    opendata:\n      publisher: {name: Comune di Bari, ipa_code: c_a662}\n      contact: {name: Ufficio Open Data, email: opendata@comune.bari.it}\n" +
		"  - id: bitonto\n    name: Comune di Bitonto\n    areas: [Bitonto]\n    tokens: [bitonto-operator-token-01]\n"
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Parse(filepath.Join(here, "ingest.yaml"), []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if !c.OpenDataPublished() || c.OpenDataDir() != filepath.Join(here, "od") {
		t.Errorf("published %v, dir %q", c.OpenDataPublished(), c.OpenDataDir())
	}
	if r := c.OpenDataRecorder("all"); r.Interval != time.Minute || r.KeepDays != 30 || r.TimeZone != "Europe/Berlin" || r.Scope != "all" {
		t.Errorf("recorder %+v", r)
	}
	all, ok := c.OpenDataCatalog("")
	if !ok || all.Prefix != "" || all.Licence.Name != "IODL 2.0" || all.Licence.Type != "" || all.TimeZone != "Europe/Berlin" ||
		all.Spatial.BBox == nil || all.Spatial.BBox.Max[1] != 41.2 || all.SitesURL != "https://ponte.example.it/api/v1/sites.geojson" {
		t.Errorf("platform's catalogue %+v", all)
	}
	bari, ok := c.OpenDataCatalog("bari")
	if !ok || bari.Prefix != "/t/bari" || bari.Publisher != (opendata.Agent{Name: "Comune di Bari", IPACode: "c_a662"}) ||
		bari.Contact.Email != "opendata@comune.bari.it" || bari.Licence.Type != opendata.DefaultLicenceType ||
		!strings.Contains(bari.Title.It, "Comune di Bari") || bari.SitesURL != "https://ponte.example.it/t/bari/api/v1/sites.geojson" {
		t.Errorf("Bari's catalogue %+v", bari)
	}
	if err := bari.Validate(); err != nil {
		t.Errorf("Bari's catalogue: %v", err)
	}
	if _, ok := c.OpenDataCatalog("bitonto"); ok {
		t.Error("Bitonto, without an opendata block, publishes a catalogue")
	}
	c, err = Parse("ok.yaml", []byte(tenantsBase))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.OpenDataCatalog(""); ok || c.OpenDataPublished() {
		t.Error("without the section, a catalogue is published")
	}
}
