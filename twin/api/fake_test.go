package api

import (
	"slices"
	"sync"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// fakeReader is an in-memory twin.Reader for the API's tests: entities set
// by the test, a log of changes that retains the last keep, subscribers
// with a buffer of buf changes (dropped, channel closed, when full).
type fakeReader struct {
	mu         sync.Mutex
	entities   map[string]twin.Entity
	indicators twin.Indicators
	log        []twin.Change // retained changes, oldest first
	keep       int
	buf        int
	seq        uint64
	subs       map[int]*fakeSub
	nextSub    int
	indCalls   int
}

type fakeSub struct {
	f  twin.Filter
	ch chan twin.Change
}

func newFakeReader(ents ...twin.Entity) *fakeReader {
	r := &fakeReader{entities: map[string]twin.Entity{}, keep: 100, buf: 4096, subs: map[int]*fakeSub{}}
	for _, e := range ents {
		r.entities[e.ID] = e
	}
	return r
}

// matches applies a twin.Filter as the real twin documents it.
func matches(f twin.Filter, e twin.Entity) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, e.Type) && !slices.Contains(f.Types, string(e.Kind)) {
		return false
	}
	if f.Bound != nil {
		if e.Geometry == nil || !f.Bound.Intersects(e.Geometry.Bound()) {
			return false
		}
	}
	return true
}

func (r *fakeReader) Entities(f twin.Filter) []twin.Entity {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []twin.Entity
	for _, e := range r.entities {
		if matches(f, e) {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b twin.Entity) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	return out
}

func (r *fakeReader) Entity(id string) (twin.Entity, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.entities[id]
	return e, ok
}

func (r *fakeReader) Indicators() twin.Indicators {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.indCalls++
	return r.indicators
}

func (r *fakeReader) setIndicators(ind twin.Indicators) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.indicators = ind
}

func (r *fakeReader) LastSeq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seq
}

// emit stores e and sends it to the matching subscribers.
func (r *fakeReader) emit(e twin.Entity) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	r.entities[e.ID] = e
	c := twin.Change{Seq: r.seq, Entity: e}
	r.log = append(r.log, c)
	if len(r.log) > r.keep {
		r.log = r.log[len(r.log)-r.keep:]
	}
	for id, s := range r.subs {
		if !matches(s.f, e) {
			continue
		}
		select {
		case s.ch <- c:
		default:
			close(s.ch)
			delete(r.subs, id)
		}
	}
	return r.seq
}

func (r *fakeReader) Subscribe(f twin.Filter, after uint64) (<-chan twin.Change, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := make(chan twin.Change, r.buf)
	if after > 0 {
		if len(r.log) > 0 && after < r.log[0].Seq-1 {
			ch <- twin.Change{}
		}
		for _, c := range r.log {
			if c.Seq > after && matches(f, c.Entity) {
				ch <- c
			}
		}
	}
	id := r.nextSub
	r.nextSub++
	r.subs[id] = &fakeSub{f: f, ch: ch}
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if s, ok := r.subs[id]; ok {
				close(s.ch)
				delete(r.subs, id)
			}
		})
	}
}

// active is how many subscriptions are open.
func (r *fakeReader) active() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.subs)
}

// fixture entities: two areas, a road, three sites, a gateway, around
// Florence and Bari.
var (
	t0 = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

	areaFI = twin.Entity{ID: "048017", Type: "AdministrativeArea", Kind: twin.KindArea, Name: "Firenze",
		Geometry: orb.Polygon{{{11.15, 43.72}, {11.34, 43.72}, {11.34, 43.83}, {11.15, 43.83}, {11.15, 43.72}}}, Freshness: twin.Fresh}
	areaBA = twin.Entity{ID: "072006", Type: "AdministrativeArea", Kind: twin.KindArea, Name: "Bari",
		Geometry: orb.MultiPolygon{{{{16.75, 41.05}, {16.95, 41.05}, {16.95, 41.15}, {16.75, 41.15}, {16.75, 41.05}}}}, Freshness: twin.Fresh}
	roadFI = twin.Entity{ID: "road-viali", Type: "RoadSegment", Kind: twin.KindRoad, Name: "Viale Strozzi",
		Geometry: orb.LineString{{11.24, 43.78}, {11.25, 43.781}}, Area: "048017", Freshness: twin.Unknown}
	siteAir = twin.Entity{ID: "urn:ngsi-ld:AirQualityObserved:fi-1", Type: "AirQualityObserved", Category: wire.CategoryAir, Kind: twin.KindSite, Name: "Fi air 1",
		Geometry: orb.Point{11.25, 43.77}, Area: "048017", Road: "road-viali", Gateway: "gw-fi", Device: "aq1",
		Attrs:   map[string]twin.Attr{"no2": {Value: 41.5, Unit: "ug/m3", ObservedAt: t0}, "band": {Value: "good", ObservedAt: t0}},
		Updated: t0, Freshness: twin.Fresh}
	siteTraffic = twin.Entity{ID: "urn:ngsi-ld:TrafficFlowObserved:fi-2", Type: "TrafficFlowObserved", Category: wire.CategoryTraffic, Kind: twin.KindSite, Name: "Fi traffic 2",
		Geometry: orb.Point{11.26, 43.78}, Area: "048017", Gateway: "gw-fi", Device: "tc1",
		Attrs:   map[string]twin.Attr{"intensity": {Value: int64(120), Unit: "1/h", ObservedAt: t0}, "congested": {Value: true, ObservedAt: t0}},
		Updated: t0, Freshness: twin.Stale}
	siteBA = twin.Entity{ID: "urn:ngsi-ld:AirQualityObserved:ba-1", Type: "AirQualityObserved", Category: wire.CategoryAir, Kind: twin.KindSite, Name: "Ba air 1",
		Geometry: orb.Point{16.87, 41.12}, Area: "072006", Gateway: "gw-ba", Device: "aq1", Freshness: twin.Offline}
	gwBA = twin.Entity{ID: "gw-ba", Type: "Device", Kind: twin.KindGateway, Name: "gw-ba",
		Geometry: orb.Point{16.871, 41.121}, Area: "072006", Gateway: "gw-ba", Freshness: twin.Offline}
)

func fixtureEntities() []twin.Entity {
	return []twin.Entity{areaFI, areaBA, roadFI, siteAir, siteTraffic, siteBA, gwBA}
}

func ptr(f float64) *float64 { return &f }

func fixtureIndicators() twin.Indicators {
	return twin.Indicators{
		Generated: t0,
		City: []twin.Indicator{
			{Name: "traffic_intensity", Value: ptr(120), Unit: "1/h", Sensors: 1, Window: "15m", Definition: "sum of vehicles per hour", UpdatedAt: t0},
			{Name: "noise_mean", Value: nil, Unit: "dB(A)", Sensors: 0, Window: "15m", Definition: "mean LAeq"},
		},
		Areas: []twin.AreaIndicators{
			{ID: "048017", Name: "Firenze", Indicators: []twin.Indicator{
				{Name: "traffic_intensity", Value: ptr(120), Unit: "1/h", Sensors: 1, Window: "15m", Definition: "sum", UpdatedAt: t0},
				{Name: "congestion_share", Value: ptr(0.5), Unit: "1", Sensors: 2, Window: "15m", Definition: "share congested", UpdatedAt: t0},
			}},
			{ID: "072006", Name: "=Bari", Indicators: []twin.Indicator{
				{Name: "air_band_worst", Value: nil, Unit: "", Sensors: 0, Window: "1h", Definition: "worst band"},
			}},
		},
	}
}
