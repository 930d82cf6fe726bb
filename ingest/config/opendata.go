package config

import (
	"fmt"
	"strings"

	"github.com/ponte-city/ponte/twin"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/internal/yamlconf"
	"github.com/ponte-city/ponte/twin/opendata"
)

// DefaultOpenDataDir is where the daily open-data files go when
// opendata.dir is not given.
const DefaultOpenDataDir = "/var/lib/ponte-ingest/opendata"

// OpenData publishes the twin's data for open-data portals (package
// twin/opendata): a DCAT-AP_IT catalogue at /opendata/catalog.jsonld and
// .ttl and daily indicator files at /opendata/daily/, the platform's; and
// each tenant with an opendata block of its own the same under
// /t/{tenant}/opendata/. Without this section nothing is served there.
type OpenData struct {
	// BaseURL is the public https URL of this ingest (as reusers reach
	// it, behind any proxy); every URL of the catalogues starts with it.
	BaseURL string `yaml:"base_url"`
	// OpenDataCatalog describes the platform's catalogue (title and
	// description required).
	OpenDataCatalog `yaml:",inline"`
	// Licence is the data licence (default twin.licence, else CC BY 4.0).
	Licence *OpenDataLicence `yaml:"licence"`
	// Dir holds the daily files, one folder per scope ("all" and each
	// published tenant); relative to this file's folder.
	Dir string `yaml:"dir"`
	// KeepDays is how many days of files are kept (default 365).
	KeepDays int `yaml:"keep_days"`
	// Interval is the time between samples of the daily files (default
	// 15m).
	Interval yamlconf.Duration `yaml:"interval"`
}

// TenantOpenData is what a tenant's own catalogue needs beyond the
// tenant's name and licence: its publisher (the municipality, by its
// Indice PA code) and contact; its title and description have defaults
// made from its name.
type TenantOpenData struct {
	OpenDataCatalog `yaml:",inline"`
}

// OpenDataCatalog describes one publisher's catalogue, the platform's or
// a tenant's.
type OpenDataCatalog struct {
	// Title and Description describe the catalogue in Italian; TitleEn
	// and DescriptionEn in English.
	Title         string `yaml:"title"`
	TitleEn       string `yaml:"title_en"`
	Description   string `yaml:"description"`
	DescriptionEn string `yaml:"description_en"`
	// Publisher is the administration publishing the catalogue.
	Publisher OpenDataAgent `yaml:"publisher"`
	// Contact is where reusers write (email required).
	Contact OpenDataContact `yaml:"contact"`
	// Homepage is the catalogue's home page (default the public
	// indicators page).
	Homepage string `yaml:"homepage"`
	// Spatial is the territory covered (optional).
	Spatial *OpenDataSpatial `yaml:"spatial"`
	// Keywords are given to every dataset, in Italian.
	Keywords []string `yaml:"keywords"`
}

// OpenDataAgent is a public administration (foaf:Agent).
type OpenDataAgent struct {
	// Name is its name, e.g. "Comune di Bari".
	Name string `yaml:"name"`
	// IPACode is its code in the Indice PA, e.g. "c_a662".
	IPACode string `yaml:"ipa_code"`
}

// OpenDataContact is a catalogue's contact point.
type OpenDataContact struct {
	// Name is the office (default the publisher's name).
	Name string `yaml:"name"`
	// Email is its address (required).
	Email string `yaml:"email"`
}

// OpenDataLicence is the licence as DCAT-AP_IT describes it.
type OpenDataLicence struct {
	// Name is its full name; URL its text.
	Name string `yaml:"name"`
	URL  string `yaml:"url"`
	// Type is its ADMS licence type IRI, Version its version (optional).
	Type    string `yaml:"type"`
	Version string `yaml:"version"`
}

// OpenDataSpatial is the territory a catalogue covers.
type OpenDataSpatial struct {
	// Name is the place's name; Identifier its gazetteer URI (GeoNames
	// or ISTAT).
	Name       string `yaml:"name"`
	Identifier string `yaml:"identifier"`
	// BBox is [min lon, min lat, max lon, max lat] in WGS84 (optional).
	BBox []float64 `yaml:"bbox"`
}

// OpenDataPublished says whether the platform's open data are configured.
func (c *Config) OpenDataPublished() bool { return c.OpenData != nil && c.Twin != nil }

// OpenDataDir returns the folder of the daily files, resolved against the
// config file's folder.
func (c *Config) OpenDataDir() string {
	if c.OpenData == nil {
		return ""
	}
	if c.OpenData.Dir == "" {
		return DefaultOpenDataDir
	}
	return c.resolve(c.OpenData.Dir)
}

// OpenDataRecorder returns the recorder settings of one scope ("all" for
// the platform, a tenant's ID), without its Areas filter and metrics.
func (c *Config) OpenDataRecorder(scope string) opendata.RecorderConfig {
	o := c.OpenData
	if o == nil {
		return opendata.RecorderConfig{}
	}
	tz := ""
	if c.Twin != nil {
		tz = c.Twin.Public.Zone()
	}
	return opendata.RecorderConfig{Dir: c.OpenDataDir(), Scope: scope, Interval: o.Interval.D(), KeepDays: o.KeepDays, TimeZone: tz}
}

// OpenDataCatalog returns the catalogue of the platform (tenant "") or of
// one tenant, and whether it is published: a tenant's is when it has an
// opendata block and the platform's section is there.
func (c *Config) OpenDataCatalog(tenant string) (opendata.CatalogConfig, bool) {
	o := c.OpenData
	if o == nil {
		return opendata.CatalogConfig{}, false
	}
	cat := o.OpenDataCatalog.catalog()
	cat.BaseURL, cat.Licence = o.BaseURL, c.openDataLicence()
	tz := ""
	if c.Twin != nil {
		tz = c.Twin.Public.Zone()
	}
	cat.TimeZone = tz
	if tenant != "" {
		var tn *Tenant
		for i := range c.Tenants {
			if c.Tenants[i].ID == tenant {
				tn = &c.Tenants[i]
			}
		}
		if tn == nil || tn.OpenData == nil {
			return opendata.CatalogConfig{}, false
		}
		base, lic := cat.BaseURL, cat.Licence
		cat = tn.OpenData.catalog()
		cat.BaseURL, cat.Licence, cat.TimeZone, cat.Prefix = base, lic, tz, "/t/"+tn.ID
		if cat.Title.It == "" {
			cat.Title = opendata.Text{It: "Dati aperti urbani: " + tn.Name, En: "Urban open data: " + tn.Name}
		}
		if cat.Description.It == "" {
			cat.Description = opendata.Text{
				It: "Indicatori urbani per area, aree, sensori e storico giornaliero degli indicatori del territorio di " + tn.Name + ", pubblicati dalla piattaforma Ponte.",
				En: "Urban indicators per area, areas, sensor sites and the daily indicator history of the territory of " + tn.Name + ", published by the Ponte platform.",
			}
		}
		if l := tn.Licence; l != nil {
			cat.Licence = licenceOf(l.Name, l.URL)
		}
	}
	cat.SitesURL = strings.TrimSuffix(cat.BaseURL, "/") + cat.Prefix + "/api/v1/sites.geojson"
	return cat, true
}

// openDataLicence is the platform's data licence: opendata.licence, else
// twin.licence, else CC BY 4.0 (the zero Licence).
func (c *Config) openDataLicence() opendata.Licence {
	if l := c.OpenData.Licence; l != nil {
		return opendata.Licence(*l)
	}
	if c.Twin != nil && c.Twin.Public.Licence != nil {
		return licenceOf(c.Twin.Public.Licence.Name, c.Twin.Public.Licence.URL)
	}
	return opendata.Licence{}
}

// licenceOf describes a licence known by name and URL; CC BY 4.0's URL
// gets its ADMS type and version too.
func licenceOf(name, url string) opendata.Licence {
	l := opendata.Licence{Name: name, URL: url}
	if url == opendata.DefaultLicenceURL {
		l.Type, l.Version = opendata.DefaultLicenceType, opendata.DefaultLicenceVersion
	}
	return l
}

// catalog converts d, without the URLs, licence and time zone.
func (d *OpenDataCatalog) catalog() opendata.CatalogConfig {
	return opendata.CatalogConfig{
		Title:       opendata.Text{It: d.Title, En: d.TitleEn},
		Description: opendata.Text{It: d.Description, En: d.DescriptionEn},
		Publisher:   d.Publisher.catalog(),
		Contact:     opendata.Contact(d.Contact),
		Homepage:    d.Homepage,
		Spatial:     d.Spatial.catalog(),
		Keywords:    d.Keywords,
	}
}

// catalog converts a.
func (a OpenDataAgent) catalog() opendata.Agent {
	return opendata.Agent{Name: a.Name, IPACode: a.IPACode}
}

// catalog converts s (nil: none).
func (s *OpenDataSpatial) catalog() opendata.Spatial {
	if s == nil {
		return opendata.Spatial{}
	}
	out := opendata.Spatial{Name: s.Name, Identifier: s.Identifier}
	if len(s.BBox) == 4 {
		out.BBox = &orb.Bound{Min: orb.Point{s.BBox[0], s.BBox[1]}, Max: orb.Point{s.BBox[2], s.BBox[3]}}
	}
	return out
}

// validateOpenData checks the opendata section and the tenants' opendata
// blocks. The checks are twin/opendata's own (CatalogConfig.Validate,
// RecorderConfig.Validate), each problem reported at the line of the
// field of this file it comes from.
func (c *Config) validateOpenData(bad func(path, format string, args ...any)) {
	o := c.OpenData
	for i, t := range c.Tenants {
		if t.OpenData != nil && o == nil {
			bad(fmt.Sprintf("tenants[%d].opendata", i), "needs the top-level opendata section (base_url, publisher, contact, dir): a tenant's catalogue lives on the platform's")
		}
	}
	if o == nil {
		return
	}
	if c.Twin == nil {
		bad("opendata", "needs a twin section: the open data are the twin's indicators, areas and sites")
		return
	}
	if o.Spatial != nil && o.Spatial.BBox != nil && len(o.Spatial.BBox) != 4 {
		bad("opendata.spatial.bbox", "%v (expected [min lon, min lat, max lon, max lat])", o.Spatial.BBox)
	}
	cat, _ := c.OpenDataCatalog("")
	reportOpenData(bad, "opendata.", nil, cat.Validate(), c.OpenDataRecorder(twin.ReservedTenantID).Validate())
	for i, t := range c.Tenants {
		if t.OpenData == nil {
			continue
		}
		p := fmt.Sprintf("tenants[%d].", i)
		if s := t.OpenData.Spatial; s != nil && s.BBox != nil && len(s.BBox) != 4 {
			bad(p+"opendata.spatial.bbox", "%v (expected [min lon, min lat, max lon, max lat])", s.BBox)
		}
		cat, _ := c.OpenDataCatalog(t.ID)
		// The base URL, prefix and time zone are the platform's, reported
		// there; the licence is the tenant's own licence field.
		reportOpenData(bad, p+"opendata.", map[string]string{"base_url": "", "sites_url": "", "prefix": "", "time_zone": "",
			"licence.name": p + "licence.name", "licence.url": p + "licence.url", "licence.type": p + "licence.type"}, cat.Validate())
	}
}

// reportOpenData reports each of twin/opendata's errors ("opendata:
// <field>: <problem>") at the field of the file it names: under prefix,
// or as fields says (an empty path drops it).
func reportOpenData(bad func(path, format string, args ...any), prefix string, fields map[string]string, errs ...error) {
	rename := map[string]string{"title.it": prefix + "title", "description.it": prefix + "description",
		"sites_url": "", "time_zone": "twin.time_zone", "recorder.dir": prefix + "dir",
		"recorder.interval": prefix + "interval", "recorder.keep_days": prefix + "keep_days", "recorder.time_zone": ""}
	for k, v := range fields {
		rename[k] = v
	}
	for _, err := range errs {
		for _, e := range unjoin(err) {
			msg := strings.TrimPrefix(e.Error(), "opendata: ")
			field, problem, ok := strings.Cut(msg, ": ")
			if !ok {
				bad(strings.TrimSuffix(prefix, "."), "%s", msg)
				continue
			}
			path, renamed := rename[field]
			if !renamed {
				path = prefix + field
			}
			if path != "" {
				bad(path, "%s", problem)
			}
		}
	}
}

// unjoin returns the errors errors.Join made err of (err alone otherwise;
// none for nil).
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
