package api

import (
	"encoding/json"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/twin"
)

// feature is an entity as a GeoJSON Feature.
type feature struct {
	Type       string          `json:"type"`
	ID         string          `json:"id"`
	Geometry   json.RawMessage `json:"geometry"`
	Properties properties      `json:"properties"`
}

// properties are a feature's properties (the contract of the API).
type properties struct {
	Type       string              `json:"type"`
	Kind       twin.Kind           `json:"kind"`
	Name       string              `json:"name"`
	Area       string              `json:"area"`
	Road       string              `json:"road"`
	Gateway    string              `json:"gateway"`
	Device     string              `json:"device"`
	Freshness  twin.Freshness      `json:"freshness"`
	Updated    *time.Time          `json:"updated,omitempty"`
	Attrs      map[string]attr     `json:"attrs"`
	Indicators map[string]*float64 `json:"indicators,omitempty"`
}

// attr is an attribute with a value JSON can carry (NaN and ±Inf become
// null).
type attr struct {
	Value      any       `json:"value"`
	Unit       string    `json:"unit,omitempty"`
	ObservedAt time.Time `json:"observedAt"`
}

// areaIndicators returns a lookup of the indicators of each area.
type areaLookup func(id string) map[string]*float64

// indicatorLookup makes an areaLookup from the twin's current indicators.
func indicatorLookup(r twin.Reader) areaLookup {
	var once sync.Once
	var byArea map[string]map[string]*float64
	return func(id string) map[string]*float64 {
		once.Do(func() {
			ind := r.Indicators()
			byArea = make(map[string]map[string]*float64, len(ind.Areas))
			for _, a := range ind.Areas {
				m := make(map[string]*float64, len(a.Indicators))
				for _, i := range a.Indicators {
					m[i.Name] = finite(i.Value)
				}
				byArea[a.ID] = m
			}
		})
		if m, ok := byArea[id]; ok {
			return m
		}
		return map[string]*float64{}
	}
}

// finite returns v, or nil when it is not a finite number.
func finite(v *float64) *float64 {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return nil
	}
	return v
}

// newFeature converts e; areas get their indicators from areas.
func newFeature(e twin.Entity, areas areaLookup) feature {
	f := feature{
		Type:     "Feature",
		ID:       e.ID,
		Geometry: appendGeometry(nil, e.Geometry),
		Properties: properties{
			Type: e.Type, Kind: e.Kind, Name: e.Name, Area: e.Area, Road: e.Road,
			Gateway: e.Gateway, Device: e.Device, Freshness: e.Freshness,
			Attrs: make(map[string]attr, len(e.Attrs)),
		},
	}
	if f.Properties.Freshness == "" {
		f.Properties.Freshness = twin.Unknown
	}
	if !e.Updated.IsZero() {
		u := e.Updated
		f.Properties.Updated = &u
	}
	for k, a := range e.Attrs {
		v := a.Value
		if x, ok := v.(float64); ok && (math.IsNaN(x) || math.IsInf(x, 0)) {
			v = nil
		}
		f.Properties.Attrs[k] = attr{Value: v, Unit: a.Unit, ObservedAt: a.ObservedAt}
	}
	if e.Kind == twin.KindArea && areas != nil {
		f.Properties.Indicators = areas(e.ID)
	}
	return f
}

// marshalFeature encodes e as a Feature. An attribute value JSON cannot
// carry (a type outside the contract) is sent as its string form rather
// than failing the whole answer.
func marshalFeature(e twin.Entity, areas areaLookup) []byte {
	f := newFeature(e, areas)
	b, err := json.Marshal(f)
	if err == nil {
		return b
	}
	for k, a := range f.Properties.Attrs {
		if _, err := json.Marshal(a.Value); err != nil {
			a.Value = "unencodable value"
			f.Properties.Attrs[k] = a
		}
	}
	b, err = json.Marshal(f)
	if err != nil {
		// Only the time can fail now (a year beyond 9999).
		f.Properties.Updated = nil
		f.Properties.Attrs = map[string]attr{}
		b, _ = json.Marshal(f)
	}
	return b
}

// appendGeometry appends g as a GeoJSON geometry; nil, an unknown type or
// a coordinate that is not finite gives null.
func appendGeometry(dst []byte, g orb.Geometry) []byte {
	start := len(dst)
	out, ok := appendGeom(dst, g)
	if !ok {
		return append(dst[:start], "null"...)
	}
	return out
}

func appendGeom(dst []byte, g orb.Geometry) ([]byte, bool) {
	ok := true
	pt := func(dst []byte, p orb.Point) []byte {
		if math.IsNaN(p[0]) || math.IsInf(p[0], 0) || math.IsNaN(p[1]) || math.IsInf(p[1], 0) {
			ok = false
		}
		dst = append(dst, '[')
		dst = strconv.AppendFloat(dst, p[0], 'f', -1, 64)
		dst = append(dst, ',')
		dst = strconv.AppendFloat(dst, p[1], 'f', -1, 64)
		return append(dst, ']')
	}
	pts := func(dst []byte, ps []orb.Point) []byte {
		dst = append(dst, '[')
		for i, p := range ps {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = pt(dst, p)
		}
		return append(dst, ']')
	}
	rings := func(dst []byte, rs []orb.Ring) []byte {
		dst = append(dst, '[')
		for i, r := range rs {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = pts(dst, r)
		}
		return append(dst, ']')
	}
	typ := func(dst []byte, t string) []byte {
		return append(append(append(dst, `{"type":"`...), t...), `","coordinates":`...)
	}
	switch g := g.(type) {
	case nil:
		return append(dst, "null"...), true
	case orb.Point:
		dst = pt(typ(dst, "Point"), g)
	case orb.MultiPoint:
		dst = pts(typ(dst, "MultiPoint"), g)
	case orb.LineString:
		dst = pts(typ(dst, "LineString"), g)
	case orb.MultiLineString:
		dst = append(typ(dst, "MultiLineString"), '[')
		for i, l := range g {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = pts(dst, l)
		}
		dst = append(dst, ']')
	case orb.Ring:
		dst = rings(typ(dst, "Polygon"), []orb.Ring{g})
	case orb.Polygon:
		dst = rings(typ(dst, "Polygon"), g)
	case orb.MultiPolygon:
		dst = append(typ(dst, "MultiPolygon"), '[')
		for i, p := range g {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = rings(dst, p)
		}
		dst = append(dst, ']')
	case orb.Bound:
		return appendGeom(dst, g.ToPolygon())
	case orb.Collection:
		dst = append(dst, `{"type":"GeometryCollection","geometries":[`...)
		for i, c := range g {
			if i > 0 {
				dst = append(dst, ',')
			}
			var cok bool
			dst, cok = appendGeom(dst, c)
			ok = ok && cok
		}
		return append(dst, "]}"...), ok
	default:
		return dst, false
	}
	return append(dst, '}'), ok
}

// frameCache keeps the SSE frames of recent changes ("id: N", the event
// line, the feature as data and the blank line), so that a change sent to
// many streams is encoded once and each stream copies it in one write.
// Lookups take no lock: at 1,000 changes/s to 1,000 streams, the read
// lock of a shared RWMutex was one contended cache line a million times a
// second. A slot keeps the frame of the latest change hashed to it; a
// collision costs an encoding, never a wrong frame. A Seq that several
// changes may share (twin.SharedSeq: a replica out of numbers) is never
// cached: a frame of another entity under it could even be one the
// stream's scope does not see.
type frameCache struct {
	slots []atomic.Pointer[cachedFrame]
	shift uint
}

type cachedFrame struct {
	seq   uint64
	frame []byte
}

// newFrameCache makes a cache of 1<<bits slots.
func newFrameCache(bits uint) *frameCache {
	return &frameCache{slots: make([]atomic.Pointer[cachedFrame], 1<<bits), shift: 64 - bits}
}

// get returns the frame of c (a change, not a resync), encoding and
// keeping it on a miss.
func (c *frameCache) get(ch *twin.Change, areas func() areaLookup) []byte {
	// Fibonacci hashing: a replica's Seqs differ in their high bits.
	var slot *atomic.Pointer[cachedFrame]
	if !twin.SharedSeq(ch.Seq) {
		slot = &c.slots[(ch.Seq*0x9E3779B97F4A7C15)>>c.shift]
		if f := slot.Load(); f != nil && f.seq == ch.Seq {
			return f.frame
		}
	}
	var lookup areaLookup
	if ch.Entity.Kind == twin.KindArea {
		lookup = areas()
	}
	body := marshalFeature(ch.Entity, lookup)
	event := "\nevent: entity\ndata: "
	if ch.Removed {
		event = "\nevent: removed\ndata: "
	}
	frame := make([]byte, 0, len(body)+len(event)+28)
	frame = append(frame, "id: "...)
	frame = strconv.AppendUint(frame, ch.Seq, 10)
	frame = append(frame, event...)
	frame = append(frame, body...)
	frame = append(frame, "\n\n"...)
	if slot != nil {
		slot.Store(&cachedFrame{seq: ch.Seq, frame: frame})
	}
	return frame
}
