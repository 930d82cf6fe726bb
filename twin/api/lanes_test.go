package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/twin"
)

// lanesReader is the fake twin that knows a traffic site's lanes count
// vehicles per minute (as loop-counter-serial's lanes do): 60 per hour.
type lanesReader struct{ *fakeReader }

func (lanesReader) IntensityPerHour(id string) (float64, bool) {
	return 60, id == siteTraffic.ID
}

// TestTrafficIntensityHistory: a traffic site's intensity chart is the sum
// over its lanes, summed by real InfluxDB per window (a lane missing from
// a window adds nothing), in vehicles per hour, while its other lanes'
// measures and other devices stay out.
func TestTrafficIntensityHistory(t *testing.T) {
	s := influxtest.Start(t)
	base := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	ns := func(d time.Duration) int64 { return base.Add(d).UnixNano() }
	tags := fmt.Sprintf("traffic,device=%s,gateway=%s", siteTraffic.Device, siteTraffic.Gateway)
	writeLines(t, s,
		// Window 0: lane 1 means 12 (10, 14), lane 2 means 5, lane 3 means 3.
		fmt.Sprintf("%s lane1_intensity=10i,lane2_intensity=5i,lane1_speed=50 %d", tags, ns(0)),
		fmt.Sprintf("%s lane1_intensity=14i,lane3_intensity=3i %d", tags, ns(time.Minute)),
		// Window 5: only lane 2.
		fmt.Sprintf("%s lane2_intensity=7i,lane2_occupancy=20 %d", tags, ns(6*time.Minute)),
		// Another device.
		fmt.Sprintf("traffic,device=other,gateway=%s lane1_intensity=1000i %d", siteTraffic.Gateway, ns(time.Minute)),
	)
	h, err := NewInfluxHistory(s.URL, "", "", s.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	fake := newFakeReader(fixtureEntities()...)
	for name, reader := range map[string]twin.Reader{"twin knows the lanes' unit": lanesReader{fake}, "twin does not": fake} {
		t.Run(name, func(t *testing.T) {
			srv, _ := newTestServer(t, fake, func(c *Config) { c.History = h; c.Reader = reader })
			q := url.Values{"entity": {siteTraffic.ID}, "point": {"intensity"}, "every": {"5m"},
				"from": {base.Format(time.RFC3339)}, "to": {base.Add(10 * time.Minute).Format(time.RFC3339)}}
			resp, body := get(t, srv.URL+"/api/v1/history?"+q.Encode(), testToken, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var ans historyAnswer
			if err := json.Unmarshal(body, &ans); err != nil {
				t.Fatal(err)
			}
			factor, unit := 60.0, "1/h"
			if name == "twin does not" {
				factor, unit = 1, ""
			}
			want := []HistoryPoint{{base, (12 + 5 + 3) * factor}, {base.Add(5 * time.Minute), 7 * factor}}
			if ans.Unit != unit || len(ans.Points) != len(want) {
				t.Fatalf("unit %q, points %v; want %q, %v", ans.Unit, ans.Points, unit, want)
			}
			for i, p := range ans.Points {
				if !p.Time.Equal(want[i].Time) || p.Value != want[i].Value {
					t.Errorf("point %d: %v, want %v", i, p, want[i])
				}
			}
		})
	}
}
