package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

func TestInfluxQuery(t *testing.T) {
	h, err := NewInfluxHistory("http://127.0.0.1:8086", "", "", "ponte/autogen", "")
	if err != nil {
		t.Fatal(err)
	}
	from := time.Unix(0, 1000)
	to := time.Unix(0, 2000)
	cases := []struct {
		name  string
		e     twin.Entity
		point string
		every time.Duration
		want  string
	}{
		{"plain", twin.Entity{Type: "AirQualityObserved", Category: wire.CategoryAir, Gateway: "gw-fi", Device: "aq1"}, "no2", 5 * time.Minute,
			`SELECT mean("no2") FROM "ponte"."autogen"."air" WHERE "gateway"='gw-fi' AND "device"='aq1' AND time >= 1000 AND time < 2000 GROUP BY time(5m) fill(none)`},
		{"quotes", twin.Entity{Type: "x", Gateway: `g'w`, Device: `d"ev`}, `p"t`, 90 * time.Second,
			`SELECT mean("p\"t") FROM "ponte"."autogen"."ponte" WHERE "gateway"='g\'w' AND "device"='d\"ev' AND time >= 1000 AND time < 2000 GROUP BY time(90s) fill(none)`},
		{"backslash newline", twin.Entity{Type: "TrafficFlowObserved", Category: wire.CategoryTraffic, Gateway: `a\`, Device: "b\nc"}, "lane1_intensity", 2 * time.Hour,
			`SELECT mean("lane1_intensity") FROM "ponte"."autogen"."traffic" WHERE "gateway"='a\\' AND "device"='b\nc' AND time >= 1000 AND time < 2000 GROUP BY time(2h) fill(none)`},
		{"ms", twin.Entity{Type: "NoiseLevelObserved", Category: wire.CategoryNoise, Gateway: "g", Device: "d"}, "LAeq", 1500 * time.Millisecond,
			`SELECT mean("LAeq") FROM "ponte"."autogen"."noise" WHERE "gateway"='g' AND "device"='d' AND time >= 1000 AND time < 2000 GROUP BY time(1500ms) fill(none)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := h.Query(c.e, c.point, from, to, c.every); got != c.want {
				t.Errorf("query\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestNewInfluxHistoryBad(t *testing.T) {
	cases := []struct{ url, bucket, want string }{
		{"", "ponte", "want http(s)://host:port"},
		{"ftp://x", "ponte", "want http(s)://host:port"},
		{"http://127.0.0.1:1", "", "bucket"},
		{"http://127.0.0.1:1", "/autogen", "bucket"},
	}
	for _, c := range cases {
		t.Run(c.url+"|"+c.bucket, func(t *testing.T) {
			_, err := NewInfluxHistory(c.url, "", "", c.bucket, "")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

// writeLines writes line protocol to the test server's database.
func writeLines(t *testing.T, s *influxtest.Server, lines ...string) {
	t.Helper()
	u := s.URL + "/write?" + url.Values{"db": {s.DB}, "precision": {"ns"}}.Encode()
	resp, err := http.Post(u, "text/plain", strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("write: status %d: %s", resp.StatusCode, b)
	}
}

func TestInfluxHistoryReal(t *testing.T) {
	s := influxtest.Start(t)
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	ns := func(d time.Duration) int64 { return base.Add(d).UnixNano() }
	writeLines(t, s,
		// The site: three values in the first 5-minute window, one in the second.
		fmt.Sprintf("air,area=048017,device=aq1,gateway=gw-fi,type=air no2=10 %d", ns(0)),
		fmt.Sprintf("air,area=048017,device=aq1,gateway=gw-fi,type=air no2=20 %d", ns(time.Minute)),
		fmt.Sprintf("air,area=048017,device=aq1,gateway=gw-fi,type=air no2=30 %d", ns(2*time.Minute)),
		fmt.Sprintf("air,area=048017,device=aq1,gateway=gw-fi,type=air no2=50 %d", ns(6*time.Minute)),
		// Outside [from, to).
		fmt.Sprintf("air,area=048017,device=aq1,gateway=gw-fi,type=air no2=9999 %d", ns(-time.Minute)),
		fmt.Sprintf("air,area=048017,device=aq1,gateway=gw-fi,type=air no2=9999 %d", ns(10*time.Minute)),
		// Other devices and gateways, which must not leak in.
		fmt.Sprintf("air,device=aq2,gateway=gw-fi,type=air no2=1000 %d", ns(time.Minute)),
		fmt.Sprintf("air,device=aq1,gateway=gw-ba,type=air no2=1000 %d", ns(time.Minute)),
		// A device whose name is an injection attempt, stored as such.
		fmt.Sprintf(`air,device=aq1'\ OR\ '1'\='1,gateway=gw-fi,type=air no2=7 %d`, ns(time.Minute)),
		// A point with a quote in its name.
		fmt.Sprintf(`air,device=aq1,gateway=gw-fi,type=air we"ird=3 %d`, ns(time.Minute)),
	)
	h, err := NewInfluxHistory(s.URL, "", "", s.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	site := twin.Entity{ID: "s1", Type: "AirQualityObserved", Category: wire.CategoryAir, Kind: twin.KindSite, Gateway: "gw-fi", Device: "aq1"}
	from, to := base, base.Add(10*time.Minute)
	type pt struct {
		min   int
		value float64
	}
	cases := []struct {
		name  string
		e     twin.Entity
		point string
		every time.Duration
		want  []pt
	}{
		{"5m windows", site, "no2", 5 * time.Minute, []pt{{0, 20}, {5, 50}}},
		{"1m windows", site, "no2", time.Minute, []pt{{0, 10}, {1, 20}, {2, 30}, {6, 50}}},
		{"one window", site, "no2", 10 * time.Minute, []pt{{0, 27.5}}},
		{"other gateway", twin.Entity{ID: "s2", Type: "AirQualityObserved", Category: wire.CategoryAir, Gateway: "gw-ba", Device: "aq1"}, "no2", 10 * time.Minute, []pt{{0, 1000}}},
		{"injection in device", twin.Entity{ID: "x", Type: "AirQualityObserved", Category: wire.CategoryAir, Gateway: "gw-fi", Device: "aq1' OR '1'='1"}, "no2", 10 * time.Minute, []pt{{0, 7}}},
		{"injection in gateway", twin.Entity{ID: "x", Type: "AirQualityObserved", Category: wire.CategoryAir, Gateway: `gw-fi' OR "device"='aq2`, Device: "aq1"}, "no2", 10 * time.Minute, nil},
		{"injection in point", site, `no2") FROM "air" WHERE time > 0 GROUP BY time(1h) --`, 10 * time.Minute, nil},
		{"quote in point", site, `we"ird`, 10 * time.Minute, []pt{{0, 3}}},
		{"unknown point", site, "o3", 5 * time.Minute, nil},
		{"unknown measurement", twin.Entity{ID: "x", Type: "WeatherObserved", Category: wire.CategoryWeather, Gateway: "gw-fi", Device: "aq1"}, "no2", 5 * time.Minute, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			unit, points, err := h.History(ctx, c.e, c.point, from, to, c.every)
			if err != nil {
				t.Fatalf("History: %v\nquery %s", err, h.Query(c.e, c.point, from, to, c.every))
			}
			if unit != "" {
				t.Errorf("unit %q", unit)
			}
			var got []pt
			for _, p := range points {
				got = append(got, pt{int(p.Time.Sub(base) / time.Minute), p.Value})
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("points %v, want %v", got, c.want)
			}
		})
	}

	t.Run("through the API", func(t *testing.T) {
		fake := newFakeReader(twin.Entity{ID: "urn:ngsi-ld:AirQualityObserved:fi-1", Type: "AirQualityObserved", Category: wire.CategoryAir, Kind: twin.KindSite,
			Gateway: "gw-fi", Device: "aq1", Attrs: map[string]twin.Attr{"no2": {Value: 50.0, Unit: "ug/m3"}}})
		srv, _ := newTestServer(t, fake, func(c *Config) { c.History = h })
		resp, body := get(t, srv.URL+"/api/v1/history?entity=urn:ngsi-ld:AirQualityObserved:fi-1&point=no2&from=2026-05-01T10:00:00Z&to=2026-05-01T10:10:00Z&every=5m", testToken, nil)
		want := `{"entity":"urn:ngsi-ld:AirQualityObserved:fi-1","point":"no2","unit":"ug/m3","every":"5m","points":[{"time":"2026-05-01T10:00:00Z","value":20},{"time":"2026-05-01T10:05:00Z","value":50}]}` + "\n"
		if resp.StatusCode != http.StatusOK || string(body) != want {
			t.Errorf("status %d body\n%s\nwant\n%s", resp.StatusCode, body, want)
		}
	})

	t.Run("database missing", func(t *testing.T) {
		bad, err := NewInfluxHistory(s.URL, "", "", "nodb/autogen", "")
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = bad.History(context.Background(), site, "no2", from, to, time.Minute)
		if err == nil || !strings.Contains(err.Error(), "database not found") {
			t.Errorf("error %v, want database not found", err)
		}
	})
	t.Run("server down", func(t *testing.T) {
		s.Stop()
		defer s.Start()
		_, _, err := h.History(context.Background(), site, "no2", from, to, time.Minute)
		if err == nil || !strings.Contains(err.Error(), "query influxdb for s1 no2") {
			t.Errorf("error %v", err)
		}
	})
}

// TestMeasurementFallback: a site's measurement is its category; an entity
// without one reads the configured fallback, as ingest writes it.
func TestMeasurementFallback(t *testing.T) {
	from, to := time.Unix(0, 1000), time.Unix(0, 2000)
	for _, c := range []struct {
		fallback string
		e        twin.Entity
		want     string
	}{
		{"", twin.Entity{Category: wire.CategoryNoise, Gateway: "g", Device: "d"}, `"noise"`},
		{"", twin.Entity{Gateway: "g", Device: "d"}, `"ponte"`},
		{"other", twin.Entity{Gateway: "g", Device: "d"}, `"other"`},
	} {
		h, err := NewInfluxHistory("http://127.0.0.1:8086", "", "", "ponte", c.fallback)
		if err != nil {
			t.Fatal(err)
		}
		if q := h.Query(c.e, "LAeq", from, to, time.Minute); !strings.Contains(q, "FROM "+c.want+" WHERE") {
			t.Errorf("fallback %q, %+v: %s, want FROM %s", c.fallback, c.e, q, c.want)
		}
	}
}
