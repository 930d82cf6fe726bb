package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/twin"
)

// TestAreasGeoJSON: the public areas endpoint lists exactly the areas,
// with their IDs and names, without a token, with CORS and an ETag.
func TestAreasGeoJSON(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), nil)
	resp, body := get(t, srv.URL+"/api/v1/areas.geojson", "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for k, v := range map[string]string{"Content-Type": "application/geo+json", "Access-Control-Allow-Origin": "*"} {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			ID         string          `json:"id"`
			Geometry   json.RawMessage `json:"geometry"`
			Properties struct {
				Name string `json:"name"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(body, &fc); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	var ids []string
	for _, f := range fc.Features {
		ids = append(ids, f.ID+"="+f.Properties.Name)
		if !strings.Contains(string(f.Geometry), "Polygon") {
			t.Errorf("area %s geometry %s", f.ID, f.Geometry)
		}
	}
	if fc.Type != "FeatureCollection" || strings.Join(ids, ",") != "048017=Firenze,072006=Bari" {
		t.Errorf("areas %v, want Firenze and Bari only", ids)
	}
	resp, _ = get(t, srv.URL+"/api/v1/areas.geojson", "", map[string]string{"If-None-Match": resp.Header.Get("ETag")})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", resp.StatusCode)
	}
}

// TestAreasSimplified: shapes are simplified, and the entity's own
// geometry is left alone.
func TestAreasSimplified(t *testing.T) {
	// A square ring with 400 points along its sides, 1 km a side.
	var ring orb.Ring
	for i := 0; i < 100; i++ {
		ring = append(ring, orb.Point{11 + 0.01*float64(i)/100, 43})
	}
	for i := 0; i < 100; i++ {
		ring = append(ring, orb.Point{11.01, 43 + 0.01*float64(i)/100})
	}
	for i := 0; i < 100; i++ {
		ring = append(ring, orb.Point{11.01 - 0.01*float64(i)/100, 43.01})
	}
	for i := 0; i <= 100; i++ {
		ring = append(ring, orb.Point{11, 43.01 - 0.01*float64(i)/100})
	}
	e := twin.Entity{ID: "a", Name: "A", Kind: twin.KindArea, Geometry: orb.Polygon{ring}}
	body := areasGeoJSON([]twin.Entity{e}, Licence{})
	var fc struct {
		Features []struct {
			Geometry struct {
				Coordinates [][][2]float64 `json:"coordinates"`
			} `json:"geometry"`
		} `json:"features"`
	}
	if err := json.Unmarshal(body, &fc); err != nil {
		t.Fatal(err)
	}
	if n := len(fc.Features[0].Geometry.Coordinates[0]); n != 5 {
		t.Errorf("simplified square has %d positions, want 5", n)
	}
	if len(e.Geometry.(orb.Polygon)[0]) != 401 {
		t.Error("the entity's geometry was modified")
	}
}
