package opendata

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/paulmach/orb"
)

// Defaults of CatalogConfig's zero fields.
const (
	// DefaultLanguage is the EU language authority code of the data.
	DefaultLanguage = "ITA"
	// DefaultTimeZone is where a day of the catalogue's dates begins.
	DefaultTimeZone = "Europe/Rome"
	// DefaultLicenceName, DefaultLicenceURL, DefaultLicenceType and
	// DefaultLicenceVersion describe CC BY 4.0, the default licence (the
	// one the public API already carries).
	DefaultLicenceName    = "Creative Commons Attribution 4.0 International (CC BY 4.0)"
	DefaultLicenceURL     = "https://creativecommons.org/licenses/by/4.0/"
	DefaultLicenceType    = "http://purl.org/adms/licencetype/Attribution"
	DefaultLicenceVersion = "4.0"
)

// Text is a text in Italian and, where given, English.
type Text struct {
	// It is the Italian text (required where a Text is).
	It string
	// En is the English text; empty: none.
	En string
}

// Agent is an organization that publishes or holds the data: a public
// administration, named by its code in the Indice PA.
type Agent struct {
	// Name is the organization's name (foaf:name), e.g. "Comune di Bari".
	Name string
	// IPACode is its code in the Indice delle Pubbliche Amministrazioni
	// (dct:identifier), e.g. "c_a662"; DCAT-AP_IT builds dataset
	// identifiers from it.
	IPACode string
	// URI identifies the agent; empty: one under the catalogue's URL.
	URI string
}

// Contact is where a reuser writes about the data (dcat:contactPoint).
type Contact struct {
	// Name is the office's name (vcard:fn); empty: the publisher's name.
	Name string
	// Email is its address (vcard:hasEmail); required.
	Email string
}

// Licence is the licence of every distribution (dct:license).
type Licence struct {
	// Name is the licence's full name (foaf:name).
	Name string
	// URL identifies the licence and is its text.
	URL string
	// Type is the licence's type in the ADMS licence type vocabulary
	// (dct:type), e.g. http://purl.org/adms/licencetype/Attribution.
	Type string
	// Version is the licence's version (owl:versionInfo), e.g. "4.0".
	Version string
}

// Spatial is the territory the data cover (dct:spatial).
type Spatial struct {
	// Name is the territory's name (dcatapit:geographicalName), e.g.
	// "Bari".
	Name string
	// Identifier is the territory's URI in a gazetteer (GeoNames, e.g.
	// http://sws.geonames.org/3182351/, or ISTAT's), given as
	// dcatapit:geographicalIdentifier.
	Identifier string
	// BBox, if set, is the territory's bounding box in WGS84 (dcat:bbox
	// as a WKT polygon).
	BBox *orb.Bound
}

// CatalogConfig describes one publisher's catalogue: the platform's, or
// one municipality's (a tenant), which differ by Prefix and Publisher.
type CatalogConfig struct {
	// BaseURL is the public site's absolute http(s) URL, e.g.
	// https://ponte.example.it; every URL of the catalogue starts with it.
	BaseURL string
	// Prefix is the path of this publisher's routes under BaseURL: "" for
	// the platform, "/t/bari" for a tenant. Starts with / when set.
	Prefix string
	// Title and Description describe the catalogue (It required).
	Title, Description Text
	// Publisher publishes the catalogue and its datasets (required).
	Publisher Agent
	// RightsHolder holds the rights of the datasets; zero: the Publisher.
	RightsHolder Agent
	// Contact answers reusers (Email required).
	Contact Contact
	// Homepage is the catalogue's home page (foaf:homepage); empty: the
	// public indicators page under Prefix.
	Homepage string
	// Language is the EU language authority code of the data, e.g. "ITA".
	Language string
	// Licence is the data licence; zero: CC BY 4.0.
	Licence Licence
	// Spatial is the territory the data cover; zero: none given.
	Spatial Spatial
	// Keywords are given to every dataset (dcat:keyword, in Italian).
	Keywords []string
	// SitesURL is the URL of the sensor sites' GeoJSON (ingest gives its
	// public /api/v1/sites.geojson under Prefix); empty: the sites dataset
	// is left out.
	SitesURL string
	// TimeZone is the IANA zone whose days the catalogue's dates are.
	TimeZone string
}

// Validate reports every problem of c, naming the fields.
func (c CatalogConfig) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("opendata: %s: "+format, append([]any{field}, a...)...))
	}
	if err := checkHTTPURL(c.BaseURL); err != nil {
		bad("base_url", "%v", err)
	} else if u, _ := url.Parse(c.BaseURL); u.RawQuery != "" || u.Fragment != "" {
		bad("base_url", "%q: want no query or fragment", c.BaseURL)
	}
	if c.Prefix != "" {
		if !strings.HasPrefix(c.Prefix, "/") || strings.HasSuffix(c.Prefix, "/") || checkIRI("http://x"+c.Prefix) != nil || strings.ContainsAny(c.Prefix, "?#%") {
			bad("prefix", "%q: want a path such as /t/bari (a leading /, no trailing /, no ? # %%)", c.Prefix)
		}
	}
	if strings.TrimSpace(c.Title.It) == "" {
		bad("title.it", "required")
	}
	if strings.TrimSpace(c.Description.It) == "" {
		bad("description.it", "required")
	}
	errs = append(errs, c.Publisher.errors("publisher", true)...)
	if c.RightsHolder != (Agent{}) {
		errs = append(errs, c.RightsHolder.errors("rights_holder", true)...)
	}
	if c.Contact.Email == "" {
		bad("contact.email", "required (DCAT-AP_IT asks a contact point with an e-mail address)")
	} else if a, err := mail.ParseAddress(c.Contact.Email); err != nil || a.Address != c.Contact.Email {
		bad("contact.email", "%q: want an e-mail address such as opendata@comune.bari.it", c.Contact.Email)
	}
	if c.Homepage != "" {
		if err := checkHTTPURL(c.Homepage); err != nil {
			bad("homepage", "%v", err)
		}
	}
	if c.Language != "" && !upperCode(c.Language, 3) {
		bad("language", "%q: want an EU language authority code such as ITA or ENG", c.Language)
	}
	l := c.Licence
	if l != (Licence{}) {
		if err := checkHTTPURL(l.URL); err != nil {
			bad("licence.url", "%v", err)
		}
		if l.Name == "" {
			bad("licence.name", "required when a licence is given")
		}
		if l.Type != "" && checkIRI(l.Type) != nil {
			bad("licence.type", "%q: want the IRI of an ADMS licence type such as %s", l.Type, DefaultLicenceType)
		}
	}
	if c.Spatial.Identifier != "" && checkIRI(c.Spatial.Identifier) != nil {
		bad("spatial.identifier", "%q: want a gazetteer URI such as http://sws.geonames.org/3182351/", c.Spatial.Identifier)
	}
	if b := c.Spatial.BBox; b != nil && (b.Min[0] > b.Max[0] || b.Min[1] > b.Max[1] || b.Min[0] < -180 || b.Max[0] > 180 || b.Min[1] < -90 || b.Max[1] > 90) {
		bad("spatial.bbox", "%v: want min <= max within lon -180..180, lat -90..90", *b)
	}
	if c.SitesURL != "" {
		if err := checkHTTPURL(c.SitesURL); err != nil {
			bad("sites_url", "%v", err)
		}
	}
	if c.TimeZone != "" {
		if _, err := time.LoadLocation(c.TimeZone); err != nil {
			bad("time_zone", "%q: want an IANA zone such as Europe/Rome: %v", c.TimeZone, err)
		}
	}
	for i, k := range c.Keywords {
		if strings.TrimSpace(k) == "" {
			bad(fmt.Sprintf("keywords[%d]", i), "empty")
		}
	}
	return errors.Join(errs...)
}

// errors reports a's problems under field.
func (a Agent) errors(field string, required bool) []error {
	var errs []error
	if required && strings.TrimSpace(a.Name) == "" {
		errs = append(errs, fmt.Errorf("opendata: %s.name: required", field))
	}
	if required && a.IPACode == "" {
		errs = append(errs, fmt.Errorf("opendata: %s.ipa_code: required (the code of the administration in the Indice PA, e.g. c_a662)", field))
	} else if !ipaCode(a.IPACode) {
		errs = append(errs, fmt.Errorf("opendata: %s.ipa_code: %q: want letters, digits and _ (an Indice PA code such as c_a662)", field, a.IPACode))
	}
	if a.URI != "" && checkIRI(a.URI) != nil {
		errs = append(errs, fmt.Errorf("opendata: %s.uri: %q: want an absolute IRI", field, a.URI))
	}
	return errs
}

// checkHTTPURL says why s is not an absolute http(s) URL a catalogue can
// carry, or nil.
func checkHTTPURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("%q: want an absolute http or https URL", s)
	}
	if err := checkIRI(s); err != nil {
		return err
	}
	return nil
}

// ipaCode says whether s looks like an Indice PA code.
func ipaCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// upperCode says whether s is n upper-case ASCII letters.
func upperCode(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for _, r := range s {
		if r < 'A' || r > 'Z' {
			return false
		}
	}
	return true
}

// withDefaults returns c with its zero fields set.
func (c CatalogConfig) withDefaults() CatalogConfig {
	c.BaseURL = strings.TrimSuffix(c.BaseURL, "/")
	if c.RightsHolder == (Agent{}) {
		c.RightsHolder = c.Publisher
	}
	if c.Contact.Name == "" {
		c.Contact.Name = c.Publisher.Name
	}
	if c.Homepage == "" {
		c.Homepage = c.url("/indicators/")
	}
	if c.Language == "" {
		c.Language = DefaultLanguage
	}
	if c.Licence == (Licence{}) {
		c.Licence = Licence{Name: DefaultLicenceName, URL: DefaultLicenceURL, Type: DefaultLicenceType, Version: DefaultLicenceVersion}
	}
	if c.TimeZone == "" {
		c.TimeZone = DefaultTimeZone
	}
	return c
}

// url is the public URL of path (starting with /) under the catalogue's
// base URL and prefix.
func (c CatalogConfig) url(path string) string {
	return strings.TrimSuffix(c.BaseURL, "/") + c.Prefix + path
}

// location is the catalogue's time zone (UTC if it cannot be loaded,
// which Validate reports first).
func (c CatalogConfig) location() *time.Location {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return time.UTC
	}
	return loc
}
