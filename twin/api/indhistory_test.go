package api

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// TestIndicatorHistoryReal rebuilds an area's noise indicator from a real
// InfluxDB 1.8: hourly means per sound level meter, combined per hour as
// an energy mean; sensors of other areas stay out; the answer is cached
// until its time is up; bad parameters are 400 and 404.
func TestIndicatorHistoryReal(t *testing.T) {
	s := influxtest.Start(t)
	now := time.Date(2026, 5, 1, 12, 30, 0, 0, time.UTC)
	var clock atomic.Int64
	clock.Store(now.UnixNano())
	ns := func(d time.Duration) int64 { return now.Add(d).UnixNano() }
	writeLines(t, s,
		// Two meters in Firenze: hour 11:00 has 50 and 60 dB (means of 40/60 and 60).
		fmt.Sprintf("noise,device=nm1,gateway=gw-fi LAeq=40 %d", ns(-90*time.Minute)),
		fmt.Sprintf("noise,device=nm1,gateway=gw-fi LAeq=60 %d", ns(-80*time.Minute)),
		fmt.Sprintf("noise,device=nm2,gateway=gw-fi LAeq=60 %d", ns(-85*time.Minute)),
		// Hour 12:00: nm1 alone, 70 dB.
		fmt.Sprintf("noise,device=nm1,gateway=gw-fi LAeq=70 %d", ns(-10*time.Minute)),
		// Two days ago: outside the 24h window, inside 7d.
		fmt.Sprintf("noise,device=nm1,gateway=gw-fi LAeq=30 %d", ns(-48*time.Hour)),
		// A meter in Fiesole, which must not leak into Firenze.
		fmt.Sprintf("noise,device=nm9,gateway=gw-fi LAeq=99 %d", ns(-80*time.Minute)),
	)
	h, err := NewInfluxHistory(s.URL, "", "", s.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	site := func(dev, area string) twin.Entity {
		return twin.Entity{ID: "urn:" + dev, Kind: twin.KindSite, Type: "NoiseLevelObserved", Category: wire.CategoryNoise, Gateway: "gw-fi", Device: dev, Area: area}
	}
	fake := newFakeReader(
		twin.Entity{ID: "048017", Kind: twin.KindArea, Type: "AdministrativeArea", Name: "Firenze"},
		twin.Entity{ID: "048015", Kind: twin.KindArea, Type: "AdministrativeArea", Name: "Fiesole"},
		site("nm1", "048017"), site("nm2", "048017"), site("nm9", "048015"),
	)
	srv, _ := newTestServer(t, fake, func(c *Config) {
		c.History = h
		c.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	})
	type answer struct {
		indicatorHistory
	}
	fetch := func(query string) (*http.Response, answer) {
		t.Helper()
		resp, body := get(t, srv.URL+"/api/v1/indicators/history?"+query, "", nil)
		var a answer
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal(body, &a); err != nil {
				t.Fatalf("%s: %v", body, err)
			}
		}
		return resp, a
	}
	resp, a := fetch("area=048017&indicator=noise_laeq_mean&window=24h")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" || resp.Header.Get("Link") == "" {
		t.Fatalf("status %d, headers %v", resp.StatusCode, resp.Header)
	}
	h11 := time.Date(2026, 5, 1, 11, 0, 0, 0, time.UTC)
	want := []HistoryPoint{{h11, round6(10 * math.Log10((math.Pow(10, 5.0)+math.Pow(10, 6.0))/2))}, {h11.Add(time.Hour), 70}}
	if a.Sensors != 2 || a.Unit != "dB" || a.Every != "1h" || a.Licence.Name == "" || len(a.Points) != len(want) {
		t.Fatalf("answer %+v, want points %v", a, want)
	}
	for i, p := range a.Points {
		if !p.Time.Equal(want[i].Time) || math.Abs(p.Value-want[i].Value) > 1e-6 {
			t.Errorf("point %d = %+v, want %+v", i, p, want[i])
		}
	}
	if _, a := fetch("area=048017&indicator=noise_laeq_mean&window=7d"); len(a.Points) != 3 || a.Points[0].Value != 30 {
		t.Errorf("7d: %+v, want the reading of two days ago first", a.Points)
	}

	// A new reading within the cache's time is not seen; after it, it is.
	writeLines(t, s, fmt.Sprintf("noise,device=nm2,gateway=gw-fi LAeq=50 %d", ns(-5*time.Minute)))
	clock.Store(now.Add(time.Minute).UnixNano())
	if _, a := fetch("area=048017&indicator=noise_laeq_mean&window=24h"); a.Points[1].Value != 70 {
		t.Errorf("within the cache's time: %+v, want the cached 70", a.Points)
	}
	clock.Store(now.Add(historyCacheTTL + time.Second).UnixNano())
	if _, a := fetch("area=048017&indicator=noise_laeq_mean&window=24h"); len(a.Points) != 2 || a.Points[1].Value != round6(10*math.Log10((1e7+1e5)/2)) {
		t.Errorf("after the cache's time: %+v", a.Points)
	}

	for _, c := range []struct {
		query  string
		status int
		param  string
	}{
		{"area=048017&indicator=noise_laeq_mean&window=30d", http.StatusBadRequest, "window"},
		{"area=048017&indicator=air_quality_band_worst", http.StatusBadRequest, "indicator"},
		{"area=nowhere&indicator=noise_laeq_mean", http.StatusNotFound, "area"},
		{"area=urn:nm1&indicator=noise_laeq_mean", http.StatusNotFound, "area"},
	} {
		resp, body := get(t, srv.URL+"/api/v1/indicators/history?"+c.query, "", nil)
		wantError(t, resp, body, c.status, c.param, "")
	}
}
