package api

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
	"github.com/ponte-city/ponte/wire"
)

// Tokens of the two-tenant twin.
const (
	cityToken    = "city-operator-token-0001"
	bariToken    = "bari-operator-token-0001"
	firenzeToken = "firenze-operator-token-01"
)

// twoTenants is a real twin over the Firenze and Bari metropolitan
// municipalities with two tenants, Firenze (gateway gw-fi: an air and a
// noise site by the Duomo) and Bari (gateways ba-*: an air and a parking
// site in Piazza Aldo Moro), each site with a reading at at; and an API
// over it with a city token and one token per tenant, its scope the
// twin's.
type twoTenants struct {
	tw  *twin.Twin
	api *API
	url string
	ids map[string]string // device -> entity ID
}

func newTwoTenants(t testing.TB, history HistoryQuerier, at time.Time) *twoTenants {
	t.Helper()
	opts := geo.LoadOptions{IDProperty: "com_istat_code"}
	areas, _, err := twin.LoadAreas([]twin.AreaSpec{
		{Path: "../../geo/data/firenze-metro-municipalities.geojson", Level: twin.LevelMunicipality, Options: opts},
		{Path: "../../geo/data/bari-metro-municipalities.geojson", Level: twin.LevelMunicipality, Options: opts},
	})
	if err != nil {
		t.Fatal(err)
	}
	sites := []twin.Site{
		{Gateway: "gw-fi", Device: "fi-air", Category: "air", Lon: 11.2558, Lat: 43.7731, Interval: time.Minute},
		{Gateway: "gw-fi", Device: "fi-noise", Category: "noise", Lon: 11.2560, Lat: 43.7735, Interval: time.Minute},
		{Gateway: "ba-murat", Device: "ba-air", Category: "air", Lon: 16.8716, Lat: 41.1177, Interval: time.Minute},
		{Gateway: "ba-murat", Device: "ba-bay", Category: "parking", Lon: 16.8720, Lat: 41.1180, Interval: time.Minute},
	}
	tw, err := twin.New(twin.Config{Sites: sites, Areas: areas, Logger: slog.New(slog.DiscardHandler), Tenants: []twin.Tenant{
		{ID: "firenze", Name: "Comune di Firenze", Areas: []string{"048017"}, Gateways: []string{"gw-fi"}},
		{ID: "bari", Name: "Comune di Bari", Areas: []string{"072006"}, GatewayPrefixes: []string{"ba-"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	scope := func(id string) twin.Scope {
		s, err := tw.Scope(id)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, err := New(Config{Reader: tw, Tokens: []string{cityToken}, History: history, Registerer: prometheus.NewRegistry(),
		Tenants: []Tenant{
			{ID: "firenze", Name: "Comune di Firenze", Tokens: []string{firenzeToken}, Scope: scope("firenze")},
			{ID: "bari", Name: "Comune di Bari", Tokens: []string{bariToken}, Scope: scope("bari")},
		}})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(hs.Close)
	for i, gw := range []string{"gw-fi", "ba-murat"} {
		var rs []wire.Reading
		for _, s := range sites[2*i : 2*i+2] {
			point := map[string]string{"air": "no2", "noise": "LAeq", "parking": "occupied"}[string(s.Category)]
			v := wire.Float(40)
			if s.Category == "parking" {
				v = wire.Bool(true)
			}
			rs = append(rs, wire.Reading{Device: s.Device, Point: point, Value: v, Time: at, Quality: wire.QualityGood})
		}
		tw.Apply(gw, 1, &wire.Batch{Gateway: gw, Epoch: 1, Seqs: []uint64{1, 2}, Readings: rs})
	}
	tt := &twoTenants{tw: tw, api: a, url: hs.URL, ids: map[string]string{}}
	for _, e := range tw.Entities(twin.Filter{}) {
		if e.Kind == twin.KindSite {
			tt.ids[e.Device] = e.ID
		}
	}
	if len(tt.ids) != 4 {
		t.Fatalf("sites %v", tt.ids)
	}
	return tt
}

// TestNGSITenants: NGSILD-Tenant narrows a token's scope to one of its
// tenants, and a tenant the token cannot see is answered 404
// NonexistentTenant, on every NGSI-LD route; a tenant's token without the
// header sees its own tenant only.
func TestNGSITenants(t *testing.T) {
	at := time.Now().UTC().Add(-time.Minute).Truncate(time.Second)
	fh := &fakeHistory{points: []HistoryPoint{{Time: at, Value: 40}}}
	tt := newTwoTenants(t, fh, at)
	fiAir, fiNoise, baAir, baBay := tt.ids["fi-air"], tt.ids["fi-noise"], tt.ids["ba-air"], tt.ids["ba-bay"]
	list := func(path, tok, tenant string) []string {
		t.Helper()
		hdr := map[string]string{}
		if tenant != "" {
			hdr[TenantHeader] = tenant
		}
		resp, body := get(t, tt.url+path, tok, hdr)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s (%s): status %d: %s", path, tenant, resp.StatusCode, body)
		}
		ids := entityIDs(t, body)
		slices.Sort(ids)
		return ids
	}
	sitesQ := "/ngsi-ld/v1/entities?type=AirQualityObserved,NoiseLevelObserved,ParkingSpot"
	temporalQ := "/ngsi-ld/v1/temporal/entities?type=AirQualityObserved,NoiseLevelObserved,ParkingSpot"
	bari := sorted(baAir, baBay)
	for _, c := range []struct {
		name, tok, tenant string
		want              []string
	}{
		{"city token, all", cityToken, "", sorted(fiAir, fiNoise, baAir, baBay)},
		{"city token, NGSILD-Tenant bari", cityToken, "bari", bari},
		{"bari token, no header", bariToken, "", bari},
		{"bari token, NGSILD-Tenant bari", bariToken, "bari", bari},
		{"firenze token, no header", firenzeToken, "", sorted(fiAir, fiNoise)},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := list(sitesQ, c.tok, c.tenant); !slices.Equal(got, c.want) {
				t.Errorf("entities %v, want %v", got, c.want)
			}
			// The temporal query lists the same entities.
			if got := list(temporalQ, c.tok, c.tenant); !slices.Equal(got, c.want) {
				t.Errorf("temporal entities %v, want %v", got, c.want)
			}
		})
	}

	t.Run("types", func(t *testing.T) {
		for _, c := range []struct {
			tok, tenant string
			has, not    string
		}{
			{cityToken, "bari", "ParkingSpot", "NoiseLevelObserved"},
			{bariToken, "", "ParkingSpot", "NoiseLevelObserved"},
			{cityToken, "firenze", "NoiseLevelObserved", "ParkingSpot"},
		} {
			_, body := get(t, tt.url+"/ngsi-ld/v1/types", c.tok, map[string]string{TenantHeader: c.tenant})
			var tl struct{ TypeList []string }
			if err := json.Unmarshal(body, &tl); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(tl.TypeList, c.has) || slices.Contains(tl.TypeList, c.not) {
				t.Errorf("tenant %q: types %v, want %s and not %s", c.tenant, tl.TypeList, c.has, c.not)
			}
		}
		resp, body := get(t, tt.url+"/ngsi-ld/v1/types/NoiseLevelObserved", bariToken, nil)
		wantProblem(t, resp, body, http.StatusNotFound, ngsild.ErrResourceNotFound, "type")
	})

	t.Run("another tenant's entity is not found", func(t *testing.T) {
		for _, p := range []string{"/ngsi-ld/v1/entities/", "/ngsi-ld/v1/temporal/entities/"} {
			resp, body := get(t, tt.url+p+url.PathEscape(fiAir), bariToken, nil)
			wantProblem(t, resp, body, http.StatusNotFound, ngsild.ErrResourceNotFound, "id")
			resp, body = get(t, tt.url+p+url.PathEscape(baAir), bariToken, nil)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s own entity: status %d: %s", p, resp.StatusCode, body)
			}
		}
	})

	t.Run("a tenant the token cannot see does not exist", func(t *testing.T) {
		for _, p := range []string{
			sitesQ,
			"/ngsi-ld/v1/entities/" + url.PathEscape(fiAir),
			"/ngsi-ld/v1/entities/" + url.PathEscape(baAir),
			"/ngsi-ld/v1/types",
			"/ngsi-ld/v1/types/AirQualityObserved",
			temporalQ,
			"/ngsi-ld/v1/temporal/entities/" + url.PathEscape(fiAir),
		} {
			for _, tenant := range []string{"firenze", "roma"} {
				resp, body := get(t, tt.url+p, bariToken, map[string]string{TenantHeader: tenant})
				wantProblem(t, resp, body, http.StatusNotFound, ngsild.ErrNonexistentTenant, TenantHeader)
			}
		}
		// The city's token may name any tenant, but not one that does not exist.
		resp, body := get(t, tt.url+sitesQ, cityToken, map[string]string{TenantHeader: "roma"})
		wantProblem(t, resp, body, http.StatusNotFound, ngsild.ErrNonexistentTenant, TenantHeader)
	})
}

// sorted returns ids sorted.
func sorted(ids ...string) []string {
	slices.Sort(ids)
	return ids
}

// TestNGSITemporalQueryInflux: the temporal query reads each entity's
// series from a real InfluxDB 1.8, within the range, lastN newest first,
// and a tenant's scope keeps the other tenant's series out.
func TestNGSITemporalQueryInflux(t *testing.T) {
	s := influxtest.Start(t)
	h, err := NewInfluxHistory(s.URL, "", "", s.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Add(-10 * time.Minute).Truncate(time.Second)
	var lines []string
	for i := 0; i < 5; i++ {
		ts := at.Add(time.Duration(i) * 10 * time.Second).UnixNano()
		lines = append(lines, fmt.Sprintf("air,gateway=gw-fi,device=fi-air no2=%d %d", 10+i, ts),
			fmt.Sprintf("air,gateway=ba-murat,device=ba-air no2=%d %d", 20+i, ts))
	}
	writeLines(t, s, lines...)
	tt := newTwoTenants(t, h, at)

	q := "/ngsi-ld/v1/temporal/entities?type=AirQualityObserved&attrs=no2&options=temporalValues&timerel=between" +
		"&timeAt=" + at.Add(-time.Second).Format(time.RFC3339) + "&endTimeAt=" + at.Add(time.Minute).Format(time.RFC3339)
	resp, body := get(t, tt.url+q+"&lastN=2", cityToken, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	ids, no2 := temporalList(t, body)
	if len(ids) != 2 {
		t.Fatalf("entities %v: %s", ids, body)
	}
	ts := func(i int) string { return at.Add(time.Duration(i) * 10 * time.Second).Format(ngsiTime) }
	if v := no2[tt.ids["fi-air"]]; len(v) != 2 || v[0][0] != 14.0 || v[0][1] != ts(4) || v[1][0] != 13.0 {
		t.Errorf("Firenze's air, lastN=2: %v, want 14 then 13", v)
	}
	if v := no2[tt.ids["ba-air"]]; len(v) != 2 || v[0][0] != 24.0 || v[1][0] != 23.0 {
		t.Errorf("Bari's air, lastN=2: %v, want 24 then 23", v)
	}

	resp, body = get(t, tt.url+q, bariToken, nil)
	ids, no2 = temporalList(t, body)
	if resp.StatusCode != http.StatusOK || !slices.Equal(ids, []string{tt.ids["ba-air"]}) {
		t.Fatalf("Bari's token: status %d, entities %v: %s", resp.StatusCode, ids, body)
	}
	if v := no2[tt.ids["ba-air"]]; len(v) != 5 || v[0][0] != 20.0 || v[0][1] != ts(0) || v[4][0] != 24.0 {
		t.Errorf("Bari's air, the whole range oldest first: %v", v)
	}
}
