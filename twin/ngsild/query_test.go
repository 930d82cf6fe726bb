package ngsild

import (
	"net/url"
	"slices"
	"testing"

	"github.com/ponte-city/ponte/twin"
)

func TestParseQueryMatch(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"", "ba-cavour,ba-p1,ba-lungomare,gw-bari-1,fi-1,nowhere"},
		{"type=ParkingSpot", "ba-p1"},
		{"type=ParkingSpot,AirQualityObserved", "ba-cavour,ba-p1"},
		{"attrs=no2,intensity", "ba-cavour,ba-lungomare"},
		{"type=AirQualityObserved&q=no2>50", ""},
		{"q=congested==true|status==%22occupied%22", "ba-p1,ba-lungomare"},
		{"q=averageVehicleSpeed<15;intensity>0", "ba-lungomare"}, // ";" unescaped, as clients send it
		{"q=name&georel=near;maxDistance==1200&geometry=Point&coordinates=" + url.QueryEscape(centre), "ba-cavour,ba-p1,ba-lungomare"},
		{"type=Device&georel=within&geometry=Polygon&coordinates=" + url.QueryEscape(bariBox), ""},
	} {
		t.Run(tc.query, func(t *testing.T) {
			q, err := ParseRawQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if got := short(matching(q)); got != tc.want {
				t.Errorf("matches %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseQueryBad(t *testing.T) {
	for _, tc := range []struct{ query, typ, param, detail string }{
		{"limit=1001", ErrBadRequestData, "limit", "1001 is above the maximum 1000"},
		{"limit=-1", ErrBadRequestData, "limit", `must be an integer >= 0, found "-1"`},
		{"limit=%2B5", ErrBadRequestData, "limit", `found "+5"`},
		{"limit=ten", ErrBadRequestData, "limit", `found "ten"`},
		{"limit=0", ErrInvalidRequest, "limit", "needs count=true"},
		{"offset=-3", ErrBadRequestData, "offset", `found "-3"`},
		{"count=yes", ErrBadRequestData, "count", `must be true or false`},
		{"type=", ErrBadRequestData, "type", "item 1 of the list is empty"},
		{"type=A,,B", ErrBadRequestData, "type", "item 2 of the list is empty"},
		{"attrs=no2,pm%2010", ErrBadRequestData, "attrs", `item 2 "pm 10" has a character that is not a letter, digit or _ at position 3`},
		{"options=sysAttrs", ErrBadRequestData, "options", `unknown option "sysAttrs"`},
		{"options=keyValues,normalized", ErrInvalidRequest, "options", "exclude each other"},
		{"q=no2%3E", ErrBadRequestData, "q", "at position 5"},
		{"georel=within", ErrInvalidRequest, "geometry", "missing"},
		{"geoproperty=observationSpace", ErrBadRequestData, "geoproperty", "only location"},
		{"q=%zz", ErrBadRequestData, "q", "bad percent-encoding"},
	} {
		t.Run(tc.query, func(t *testing.T) {
			_, err := ParseRawQuery(tc.query)
			wantProblem(t, err, tc.typ, tc.param, tc.detail)
		})
	}
}

func TestQueryDefaultsAndPage(t *testing.T) {
	q, err := ParseQuery(url.Values{})
	if err != nil {
		t.Fatal(err)
	}
	if q.Limit != DefaultLimit || q.Offset != 0 || q.Form != Normalized || q.Count {
		t.Errorf("defaults: %+v", q)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"limit=2", []string{"ba-cavour", "ba-p1"}},
		{"limit=2&offset=2", []string{"ba-lungomare", "gw-bari-1"}},
		{"limit=2&offset=5", []string{"nowhere"}},
		{"offset=6", nil},
		{"offset=600", nil},
		{"limit=0&count=true", nil},
		{"limit=1000", []string{"ba-cavour", "ba-p1", "ba-lungomare", "gw-bari-1", "fi-1", "nowhere"}},
	} {
		q, err := ParseRawQuery(tc.query)
		if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		var got []string
		for _, e := range q.Page(entities()) {
			got = append(got, e.ID)
		}
		short(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: page %v, want %v", tc.query, got, tc.want)
		}
	}
}

func TestRepresentForms(t *testing.T) {
	e := entities()[2] // Lungomare
	q, err := ParseRawQuery("options=keyValues&attrs=intensity,congested")
	if err != nil {
		t.Fatal(err)
	}
	got := q.Represent(e)
	want := Entity{"id": e.ID, "type": "TrafficFlowObserved", "intensity": 840.0, "congested": true}
	if len(got) != len(want) || got["intensity"] != 840.0 || got["congested"] != true || got["id"] != e.ID {
		t.Errorf("keyValues with attrs = %v, want %v", got, want)
	}
	n := Represent(e, Normalized, nil)
	speed, ok := n["averageVehicleSpeed"].(Property)
	if !ok || speed.Type != "Property" || speed.Value != 12.5 || speed.UnitCode != "KMH" || speed.ObservedAt != "2026-12-05T10:30:00.000Z" {
		t.Errorf("averageVehicleSpeed = %#v", n["averageVehicleSpeed"])
	}
	// Vehicles per hour has no UN/CEFACT code: no unitCode rather than a
	// wrong one.
	if in := n["intensity"].(Property); in.UnitCode != "" {
		t.Errorf("intensity unitCode = %q, want none", in.UnitCode)
	}
	loc := n["location"].(Property)
	if loc.Type != "GeoProperty" {
		t.Errorf("location type = %s", loc.Type)
	}
	if _, ok := n["dateObserved"]; !ok {
		t.Error("no dateObserved")
	}
	// An entity without a location has no location attribute.
	if _, ok := Represent(twin.Entity{ID: "x", Type: "Device"}, Normalized, nil)["location"]; ok {
		t.Error("location without geometry")
	}
}
