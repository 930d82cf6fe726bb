package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// TestBooleanHistory: a boolean point (a parking spot's occupied) has no
// mean in InfluxQL; its history is the share of readings that were true
// per window, through the API as for any point.
func TestBooleanHistory(t *testing.T) {
	s := influxtest.Start(t)
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var lines []string
	// First 5-minute window: 1 of 4 true; second: 3 of 3 true.
	for i, v := range []bool{true, false, false, false} {
		lines = append(lines, fmt.Sprintf("parking,device=p1,gateway=gw-fi occupied=%t %d", v, base.Add(time.Duration(i)*time.Minute).UnixNano()))
	}
	for i := range 3 {
		lines = append(lines, fmt.Sprintf("parking,device=p1,gateway=gw-fi occupied=true %d", base.Add(time.Duration(5+i)*time.Minute).UnixNano()))
	}
	writeLines(t, s, lines...)
	h, err := NewInfluxHistory(s.URL, "", "", s.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	site := twin.Entity{ID: "urn:ngsi-ld:ParkingSpot:p1", Type: "ParkingSpot", Category: wire.CategoryParking, Kind: twin.KindSite,
		Gateway: "gw-fi", Device: "p1", Attrs: map[string]twin.Attr{"occupancy": {Value: int64(1)}, "occupied": {Value: true}}}
	srv, _ := newTestServer(t, newFakeReader(site), func(c *Config) { c.History = h })
	for _, point := range []string{"occupied", "occupancy"} { // the point, and the attribute the twin names it
		resp, body := get(t, srv.URL+"/api/v1/history?entity="+site.ID+"&point="+point+"&from=2026-05-01T10:00:00Z&to=2026-05-01T10:10:00Z&every=5m", testToken, nil)
		want := `{"entity":"urn:ngsi-ld:ParkingSpot:p1","point":"` + point + `","unit":"1","every":"5m","points":[{"time":"2026-05-01T10:00:00Z","value":0.25},{"time":"2026-05-01T10:05:00Z","value":1}]}` + "\n"
		if resp.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("%s: status %d body\n%s\nwant\n%s", point, resp.StatusCode, body, want)
		}
	}
}

// TestSnapshotReal: /api/v1/snapshot answers each site's latest values at
// a past moment, written to a real InfluxDB, with their ages, and the
// site's freshness then.
func TestSnapshotReal(t *testing.T) {
	s := influxtest.Start(t)
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	ns := func(d time.Duration) int64 { return base.Add(d).UnixNano() }
	writeLines(t, s,
		fmt.Sprintf("air,area=048017,device=aq1,gateway=gw-fi,type=air no2=10,humidity=84 %d", ns(0)),
		fmt.Sprintf("air,area=048017,device=aq1,gateway=gw-fi,type=air no2=20 %d", ns(time.Minute)),
		fmt.Sprintf("air,area=048017,device=aq1,gateway=gw-fi,type=air no2=30 %d", ns(2*time.Minute)),
		fmt.Sprintf(`air,device=aq1,gateway=gw-fi no2_quality="bad: timeout" %d`, ns(90*time.Second)),
		fmt.Sprintf("parking,device=p1,gateway=gw-fi occupied=true %d", ns(-10*time.Minute)),
		fmt.Sprintf("air,device=aq1,gateway=gw-ba no2=99 %d", ns(time.Minute)), // another gateway's aq1
	)
	h, err := NewInfluxHistory(s.URL, "", "", s.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	air := twin.Entity{ID: "urn:ngsi-ld:AirQualityObserved:aq1", Type: "AirQualityObserved", Category: wire.CategoryAir, Kind: twin.KindSite,
		Gateway: "gw-fi", Device: "aq1", Attrs: map[string]twin.Attr{"no2": {Value: 1.0, Unit: "ug/m3"}, "relativeHumidity": {Value: 0.5, Unit: "1"}}}
	park := twin.Entity{ID: "urn:ngsi-ld:ParkingSpot:p1", Type: "ParkingSpot", Category: wire.CategoryParking, Kind: twin.KindSite, Gateway: "gw-fi", Device: "p1"}
	srv, _ := newTestServer(t, newFakeReader(air, park), func(c *Config) { c.History = h })

	snapshot := func(t *testing.T, q string) snapshotAnswer {
		t.Helper()
		resp, body := get(t, srv.URL+"/api/v1/snapshot?"+q, testToken, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var ans snapshotAnswer
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Fatal(err)
		}
		return ans
	}
	site := func(ans snapshotAnswer, id string) snapshotSite {
		for _, s := range ans.Sites {
			if s.ID == id {
				return s
			}
		}
		t.Fatalf("no site %s in %+v", id, ans)
		return snapshotSite{}
	}
	cases := []struct {
		at, window string
		id         string
		freshness  twin.Freshness
		attrs      map[string]any // name -> value, nil: none
		observed   map[string]time.Duration
	}{
		{"2026-05-01T10:01:30Z", "", air.ID, twin.Fresh, map[string]any{"no2": 20.0, "relativeHumidity": 0.84},
			map[string]time.Duration{"no2": time.Minute, "relativeHumidity": 0}},
		{"2026-05-01T10:05:00Z", "", air.ID, twin.Fresh, map[string]any{"no2": 30.0, "relativeHumidity": 0.84}, nil},
		{"2026-05-01T10:12:00Z", "", air.ID, twin.Stale, map[string]any{"no2": 30.0, "relativeHumidity": 0.84}, nil},
		{"2026-05-01T10:02:30Z", "2m", air.ID, twin.Fresh, map[string]any{"no2": 30.0}, nil},
		{"2026-05-01T09:59:00Z", "", air.ID, twin.Offline, map[string]any{}, nil},
		{"2026-05-01T10:00:00Z", "", park.ID, twin.Stale, map[string]any{"occupied": true}, nil},
		{"2026-05-01T10:00:00Z", "5m", park.ID, twin.Offline, map[string]any{}, nil},
	}
	for _, c := range cases {
		t.Run(c.at+" "+c.window+" "+c.id, func(t *testing.T) {
			q := "at=" + c.at
			if c.window != "" {
				q += "&window=" + c.window
			}
			s := site(snapshot(t, q), c.id)
			if s.Freshness != c.freshness {
				t.Errorf("freshness %s, want %s", s.Freshness, c.freshness)
			}
			got := map[string]any{}
			for k, v := range s.Attrs {
				got[k] = v.Value
			}
			if fmt.Sprint(got) != fmt.Sprint(c.attrs) {
				t.Errorf("attrs %v, want %v", got, c.attrs)
			}
			for k, d := range c.observed {
				if !s.Attrs[k].ObservedAt.Equal(base.Add(d)) {
					t.Errorf("%s observed %v, want %v", k, s.Attrs[k].ObservedAt, base.Add(d))
				}
			}
			if c.id == air.ID && c.freshness != twin.Offline && s.Attrs["no2"].Unit != "ug/m3" {
				t.Errorf("no2 unit %q, want the live attribute's", s.Attrs["no2"].Unit)
			}
		})
	}

	t.Run("bad parameters", func(t *testing.T) {
		for q, param := range map[string]string{"": "at", "at=yesterday": "at", "at=2026-05-01T10:00:00Z&window=0s": "window", "at=2026-05-01T10:00:00Z&window=48h": "window"} {
			resp, body := get(t, srv.URL+"/api/v1/snapshot?"+q, testToken, nil)
			wantError(t, resp, body, http.StatusBadRequest, param, "")
		}
		resp, body := get(t, srv.URL+"/api/v1/snapshot?at=2026-05-01T10:00:00Z", "", nil)
		wantError(t, resp, body, http.StatusUnauthorized, "Authorization", "operator token")
	})
	t.Run("no store", func(t *testing.T) {
		srv2, _ := newTestServer(t, newFakeReader(air), nil)
		resp, body := get(t, srv2.URL+"/api/v1/snapshot?at=2026-05-01T10:00:00Z", testToken, nil)
		wantError(t, resp, body, http.StatusNotImplemented, "", "snapshot")
	})
	t.Run("store down", func(t *testing.T) {
		s.Stop()
		defer s.Start()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := h.Snapshot(ctx, base, time.Minute); err == nil {
			t.Error("no error with InfluxDB stopped")
		}
	})
}
