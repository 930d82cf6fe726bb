package twin

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/wire"
)

// Defaults of Config.
const (
	// DefaultStaleFactor: an entity is stale after 3 of its intervals
	// without a good reading (one lost poll is not yet a fault).
	DefaultStaleFactor = 3
	// DefaultRoadMaxMetres is how far a site may lie from the road segment
	// it is assigned to.
	DefaultRoadMaxMetres = 50
	// DefaultIndicatorWindow is the window of windowed indicators
	// (lighting_energy).
	DefaultIndicatorWindow = 15 * time.Minute
	// DefaultHistory is how many changes are kept for resuming streams.
	DefaultHistory = 100000
	// DefaultSubscriberQueue is how many changes may wait for one
	// subscriber before it is dropped.
	DefaultSubscriberQueue = 65536
	// DefaultTickInterval is how often Run checks staleness.
	DefaultTickInterval = time.Second
)

// ErrConfig is wrapped by every Config validation error.
var ErrConfig = errors.New("twin config")

// Config configures a Twin. The zero values of the optional fields take
// the defaults above.
type Config struct {
	// Areas are the municipalities (optional); AreaLevels the areas of
	// other levels (city, district), or of all levels when Areas is nil.
	Areas      *geo.Layer
	AreaLevels []AreaLayer
	// Roads are the road segments (optional).
	Roads *geo.Layer
	// Sites are the sensor sites, usually from SitesFromInventory.
	Sites []Site
	// Tenants are the organisations sharing the platform (optional; see
	// Tenant and Twin.Scope).
	Tenants []Tenant
	// StaleFactor: an entity is stale when its last good reading is older
	// than StaleFactor x its interval (default 3, at least 1).
	StaleFactor float64
	// RoadMaxMetres is the largest distance from a site to the road it is
	// placed on (default 50 m).
	RoadMaxMetres float64
	// IndicatorWindow is the window of lighting_energy (default 15m).
	IndicatorWindow time.Duration
	// History is how many changes are retained for Subscribe's resume
	// (default 100000).
	History int
	// SubscriberQueue is how many changes of the twin (matching its
	// filter or not) a subscriber may be behind before it is dropped
	// (default 65536). A channel subscriber's goroutine holds what it
	// took besides, up to as many again.
	SubscriberQueue int
	// TickInterval is how often Run calls Tick (default 1s).
	TickInterval time.Duration
	// Now is the clock (default time.Now); tests inject one.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Registerer receives the twin's metrics (default: a private registry,
	// i.e. not exported).
	Registerer prometheus.Registerer
}

// Validate reports every field that cannot be right, joined.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.Areas != nil && c.Areas.Kind != geo.KindAreas {
		bad("areas: layer %s holds %s, expected areas", c.Areas.Name, c.Areas.Kind)
	}
	for _, err := range c.levelErrors() {
		bad("%v", err)
	}
	if c.Roads != nil && c.Roads.Kind != geo.KindRoads {
		bad("roads: layer %s holds %s, expected roads", c.Roads.Name, c.Roads.Kind)
	}
	if c.StaleFactor != 0 && (c.StaleFactor < 1 || math.IsNaN(c.StaleFactor) || math.IsInf(c.StaleFactor, 0)) {
		bad("stale_factor %v: expected 1 or more (0 for the default %d)", c.StaleFactor, DefaultStaleFactor)
	}
	if c.RoadMaxMetres < 0 || math.IsNaN(c.RoadMaxMetres) {
		bad("road_max_metres %v: expected 0 (default %d) or more", c.RoadMaxMetres, DefaultRoadMaxMetres)
	}
	if c.IndicatorWindow < 0 {
		bad("indicator_window %s: expected a positive duration (0 for the default %s)", c.IndicatorWindow, DefaultIndicatorWindow)
	}
	if c.History < 0 {
		bad("history %d: expected 0 (default %d) or more", c.History, DefaultHistory)
	}
	if c.SubscriberQueue < 0 {
		bad("subscriber_queue %d: expected 0 (default %d) or more", c.SubscriberQueue, DefaultSubscriberQueue)
	}
	if c.TickInterval < 0 {
		bad("tick_interval %s: expected a positive duration (0 for the default %s)", c.TickInterval, DefaultTickInterval)
	}
	for _, err := range siteErrors("sites", c.Sites) {
		errs = append(errs, fmt.Errorf("%w: %w", ErrConfig, err))
	}
	for _, e := range TenantErrors(c.Tenants) {
		bad("tenants[%d] (%s): %s: %s", e.Index, c.Tenants[e.Index].ID, e.Field, e.Problem)
	}
	return errors.Join(errs...)
}

// siteErrors checks sites (named field in the errors): gateway ID,
// device, category, location and interval, and no device twice.
func siteErrors(field string, sites []Site) []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	seen := map[[2]string]int{}
	for i, s := range sites {
		p := fmt.Sprintf("%s[%d] (gateway %q device %q)", field, i, s.Gateway, s.Device)
		if !wire.ValidGatewayID(s.Gateway) {
			bad("%s: gateway %q is not a valid gateway ID", p, s.Gateway)
		}
		if s.Device == "" {
			bad("%s: device: required", p)
		}
		if j, dup := seen[[2]string{s.Gateway, s.Device}]; dup {
			bad("%s: same gateway and device as %s[%d]", p, field, j)
		}
		seen[[2]string{s.Gateway, s.Device}] = i
		if !s.Category.Valid() {
			bad("%s: category %q: expected one of %v", p, s.Category, wire.Categories())
		}
		if !(s.Lon >= -180 && s.Lon <= 180 && s.Lat >= -90 && s.Lat <= 90) {
			bad("%s: location lon %v lat %v: expected WGS84 degrees (lon -180..180, lat -90..90)", p, s.Lon, s.Lat)
		}
		if s.Interval <= 0 {
			bad("%s: interval %s: expected a positive duration", p, s.Interval)
		}
	}
	return errs
}

// withDefaults returns c with the defaults filled in.
func (c Config) withDefaults() Config {
	if c.StaleFactor == 0 {
		c.StaleFactor = DefaultStaleFactor
	}
	if c.RoadMaxMetres == 0 {
		c.RoadMaxMetres = DefaultRoadMaxMetres
	}
	if c.IndicatorWindow == 0 {
		c.IndicatorWindow = DefaultIndicatorWindow
	}
	if c.History == 0 {
		c.History = DefaultHistory
	}
	if c.SubscriberQueue == 0 {
		c.SubscriberQueue = DefaultSubscriberQueue
	}
	if c.TickInterval == 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	return c
}
