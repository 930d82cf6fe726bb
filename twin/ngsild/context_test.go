package ngsild

import (
	"encoding/json"
	"strings"
	"testing"
)

// iri resolves a term as a JSON-LD processor would for a node of type
// typ: the type's scoped context first, then the document's.
func iri(t *testing.T, ctx map[string]any, typ, term string) string {
	t.Helper()
	if def, ok := ctx[typ].(map[string]any); ok {
		if scoped, ok := def["@context"].(map[string]any); ok {
			if s, ok := scoped[term].(string); ok {
				return s
			}
		}
	}
	s, _ := ctx[term].(string)
	return s
}

func TestContextDocument(t *testing.T) {
	var doc struct {
		Context map[string]any `json:"@context"`
	}
	if err := json.Unmarshal(ContextDocument(), &doc); err != nil {
		t.Fatal(err)
	}
	ctx := doc.Context
	if ctx["@version"] != 1.1 {
		t.Errorf("@version = %v, want 1.1 (type-scoped contexts)", ctx["@version"])
	}
	// Each type of issue 15, and the attributes twin/mapping.go gives it
	// that the Smart Data Models define, with the model each IRI is from.
	for _, tc := range []struct {
		typ, model string
		attrs      []string
	}{
		{"TrafficFlowObserved", "Transportation", []string{"intensity", "averageVehicleSpeed", "occupancy", "congested"}},
		{"AirQualityObserved", "Environment", []string{"no2", "o3", "pm10", "pm25", "so2", "co", "relativeHumidity", "atmosphericPressure", "airQualityIndex", "airQualityLevel"}},
		{"NoiseLevelObserved", "Environment", []string{"LAeq"}},
		{"ParkingSpot", "Parking", []string{"occupancy"}},
		{"Streetlight", "Streetlighting", []string{"powerState"}},
		{"WeatherObserved", "Weather", []string{"temperature", "relativeHumidity", "atmosphericPressure", "windSpeed", "windDirection", "precipitation"}},
		{"Device", "Device", []string{"temperature", "deviceState"}},
	} {
		typeIRI := iri(t, ctx, "", tc.typ)
		if def, ok := ctx[tc.typ].(map[string]any); ok {
			typeIRI, _ = def["@id"].(string)
		}
		if want := "https://smartdatamodels.org/dataModel." + tc.model + "/" + tc.typ; typeIRI != want {
			t.Errorf("%s: IRI %q, want %q", tc.typ, typeIRI, want)
		}
		for _, a := range tc.attrs {
			if got, want := iri(t, ctx, tc.typ, a), "https://smartdatamodels.org/dataModel."+tc.model+"/"+a; got != want {
				t.Errorf("%s.%s: IRI %q, want %q", tc.typ, a, got, want)
			}
		}
		for _, a := range []string{"name", "areaServed", "dateObserved"} {
			if got := iri(t, ctx, tc.typ, a); got != "https://smartdatamodels.org/"+a {
				t.Errorf("%s.%s: IRI %q", tc.typ, a, got)
			}
		}
	}
	// The caller's copy cannot change the served document.
	c := ContextDocument()
	c[0] = 'x'
	if ContextDocument()[0] != '{' {
		t.Error("ContextDocument shares its bytes")
	}
}

func TestLinkHeader(t *testing.T) {
	got := LinkHeader("http://127.0.0.1:8080" + ContextPath)
	want := `<http://127.0.0.1:8080/ngsi-ld/v1/contexts/ponte.jsonld>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`
	if got != want {
		t.Errorf("LinkHeader = %s\nwant %s", got, want)
	}
	if !strings.HasPrefix(ContextPath, "/ngsi-ld/") {
		t.Error(ContextPath)
	}
}
