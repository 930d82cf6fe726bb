package twin

import (
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/wire"
)

// Kind is what an entity stands for.
type Kind string

// Entity kinds.
const (
	KindSite    Kind = "site"    // a sensor site: one device of a gateway
	KindRoad    Kind = "road"    // a road segment
	KindArea    Kind = "area"    // an administrative area (municipality, district)
	KindGateway Kind = "gateway" // a roadside gateway
)

// Freshness says whether an entity's state can be trusted now. Operators
// must be able to trust that what is green is really fresh.
type Freshness string

// Freshness states.
const (
	Fresh   Freshness = "fresh"   // updated within StaleFactor x its interval
	Stale   Freshness = "stale"   // no update for longer than that
	Offline Freshness = "offline" // its gateway's last will said offline
	Unknown Freshness = "unknown" // never updated
)

// Attr is one attribute of an entity: its latest value.
type Attr struct {
	// Value is a float64, int64, bool or string.
	Value any `json:"value"`
	// Unit is the unit (UCUM-style, as in the profile).
	Unit string `json:"unit,omitempty"`
	// ObservedAt is the acquisition time of the reading.
	ObservedAt time.Time `json:"observedAt"`
}

// Entity is a snapshot of one entity of the twin. Snapshots are values:
// the twin never changes one after handing it out.
type Entity struct {
	// ID is the entity's ID: the site config's entity (an NGSI-LD URN such
	// as urn:ngsi-ld:AirQualityObserved:ba-cavour-piccinni) or one made
	// from the kind, gateway and device.
	ID string `json:"id"`
	// Type is the FIWARE Smart Data Model type (TrafficFlowObserved,
	// AirQualityObserved, NoiseLevelObserved, ParkingSpot, WeatherObserved,
	// Streetlight..., RoadSegment, AdministrativeArea, Device for gateways).
	Type string `json:"type"`
	Kind Kind   `json:"kind"`
	Name string `json:"name"`
	// Geometry is the entity's shape in WGS84: Point for sites and
	// gateways, LineString for roads, Polygon/MultiPolygon for areas.
	Geometry orb.Geometry `json:"-"`
	// Area and Road are the IDs of the area the entity lies in and the
	// nearest road segment (sites only; empty when none).
	Area string `json:"area,omitempty"`
	Road string `json:"road,omitempty"`
	// Gateway and Device identify where a site's readings come from.
	Gateway string `json:"gateway,omitempty"`
	Device  string `json:"device,omitempty"`
	// Category is a site's profile category, which names the InfluxDB
	// measurement its readings are in (empty for other kinds).
	Category wire.Category `json:"-"`
	// Attrs are the latest values by attribute name.
	Attrs map[string]Attr `json:"attrs,omitempty"`
	// Updated is the acquisition time of the latest reading applied.
	Updated   time.Time `json:"updated,omitzero"`
	Freshness Freshness `json:"freshness"`
}

// Filter selects entities by bounding box and type; zero fields match all.
type Filter struct {
	// Bound, if not nil, keeps entities whose geometry's bound intersects it.
	Bound *orb.Bound
	// Types, if not empty, keeps entities of these FIWARE types or kinds.
	Types []string
}

// Change is one change of the twin, as the SSE stream sends it.
type Change struct {
	// Seq orders changes; it is the SSE event ID and resumes a stream.
	Seq uint64
	// Entity is the entity's state after the change; for a removal, its
	// last state (so that a filter by place or type matches it as it did
	// the entity).
	Entity Entity
	// Removed says the entity no longer exists: its device left the
	// inventory (SetGatewaySites). A later change with the same ID is a
	// new entity.
	Removed bool
}

// Indicator is one urban indicator of an area or of the city.
type Indicator struct {
	// Name is the indicator's key, e.g. "traffic_intensity".
	Name string `json:"name"`
	// Value is nil when no sensor contributes.
	Value *float64 `json:"value"`
	Unit  string   `json:"unit"`
	// Sensors is how many sensors the value rests on.
	Sensors int `json:"sensors"`
	// Window is the time window the value covers, e.g. "15m".
	Window string `json:"window"`
	// Definition says in words how the value is computed.
	Definition string    `json:"definition"`
	UpdatedAt  time.Time `json:"updatedAt,omitzero"`
}

// AreaIndicators are the indicators of one area.
type AreaIndicators struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Level is the area's level (LevelMunicipality, ...).
	Level      string      `json:"level,omitempty"`
	Indicators []Indicator `json:"indicators"`
}

// Indicators are the indicators of every area and of the whole city.
type Indicators struct {
	Generated time.Time        `json:"generated"`
	City      []Indicator      `json:"city"`
	Areas     []AreaIndicators `json:"areas"`
}

// Site is a sensor site as the gateways' site configs place it.
type Site struct {
	Gateway string
	Device  string
	// Entity is the site config's entity ID (optional).
	Entity string
	// Category is the device profile's category (wire.Categories).
	Category wire.Category
	Lon, Lat float64
	// Interval is the device's poll or uplink interval; staleness is a
	// multiple of it.
	Interval time.Duration
	// Area, if set in the site config, overrides placement by location.
	Area string
}

// Reader is what the HTTP API needs of the twin; *Twin implements it, and
// API tests may use a fake.
type Reader interface {
	// Entities returns snapshots of the entities matching f, sorted by ID.
	Entities(f Filter) []Entity
	// Entity returns one entity by ID.
	Entity(id string) (Entity, bool)
	// Indicators returns the latest indicators of every area and the city.
	Indicators() Indicators
	// Subscribe streams the changes matching f with Seq > after (after 0:
	// only changes from now on). If after is older than the changes the
	// twin retains, the first Change sent has Seq 0 and an empty Entity:
	// the client must reload the entities. A subscriber that does not keep
	// up is dropped (its channel closed) rather than slowing the twin. The
	// returned func unsubscribes; it is safe to call more than once.
	Subscribe(f Filter, after uint64) (<-chan Change, func())
	// LastSeq is the Seq of the latest change.
	LastSeq() uint64
}
