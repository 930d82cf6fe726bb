package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/twin"
)

// Defaults of Public's zero fields.
const (
	DefaultLanguage     = "it"
	DefaultTimeZone     = "Europe/Rome"
	DefaultLicenceName  = "CC BY 4.0"
	DefaultLicenceURL   = "https://creativecommons.org/licenses/by/4.0/"
	DefaultAttribution  = "rete di sensori urbani Ponte; confini delle aree: Confini amministrativi © ISTAT, CC BY 4.0 (via openpolis/geojson-italy)"
	maxAcceptLanguage   = 512 // longer Accept-Language headers are not parsed
	configCacheControl  = "public, max-age=300"
	historyCacheControl = "public, max-age=300"
)

// Public configures what the public endpoints say about the data and
// whom they count as one client. Zero fields take the defaults above.
type Public struct {
	// Language is the default language of the public page and of the
	// labels and definitions in answers ("it" or "en"), used when
	// neither ?lang= nor Accept-Language chooses one.
	Language string
	// TimeZone is the IANA zone the public page shows times in
	// (time.LoadLocation must know it).
	TimeZone string
	// Licence is the data licence every public answer carries (a
	// "licence" field and a Link rel="license" header).
	Licence Licence
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed: behind one, the client of a request is the rightmost
	// address of X-Forwarded-For that is not itself a trusted proxy.
	// Empty: the connection's address is the client, whatever the headers
	// say (any client can write X-Forwarded-For).
	TrustedProxies []netip.Prefix
}

// Licence is the data licence of the public answers and who to credit.
type Licence struct {
	// Name is the licence's short name, e.g. "CC BY 4.0".
	Name string `json:"name"`
	// URL is the licence's text.
	URL string `json:"url"`
	// Attribution is the credit line a reuser must show.
	Attribution string `json:"attribution"`
}

// validate reports the problems of p, naming the fields.
func (p Public) validate() []error {
	var errs []error
	if p.Language != "" && !slices.Contains(twin.Languages(), p.Language) {
		errs = append(errs, fmt.Errorf("config.Public.Language: %q, want one of %v", p.Language, twin.Languages()))
	}
	if p.TimeZone != "" {
		if _, err := time.LoadLocation(p.TimeZone); err != nil {
			errs = append(errs, fmt.Errorf("config.Public.TimeZone: %q is not a time zone this system knows (an IANA name such as Europe/Rome): %v", p.TimeZone, err))
		}
	}
	if p.Licence.URL != "" {
		if u, err := url.Parse(p.Licence.URL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("config.Public.Licence.URL: %q, want an http(s) URL", p.Licence.URL))
		}
	}
	for i, pr := range p.TrustedProxies {
		if !pr.IsValid() {
			errs = append(errs, fmt.Errorf("config.Public.TrustedProxies[%d]: not a valid prefix", i))
		}
	}
	return errs
}

// withDefaults returns p with its zero fields set.
func (p Public) withDefaults() Public {
	if p.Language == "" {
		p.Language = DefaultLanguage
	}
	if p.TimeZone == "" {
		p.TimeZone = DefaultTimeZone
	}
	if p.Licence.Name == "" && p.Licence.URL == "" {
		p.Licence.Name, p.Licence.URL = DefaultLicenceName, DefaultLicenceURL
	}
	if p.Licence.Attribution == "" {
		p.Licence.Attribution = DefaultAttribution
	}
	return p
}

// language chooses the language of an answer to r: a supported ?lang=,
// else the best supported language of Accept-Language (by q, then by
// order; "*" is the default), else the default.
func (a *API) language(r *http.Request) string {
	langs := twin.Languages()
	if l := strings.ToLower(r.URL.Query().Get("lang")); slices.Contains(langs, l) {
		return l
	}
	if l := negotiate(r.Header.Get("Accept-Language"), langs, a.cfg.Public.Language); l != "" {
		return l
	}
	return a.cfg.Public.Language
}

// negotiate picks from supported the language an Accept-Language header
// prefers (RFC 9110 12.5.4, matching on the primary subtag), def for "*",
// "" when it names none of them.
func negotiate(header string, supported []string, def string) string {
	if len(header) > maxAcceptLanguage {
		header = header[:maxAcceptLanguage]
	}
	type choice struct {
		lang string
		q    float64
		pos  int
	}
	var cs []choice
	for i, part := range strings.Split(header, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue
			}
			q = f
		}
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		if primary == "*" {
			primary = def
		}
		if q > 0 && slices.Contains(supported, primary) {
			cs = append(cs, choice{primary, q, i})
		}
	}
	if len(cs) == 0 {
		return ""
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].q > cs[j].q })
	return cs[0].lang
}

// configAnswer is the body of GET /api/v1/config.
type configAnswer struct {
	Language        string   `json:"language"`
	DefaultLanguage string   `json:"default_language"`
	Languages       []string `json:"languages"`
	TimeZone        string   `json:"time_zone"`
	Licence         Licence  `json:"licence"`
	// Levels are the area levels the twin has, coarsest first (levels.go).
	Levels []string `json:"levels"`
	// Tenant is the tenant whose public API this is (under /t/{id}/).
	Tenant *tenantAnswer `json:"tenant,omitempty"`
}

// tenantAnswer names a tenant in the public config.
type tenantAnswer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// handleConfig answers GET /api/v1/config: what the public page needs
// before it draws anything (the language negotiated for this request, the
// city's time zone, the licence).
func (a *API) handleConfig(w http.ResponseWriter, r *http.Request) {
	p := a.cfg.Public
	ans := configAnswer{Language: a.language(r), DefaultLanguage: p.Language, Languages: twin.Languages(),
		TimeZone: p.TimeZone, Licence: p.Licence, Levels: levelsOf(a.reader.Indicators())}
	if a.tenant != nil {
		ans.Tenant = &tenantAnswer{a.tenant.ID, a.tenant.Name}
	}
	b, err := json.Marshal(ans)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "encode config: "+err.Error())
		return
	}
	w.Header().Add("Vary", "Accept-Language")
	a.servePublicCache(w, r, "application/json", append(b, '\n'), configCacheControl)
}

// publicIndicators is the body of GET /api/v1/indicators: the values, the
// definitions once (in the negotiated language) and the licence.
type publicIndicators struct {
	// Generated is the time of the newest value (zero: none), so that the
	// body, and its ETag, change only when the data do.
	Generated   time.Time                  `json:"generated,omitzero"`
	Language    string                     `json:"language"`
	Licence     Licence                    `json:"licence"`
	Definitions []twin.IndicatorDefinition `json:"definitions"`
	City        []publicIndicator          `json:"city"`
	Areas       []publicArea               `json:"areas"`
}

// publicIndicator is twin.Indicator without its definition, which the
// answer gives once.
type publicIndicator struct {
	Name      string    `json:"name"`
	Value     *float64  `json:"value"`
	Unit      string    `json:"unit"`
	Sensors   int       `json:"sensors"`
	Window    string    `json:"window"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// publicArea is one area's indicators in the public answer.
type publicArea struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Level      string            `json:"level,omitempty"`
	Indicators []publicIndicator `json:"indicators"`
}

// publicAnswer shapes ind for the public: values made finite, definitions
// gathered once in lang (the twin's text, else the indicator's own).
func (a *API) publicAnswer(ind twin.Indicators, lang string) publicIndicators {
	ind = sanitized(ind)
	out := publicIndicators{Language: lang, Licence: a.cfg.Public.Licence, Definitions: []twin.IndicatorDefinition{},
		City: []publicIndicator{}, Areas: make([]publicArea, len(ind.Areas))}
	known := map[string]twin.IndicatorDefinition{}
	for _, d := range twin.IndicatorDefinitions(lang) {
		known[d.Name] = d
	}
	seen := map[string]bool{}
	conv := func(in []twin.Indicator) []publicIndicator {
		ps := make([]publicIndicator, len(in))
		for i, x := range in {
			ps[i] = publicIndicator{Name: x.Name, Value: x.Value, Unit: x.Unit, Sensors: x.Sensors, Window: x.Window, UpdatedAt: x.UpdatedAt}
			if x.UpdatedAt.After(out.Generated) {
				out.Generated = x.UpdatedAt
			}
			if !seen[x.Name] {
				seen[x.Name] = true
				d, ok := known[x.Name]
				if !ok {
					d = twin.IndicatorDefinition{Name: x.Name, Label: x.Name, Unit: x.Unit, Definition: x.Definition}
				}
				out.Definitions = append(out.Definitions, d)
			}
		}
		return ps
	}
	out.City = conv(ind.City)
	for i, ar := range ind.Areas {
		out.Areas[i] = publicArea{ID: ar.ID, Name: ar.Name, Level: ar.Level, Indicators: conv(ar.Indicators)}
	}
	return out
}

// licenceLink is the Link header of the licence.
func (a *API) licenceLink() string {
	l := a.cfg.Public.Licence
	if l.URL == "" {
		return ""
	}
	v := "<" + l.URL + `>; rel="license"`
	if l.Name != "" {
		v += "; title=" + strconv.Quote(l.Name)
	}
	return v
}
