package ngsild

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/twin"
)

// readJSON decodes a testdata file into a generic value.
func readJSON(t *testing.T, name string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

// asJSON round-trips v through JSON, to compare it with a fixture.
func asJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// sameAttrs checks that got has exactly the fixture's members for names.
func sameAttrs(t *testing.T, fixture string, got, want map[string]any, names ...string) {
	t.Helper()
	for _, n := range names {
		if !reflect.DeepEqual(got[n], want[n]) {
			t.Errorf("%s: %s = %v, the fixture has %v", fixture, n, got[n], want[n])
		}
	}
}

// TestGoldenAirQualityObserved renders the values of the Smart Data
// Models' AirQualityObserved example, as the twin holds them (ug/m3,
// mg/m3, humidity as a ratio), and expects the example's attributes.
func TestGoldenAirQualityObserved(t *testing.T) {
	const fixture = "sdm-AirQualityObserved-normalized.jsonld"
	want := readJSON(t, fixture)
	e := twin.Entity{
		ID: want["id"].(string), Type: "AirQualityObserved",
		Geometry: orb.Point{-3.712247222222222, 40.423852777777775},
		Attrs: map[string]twin.Attr{
			"co":               {Value: 500.0, Unit: "mg/m3"},
			"no2":              {Value: 69.0, Unit: "ug/m3"},
			"so2":              {Value: int64(11), Unit: "ug/m3"},
			"airQualityIndex":  {Value: int64(65), Unit: "1"},
			"airQualityLevel":  {Value: "moderate"},
			"relativeHumidity": {Value: 0.54, Unit: "1"},
		},
	}
	got := asJSON(t, Represent(e, Normalized, nil))
	sameAttrs(t, fixture, got, want, "id", "type", "co", "no2", "so2", "airQualityIndex", "airQualityLevel", "relativeHumidity", "location")
}

// TestGoldenParkingSpot renders the Parking model's example spot in both
// forms.
func TestGoldenParkingSpot(t *testing.T) {
	norm, kv := "sdm-ParkingSpot-normalized.jsonld", "sdm-ParkingSpot-keyvalues.jsonld"
	wantN, wantKV := readJSON(t, norm), readJSON(t, kv)
	observed := time.Date(2018, 9, 21, 12, 0, 0, 0, time.UTC)
	e := twin.Entity{
		ID: wantN["id"].(string), Type: "ParkingSpot", Name: "A-13",
		Geometry: orb.Point{-3.80356167695194, 43.46296641666926},
		Attrs:    map[string]twin.Attr{"status": {Value: "free", ObservedAt: observed}},
	}
	got := asJSON(t, Represent(e, Normalized, nil))
	// The example's status carries a sub-property (parkingPermit) the twin
	// does not have; the rest of it must match, observedAt included.
	status := wantN["status"].(map[string]any)
	delete(status, "parkingPermit")
	if s := got["status"].(map[string]any); s["observedAt"] != "2018-09-21T12:00:00.000Z" {
		t.Errorf("observedAt = %v", s["observedAt"])
	}
	status["observedAt"] = "2018-09-21T12:00:00.000Z" // the example has no milliseconds
	sameAttrs(t, norm, got, wantN, "id", "type", "name", "status", "location")

	gotKV := asJSON(t, Represent(e, KeyValues, nil))
	sameAttrs(t, kv, gotKV, wantKV, "id", "type", "name", "status", "location")
}

// TestGoldenOrionGeoNear replays Orion-LD's near query with maxDistance
// over its three cities: all three are within 15 km of Madrid. Leganes
// lies 12.4 km from it and Alcobendas 13.7 km, so 13 km keeps two.
func TestGoldenOrionGeoNear(t *testing.T) {
	var f struct {
		Query    string
		Entities []struct {
			ID, Type string
			Location struct {
				Value struct{ Coordinates orb.Point }
			}
		}
		Expect []string
	}
	b, err := os.ReadFile("testdata/orionld-geo-near.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var es []twin.Entity
	for _, e := range f.Entities {
		es = append(es, twin.Entity{ID: e.ID, Type: e.Type, Geometry: e.Location.Value.Coordinates})
	}
	run := func(raw string) []string {
		q, err := ParseRawQuery(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var ids []string
		for _, e := range es {
			if q.Match(e) {
				ids = append(ids, e.ID)
			}
		}
		return ids
	}
	if got := run(f.Query); !reflect.DeepEqual(got, f.Expect) {
		t.Errorf("%s: %v, want %v", f.Query, got, f.Expect)
	}
	if got := run("type=T_City&geometry=Point&coordinates=[-3.691944,40.418889]&georel=near;maxDistance==13000"); !reflect.DeepEqual(got, f.Expect[:2]) {
		t.Errorf("13 km: %v, want %v", got, f.Expect[:2])
	}
}
