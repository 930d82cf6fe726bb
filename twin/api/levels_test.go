package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/twin"
)

// TestIndicatorsLevel: the level query parameter picks one level of
// areas; without it the municipalities come, as before levels existed.
func TestIndicatorsLevel(t *testing.T) {
	fake := newFakeReader()
	ind := fixtureIndicators()
	for i := range ind.Areas {
		ind.Areas[i].Level = twin.LevelMunicipality
	}
	ind.Areas = append(ind.Areas, twin.AreaIndicators{ID: "Q1", Name: "Centro Storico", Level: twin.LevelDistrict, Indicators: ind.Areas[0].Indicators})
	fake.setIndicators(ind)
	srv, _ := newTestServer(t, fake, nil)
	for query, want := range map[string][]string{
		"":                      {ind.Areas[0].ID, ind.Areas[1].ID},
		"?level=municipality":   {ind.Areas[0].ID, ind.Areas[1].ID},
		"?level=district":       {"Q1"},
		"?level=all":            {ind.Areas[0].ID, ind.Areas[1].ID, "Q1"},
		"?level=district&x=yes": {"Q1"},
	} {
		resp, body := get(t, srv.URL+"/api/v1/indicators"+query, "", nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d: %s", query, resp.StatusCode, body)
		}
		var got twin.Indicators
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, a := range got.Areas {
			ids = append(ids, a.ID)
		}
		if strings.Join(ids, ",") != strings.Join(want, ",") || len(got.City) != len(ind.City) {
			t.Errorf("%s: areas %v, want %v (city %d)", query, ids, want, len(got.City))
		}
	}
	resp, body := get(t, srv.URL+"/api/v1/indicators?level=city", "", nil)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `level \"city\": expected one of municipality, district, all`) {
		t.Errorf("unknown level: status %d %s", resp.StatusCode, body)
	}
	_, body = get(t, srv.URL+"/api/v1/indicators.csv?level=district", "", nil)
	if !strings.Contains(string(body), "area,Q1,Centro Storico,") || strings.Contains(string(body), "area,"+ind.Areas[0].ID+",") {
		t.Errorf("csv of the districts:\n%s", body)
	}
}

// TestByLevelDefaultFinest: without municipalities the default is the
// finest level present.
func TestByLevelDefaultFinest(t *testing.T) {
	ind := twin.Indicators{Areas: []twin.AreaIndicators{
		{ID: "metro", Level: twin.LevelCity}, {ID: "Q1", Level: twin.LevelDistrict}, {ID: "Q2", Level: twin.LevelDistrict}}}
	got, err := byLevel(ind, "")
	if err != nil || len(got.Areas) != 2 || got.Areas[0].ID != "Q1" {
		t.Errorf("got %+v, %v; want the districts", got.Areas, err)
	}
	// A Reader without levels: everything is a municipality.
	got, err = byLevel(twin.Indicators{Areas: []twin.AreaIndicators{{ID: "048017"}}}, "")
	if err != nil || len(got.Areas) != 1 {
		t.Errorf("got %+v, %v", got.Areas, err)
	}
}

// TestLevelsForPickers: the pages learn the levels the twin has from
// /config (coarsest first) and each area's level from areas.geojson, so
// they can offer a level picker and draw that level's shapes.
func TestLevelsForPickers(t *testing.T) {
	district := twin.Entity{ID: "Q1", Type: "AdministrativeArea", Kind: twin.KindArea, Name: "Centro Storico",
		Geometry: areaFI.Geometry, Attrs: map[string]twin.Attr{"level": {Value: twin.LevelDistrict}}}
	fake := newFakeReader(areaFI, district) // areaFI has no level attribute: a municipality
	ind := fixtureIndicators()
	ind.Areas = append(ind.Areas[:1], twin.AreaIndicators{ID: "Q1", Name: "Centro Storico", Level: twin.LevelDistrict})
	fake.setIndicators(ind)
	srv, _ := newTestServer(t, fake, nil)

	_, body := get(t, srv.URL+"/api/v1/areas.geojson", "", nil)
	var fc struct {
		Features []struct {
			ID         string `json:"id"`
			Properties struct {
				Level string `json:"level"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(body, &fc); err != nil {
		t.Fatal(err)
	}
	levels := map[string]string{}
	for _, f := range fc.Features {
		levels[f.ID] = f.Properties.Level
	}
	if levels["048017"] != twin.LevelMunicipality || levels["Q1"] != twin.LevelDistrict || len(levels) != 2 {
		t.Errorf("areas.geojson levels %v, want 048017 municipality and Q1 district", levels)
	}

	_, body = get(t, srv.URL+"/api/v1/config", "", nil)
	var cfg struct {
		Levels []string `json:"levels"`
	}
	if err := json.Unmarshal(body, &cfg); err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Levels, ",") != "municipality,district" {
		t.Errorf("config levels %v, want [municipality district]", cfg.Levels)
	}
}
