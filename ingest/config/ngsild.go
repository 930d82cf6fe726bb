package config

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/ponte-city/ponte/internal/yamlconf"
	"github.com/ponte-city/ponte/twin/ngsild"
	"github.com/ponte-city/ponte/twin/ngsild/subs"
)

// NGSILD configures the twin's NGSI-LD API beyond its read side, which is
// always served with the twin (twin.ngsild).
//
//	twin:
//	  ngsild:
//	    public_url: https://ponte.comune.bari.it  # where clients reach ingest (scheme and host only)
//	    subscriptions:
//	      allowed_endpoints:                       # where notifications may go; nothing else, loopback included
//	        - https://dashboard.comune.bari.it/ngsi/   # a URL prefix
//	        - "*.snap4city.org:443"                    # or host:port, "*." for the subdomains
//	      dir: ngsild                # default <state_dir>/ngsild: subscriptions.json survives restarts
//	      max_subscriptions: 1000    # all scopes together
//	      max_per_scope: 100         # one operator scope (a tenant, or the whole city)
//	      queue: 1000                # notifications waiting per subscription; the oldest is dropped beyond
//	      max_attempts: 5            # POSTs of one notification before it is dropped
//	      retry_base: 1s             # retries wait retry_base*2^n up to retry_max (or Retry-After)
//	      retry_max: 1m
//	      delivery_timeout: 10s      # one POST
//	      queue_bytes: 4194304       # bytes waiting per subscription (encoded notifications)
//	      total_queue_bytes: 268435456   # bytes waiting for all subscriptions together
//	    temporal:                    # the temporal API (/ngsi-ld/v1/temporal/...)
//	      max_instances: 100000      # attribute instances one request may answer, at worst
//	      max_queries: 4             # temporal requests at once; beyond, 503 with Retry-After
//
// Without subscriptions, /ngsi-ld/v1/subscriptions answers 501
// OperationNotSupported to operators. Zero limits take the defaults of
// package twin/ngsild/subs.
type NGSILD struct {
	// PublicURL is the scheme and host (and port) clients reach ingest
	// at, e.g. behind a reverse proxy. Notifications link Ponte's
	// @context at PublicURL + ngsild.ContextPath, as the read API's Link
	// header does with the host a request came to; a notification has no
	// request to take the host from, so ingest must be told. Required
	// with subscriptions.
	PublicURL string `yaml:"public_url"`
	// Subscriptions, if set, serves NGSI-LD subscriptions with HTTP
	// notifications.
	Subscriptions *NGSILDSubscriptions `yaml:"subscriptions"`
	// Temporal bounds the temporal API (0: twin/api's defaults).
	Temporal NGSILDTemporal `yaml:"temporal"`
}

// NGSILDTemporal bounds the temporal API (see twin/api TemporalLimits).
type NGSILDTemporal struct {
	MaxInstances int `yaml:"max_instances"`
	MaxQueries   int `yaml:"max_queries"`
}

// NGSILDSubscriptions are the limits and the endpoint allow-list of the
// NGSI-LD subscriptions (see package twin/ngsild/subs for their meaning).
type NGSILDSubscriptions struct {
	// AllowedEndpoints are the URL prefixes or host:port patterns that
	// notifications may be POSTed to; empty allows none.
	AllowedEndpoints []string `yaml:"allowed_endpoints"`
	// Dir keeps the subscriptions (relative to the config file's folder;
	// default <state_dir>/ngsild).
	Dir string `yaml:"dir"`
	// MaxSubscriptions and MaxPerScope bound the subscriptions of all
	// scopes and of one scope.
	MaxSubscriptions int `yaml:"max_subscriptions"`
	MaxPerScope      int `yaml:"max_per_scope"`
	// Queue bounds the notifications waiting for one subscription.
	Queue int `yaml:"queue"`
	// MaxAttempts is how many times a notification is POSTed.
	MaxAttempts int `yaml:"max_attempts"`
	// RetryBase, RetryMax and DeliveryTimeout time the deliveries.
	RetryBase       yamlconf.Duration `yaml:"retry_base"`
	RetryMax        yamlconf.Duration `yaml:"retry_max"`
	DeliveryTimeout yamlconf.Duration `yaml:"delivery_timeout"`
	// QueueBytes and TotalQueueBytes bound the waiting notifications in
	// bytes, per subscription and in all.
	QueueBytes      int64 `yaml:"queue_bytes"`
	TotalQueueBytes int64 `yaml:"total_queue_bytes"`
}

func (c *Config) validateNGSILD(bad func(path, format string, args ...any)) {
	if c.Twin == nil || c.Twin.NGSILD == nil {
		return
	}
	n := c.Twin.NGSILD
	for _, f := range []struct {
		name string
		v    int
	}{{"max_instances", n.Temporal.MaxInstances}, {"max_queries", n.Temporal.MaxQueries}} {
		if f.v < 0 {
			bad("twin.ngsild.temporal."+f.name, "%d (expected a number, 0 for the default)", f.v)
		}
	}
	if n.PublicURL != "" || n.Subscriptions != nil {
		u, err := url.Parse(n.PublicURL)
		switch {
		case n.PublicURL == "":
			bad("twin.ngsild.public_url", "required with twin.ngsild.subscriptions (expected the URL clients reach ingest at, e.g. https://ponte.comune.bari.it): notifications link Ponte's @context there")
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
			bad("twin.ngsild.public_url", "%q (expected http(s)://host[:port] with no path: the @context is served at %s)", n.PublicURL, ngsild.ContextPath)
		}
	}
	s := n.Subscriptions
	if s == nil {
		return
	}
	const p = "twin.ngsild.subscriptions"
	for i, e := range s.AllowedEndpoints {
		if err := subs.CheckAllowedEndpoint(e); err != nil {
			bad(fmt.Sprintf("%s.allowed_endpoints[%d]", p, i), "%q: %v", e, err)
		}
	}
	for _, f := range []struct {
		name string
		v    int
		def  int
	}{{"max_subscriptions", s.MaxSubscriptions, subs.DefaultMaxSubscriptions}, {"max_per_scope", s.MaxPerScope, subs.DefaultMaxPerScope},
		{"queue", s.Queue, subs.DefaultQueueSize}, {"max_attempts", s.MaxAttempts, subs.DefaultMaxAttempts}} {
		if f.v < 0 {
			bad(p+"."+f.name, "%d (expected a number, 0 for the default %d)", f.v, f.def)
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{{"queue_bytes", s.QueueBytes}, {"total_queue_bytes", s.TotalQueueBytes}} {
		if f.v < 0 {
			bad(p+"."+f.name, "%d (expected bytes, 0 for the default)", f.v)
		}
	}
	if s.QueueBytes > 0 && s.TotalQueueBytes > 0 && s.QueueBytes > s.TotalQueueBytes {
		bad(p+".queue_bytes", "%d is above total_queue_bytes %d", s.QueueBytes, s.TotalQueueBytes)
	}
	if s.MaxPerScope > 0 && s.MaxSubscriptions > 0 && s.MaxPerScope > s.MaxSubscriptions {
		bad(p+".max_per_scope", "%d is above max_subscriptions %d", s.MaxPerScope, s.MaxSubscriptions)
	}
	for _, f := range []struct {
		name string
		v    yamlconf.Duration
	}{{"retry_base", s.RetryBase}, {"retry_max", s.RetryMax}, {"delivery_timeout", s.DeliveryTimeout}} {
		if f.v.D() < 0 {
			bad(p+"."+f.name, "%s (expected a duration such as 10s, 0 for the default)", f.v.D())
		}
	}
	if s.RetryBase.D() > 0 && s.RetryMax.D() > 0 && s.RetryMax.D() < s.RetryBase.D() {
		bad(p+".retry_max", "%s is below retry_base %s", s.RetryMax.D(), s.RetryBase.D())
	}
}

// NGSILDSubscriptions returns the NGSI-LD subscriptions' settings with
// Dir resolved (against the config file's folder; <state_dir>/ngsild when
// empty) and Ponte's @context URL, or nil without subscriptions.
func (c *Config) NGSILDSubscriptions() (s *NGSILDSubscriptions, contextURL string) {
	if c.Twin == nil || c.Twin.NGSILD == nil || c.Twin.NGSILD.Subscriptions == nil {
		return nil, ""
	}
	out := *c.Twin.NGSILD.Subscriptions
	out.Dir = c.resolve(out.Dir)
	if out.Dir == "" {
		out.Dir = filepath.Join(c.StateDir, "ngsild")
	}
	return &out, strings.TrimSuffix(c.Twin.NGSILD.PublicURL, "/") + ngsild.ContextPath
}

// NGSILDTemporal returns the temporal API's bounds (zero: the defaults).
func (c *Config) NGSILDTemporal() NGSILDTemporal {
	if c.Twin == nil || c.Twin.NGSILD == nil {
		return NGSILDTemporal{}
	}
	return c.Twin.NGSILD.Temporal
}
