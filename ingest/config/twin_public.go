package config

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Defaults of the twin's public settings.
const (
	DefaultTwinLanguage = "it"
	DefaultTwinTimeZone = "Europe/Rome"
	DefaultPublicRate   = 5.0
	DefaultPublicBurst  = 20
)

// TwinPublic are the twin's settings for the public: the citizens' page
// and the public API (indicators, areas, config, indicator history). They
// sit directly under twin: in the file.
type TwinPublic struct {
	// Language is the default language of the public page and the
	// public answers, "it" (default) or "en"; a visitor's ?lang= or
	// Accept-Language chooses another.
	Language string `yaml:"language"`
	// TimeZone is the IANA zone the pages show times in (default
	// Europe/Rome).
	TimeZone string `yaml:"time_zone"`
	// Licence is the data licence every public answer carries (default
	// CC BY 4.0 with the ISTAT boundaries' attribution).
	Licence *TwinLicence `yaml:"licence"`
	// PublicAPI is the public endpoints' rate limit and trusted proxies.
	PublicAPI PublicAPI `yaml:"public_api"`
}

// TwinLicence is the data licence of the public answers.
type TwinLicence struct {
	// Name is the licence's short name ("CC BY 4.0", "IODL 2.0").
	Name string `yaml:"name"`
	// URL is the licence's text (http or https).
	URL string `yaml:"url"`
	// Attribution is the credit line reusers must show.
	Attribution string `yaml:"attribution"`
}

// PublicAPI limits the public endpoints per client.
type PublicAPI struct {
	// Rate is how many requests per second one client may make (default
	// 5); Burst how many at once (default 20).
	Rate  *float64 `yaml:"rate"`
	Burst *int     `yaml:"burst"`
	// TrustedProxies are the reverse proxies (addresses or CIDR
	// prefixes) whose X-Forwarded-For names the client; without them
	// every client behind a proxy shares the proxy's budget.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

func (c *Config) validateTwinPublic(bad func(path, format string, args ...any)) {
	p := c.Twin.Public
	if p.Language != "" && p.Language != "it" && p.Language != "en" {
		bad("twin.language", "%q (expected it or en)", p.Language)
	}
	if p.TimeZone != "" {
		if _, err := time.LoadLocation(p.TimeZone); err != nil {
			bad("twin.time_zone", "%q is not a time zone this system knows (expected an IANA name such as Europe/Rome)", p.TimeZone)
		}
	}
	if l := p.Licence; l != nil {
		if l.Name == "" {
			bad("twin.licence.name", "required with twin.licence (e.g. CC BY 4.0)")
		}
		if u, err := url.Parse(l.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("twin.licence.url", "%q (expected the http(s) URL of the licence's text)", l.URL)
		}
	}
	a := p.PublicAPI
	if a.Rate != nil && (*a.Rate <= 0 || math.IsInf(*a.Rate, 0) || math.IsNaN(*a.Rate)) {
		bad("twin.public_api.rate", "%v (expected requests per second per client, more than 0)", *a.Rate)
	}
	if a.Burst != nil && *a.Burst < 1 {
		bad("twin.public_api.burst", "%d (expected 1 or more requests)", *a.Burst)
	}
	for i, s := range a.TrustedProxies {
		if _, err := parseProxy(s); err != nil {
			bad(fmt.Sprintf("twin.public_api.trusted_proxies[%d]", i), "%q (expected an IP address or a CIDR prefix such as 10.0.0.0/8)", s)
		}
	}
}

// parseProxy reads an address (as a one-address prefix) or a prefix.
func parseProxy(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// PublicRate returns the public rate limit per client and its burst,
// the defaults where the file says nothing.
func (t *TwinPublic) PublicRate() (perSecond float64, burst int) {
	perSecond, burst = DefaultPublicRate, DefaultPublicBurst
	if t.PublicAPI.Rate != nil {
		perSecond = *t.PublicAPI.Rate
	}
	if t.PublicAPI.Burst != nil {
		burst = *t.PublicAPI.Burst
	}
	return perSecond, burst
}

// TrustedProxies returns the trusted proxies as prefixes (valid after
// Validate).
func (t *TwinPublic) TrustedProxies() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range t.PublicAPI.TrustedProxies {
		if p, err := parseProxy(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// Lang returns the default language (it when unset).
func (t *TwinPublic) Lang() string {
	if t.Language == "" {
		return DefaultTwinLanguage
	}
	return t.Language
}

// Zone returns the time zone's name (Europe/Rome when unset).
func (t *TwinPublic) Zone() string {
	if t.TimeZone == "" {
		return DefaultTwinTimeZone
	}
	return t.TimeZone
}
