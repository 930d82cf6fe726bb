package geo

import (
	"bytes"
	"fmt"
	"os"

	"github.com/paulmach/orb"
)

// Kind is what a layer holds; it fixes the geometry types its features may
// have.
type Kind int

// The layer kinds.
const (
	// KindAreas holds Polygon and MultiPolygon features (municipalities,
	// districts, zones).
	KindAreas Kind = iota + 1
	// KindRoads holds LineString and MultiLineString features (road
	// segments).
	KindRoads
	// KindSites holds Point features (sensor sites, gateways).
	KindSites
)

// String returns the kind's name as used in config files.
func (k Kind) String() string {
	switch k {
	case KindAreas:
		return "areas"
	case KindRoads:
		return "roads"
	case KindSites:
		return "sites"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// ParseKind is the inverse of Kind.String.
func ParseKind(s string) (Kind, error) {
	for _, k := range []Kind{KindAreas, KindRoads, KindSites} {
		if k.String() == s {
			return k, nil
		}
	}
	return 0, fmt.Errorf("layer kind %q: expected areas, roads or sites", s)
}

// phrase names a layer of the kind with its article, for messages.
func (k Kind) phrase() string {
	if k == KindAreas {
		return "an areas layer"
	}
	return "a " + k.String() + " layer"
}

// allowed lists the GeoJSON geometry types a layer of kind k accepts.
func (k Kind) allowed() []string {
	switch k {
	case KindAreas:
		return []string{"Polygon", "MultiPolygon"}
	case KindRoads:
		return []string{"LineString", "MultiLineString"}
	case KindSites:
		return []string{"Point"}
	}
	return nil
}

// A Feature is one validated feature of a layer. Its Geometry is an
// orb.Polygon or orb.MultiPolygon (areas), orb.LineString or
// orb.MultiLineString (roads), or orb.Point (sites), in WGS84 lon/lat with
// any altitude dropped. Features handed out by a Layer or an index share
// their Geometry and Props with the layer: treat them as read-only.
type Feature struct {
	// ID is the feature's identifier: the value of LoadOptions.IDProperty,
	// or the GeoJSON "id" member when IDProperty is empty. Unique in the
	// layer. Numbers keep their JSON spelling.
	ID string
	// Name is the value of LoadOptions.NameProperty, or "" when absent.
	Name string
	// Geometry is the feature's shape.
	Geometry orb.Geometry
	// Props holds the GeoJSON properties; JSON numbers are float64 (or the
	// literal text when they do not fit one).
	Props map[string]any
	// Bound is the bounding box of Geometry.
	Bound orb.Bound
}

// A Layer is a validated GeoJSON FeatureCollection of one kind. It is not
// modified after ParseLayer returns, so it may be read from any number of
// goroutines.
type Layer struct {
	// Name is the file name or the name given to ParseLayer.
	Name string
	// Kind is what the layer holds.
	Kind Kind
	// Features are in file order.
	Features []Feature
	// Bound covers all features.
	Bound orb.Bound
	// CRS is what the file was written in; Features are in WGS84 lon/lat
	// whatever it is.
	CRS CRS
}

// Default limits of LoadOptions.
const (
	// DefaultMaxErrors is how many problems a *LayerError lists by default.
	DefaultMaxErrors = 20
	// DefaultMaxBytes is the largest layer file read by default, enough
	// for detailed boundaries of every Italian municipality.
	DefaultMaxBytes = 256 << 20
)

// LoadOptions says where a feature's ID and name come from and bounds the
// work done on a bad file. The zero value is usable.
type LoadOptions struct {
	// IDProperty names the property holding the feature ID (for example
	// "com_istat_code" for ISTAT municipalities). Empty means the GeoJSON
	// "id" member of each feature.
	IDProperty string
	// NameProperty names the property holding the display name; default
	// "name". A feature without it has an empty Name.
	NameProperty string
	// MaxErrors bounds the problems listed in a *LayerError; default
	// DefaultMaxErrors. Problems beyond it are only counted.
	MaxErrors int
	// MaxBytes refuses larger files before reading them; default
	// DefaultMaxBytes.
	MaxBytes int64
	// CRS is the CRS of a file without a "crs" member, as ParseCRS reads
	// it (e.g. "EPSG:3003" for a shapefile converted without one);
	// default WGS84 lon/lat. A file whose "crs" member names another CRS
	// is refused.
	CRS string
}

// Validate reports options that cannot be right.
func (o LoadOptions) Validate() error {
	if o.MaxErrors < 0 {
		return fmt.Errorf("load options: max_errors %d: expected 0 (default) or more", o.MaxErrors)
	}
	if o.MaxBytes < 0 {
		return fmt.Errorf("load options: max_bytes %d: expected 0 (default) or more", o.MaxBytes)
	}
	if o.CRS != "" {
		if _, err := ParseCRS(o.CRS); err != nil {
			return fmt.Errorf("load options: crs: %w", err)
		}
	}
	return nil
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.NameProperty == "" {
		o.NameProperty = "name"
	}
	if o.MaxErrors == 0 {
		o.MaxErrors = DefaultMaxErrors
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	return o
}

// LoadLayer reads and validates the GeoJSON layer at path; see ParseLayer.
// Problems name the path as given.
func LoadLayer(path string, kind Kind, opts LoadOptions) (*Layer, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load layer %s: %w", path, err)
	}
	if st.Size() > opts.MaxBytes {
		return nil, fmt.Errorf("load layer %s: file is %d bytes, more than the %d allowed (LoadOptions.MaxBytes)", path, st.Size(), opts.MaxBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load layer %s: %w", path, err)
	}
	return ParseLayer(path, data, kind, opts)
}

// ParseLayer validates data as a GeoJSON FeatureCollection of the given
// kind. It refuses, with a *LayerError listing every problem found (up to
// opts.MaxErrors), invalid JSON, anything but a FeatureCollection, an empty
// one, a "crs" member other than WGS84, geometries of the wrong type for
// kind, malformed, non-finite or out-of-range positions, rings that are
// not closed or have fewer than 4 positions, lines with fewer than 2, and
// missing or duplicate IDs. A leading UTF-8 byte order mark is ignored.
// Ring orientation and self-intersection are not checked (see the package
// docs). name is used in messages only.
func ParseLayer(name string, data []byte, kind Kind, opts LoadOptions) (*Layer, error) {
	if kind.allowed() == nil {
		return nil, fmt.Errorf("parse layer %s: %w: %v (expected areas, roads or sites)", name, ErrKind, kind)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	if int64(len(data)) > opts.MaxBytes {
		return nil, fmt.Errorf("parse layer %s: %d bytes, more than the %d allowed (LoadOptions.MaxBytes)", name, len(data), opts.MaxBytes)
	}
	// Some Windows GIS exports start with a UTF-8 byte order mark, which
	// JSON does not allow; it carries no meaning, so drop it.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	p := &parser{
		data: data,
		kind: kind,
		opts: opts,
		errs: problems{max: opts.MaxErrors},
		ids:  map[string]int{},
	}
	layer := p.parse()
	if err := p.errs.err(name); err != nil {
		return nil, err
	}
	layer.Name = name
	return layer, nil
}
