package ngsild

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/twin"
)

var at = time.Date(2026, 12, 5, 10, 30, 0, 0, time.UTC)

// entities are a few twin entities in Bari, as the twin makes them.
func entities() []twin.Entity {
	return []twin.Entity{
		{ID: "urn:ngsi-ld:AirQualityObserved:ba-cavour", Type: "AirQualityObserved", Kind: twin.KindSite, Name: "Corso Cavour",
			Geometry: orb.Point{16.8719, 41.1225}, Area: "072006", Updated: at, Attrs: map[string]twin.Attr{
				"no2":             {Value: 48.0, Unit: "ug/m3", ObservedAt: at},
				"co":              {Value: 0.7, Unit: "mg/m3", ObservedAt: at},
				"airQualityIndex": {Value: int64(2), Unit: "1", ObservedAt: at},
				"airQualityLevel": {Value: "fair", ObservedAt: at},
			}},
		{ID: "urn:ngsi-ld:ParkingSpot:ba-p1", Type: "ParkingSpot", Kind: twin.KindSite, Name: "P1",
			Geometry: orb.Point{16.8700, 41.1230}, Updated: at, Attrs: map[string]twin.Attr{
				"occupancy": {Value: 1.0, Unit: "1", ObservedAt: at},
				"status":    {Value: "occupied", ObservedAt: at},
			}},
		{ID: "urn:ngsi-ld:TrafficFlowObserved:ba-lungomare", Type: "TrafficFlowObserved", Kind: twin.KindSite, Name: "Lungomare",
			Geometry: orb.Point{16.8800, 41.1300}, Updated: at, Attrs: map[string]twin.Attr{
				"intensity":           {Value: 840.0, Unit: "1/h", ObservedAt: at},
				"averageVehicleSpeed": {Value: 12.5, Unit: "km/h", ObservedAt: at},
				"congested":           {Value: true, ObservedAt: at},
			}},
		{ID: "urn:ngsi-ld:Device:gw-bari-1", Type: "Device", Kind: twin.KindGateway, Name: "gw-bari-1",
			Geometry: orb.Point{16.8600, 41.1100}},
		// A road far away (Florence), and an entity with no location.
		{ID: "urn:ngsi-ld:RoadSegment:fi-1", Type: "RoadSegment", Kind: twin.KindRoad,
			Geometry: orb.LineString{{11.24, 43.77}, {11.26, 43.78}}},
		{ID: "urn:ngsi-ld:WeatherObserved:nowhere", Type: "WeatherObserved", Kind: twin.KindSite,
			Attrs: map[string]twin.Attr{"temperature": {Value: 11.5, Unit: "Cel", ObservedAt: at}}},
	}
}

// ids returns the IDs of es that q matches.
func matching(q interface{ Match(twin.Entity) bool }) []string {
	var out []string
	for _, e := range entities() {
		if q.Match(e) {
			out = append(out, e.ID)
		}
	}
	return out
}

// short strips the common prefix of the test entities' IDs.
func short(ids []string) string {
	for i, id := range ids {
		ids[i] = id[strings.LastIndex(id, ":")+1:]
	}
	return strings.Join(ids, ",")
}

// wantProblem checks that err is a *Problem of type typ about param whose
// detail contains detail.
func wantProblem(t *testing.T, err error, typ, param, detail string) {
	t.Helper()
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("error %v is not a *Problem", err)
	}
	if p.Type != typ || p.Param != param || p.Status != 400 || !strings.Contains(p.Detail, detail) {
		t.Errorf("got %s %q param %q status %d; want %s about %q containing %q", p.Type, p.Detail, p.Param, p.Status, typ, param, detail)
	}
}
