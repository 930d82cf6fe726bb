package api

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// TestHistoryTimeRange: times outside what InfluxDB stores get 400 naming
// the parameter and the range; the bounds themselves are accepted.
func TestHistoryTimeRange(t *testing.T) {
	fh := &fakeHistory{}
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), func(c *Config) { c.History = fh })
	base := srv.URL + "/api/v1/history?entity=" + url.QueryEscape(siteAir.ID) + "&point=no2"
	const rangeText = "outside the time range InfluxDB stores, 1677-09-21T00:12:43.145224194Z to 2262-04-11T23:47:16.854775806Z"
	for _, tc := range []struct{ name, query, param string }{
		{"from a nanosecond before", "&from=1677-09-21T00:12:43.145224193Z&to=1677-09-21T01:00:00Z", "from"},
		{"to a nanosecond after", "&from=2262-04-11T23:00:00Z&to=2262-04-11T23:47:16.854775807Z", "to"},
		{"year 1", "&from=0001-01-01T00:00:00Z&to=2026-05-01T00:00:00Z&every=1000000h", "from"},
		{"year 9999", "&from=2026-05-01T00:00:00Z&to=9999-12-31T23:59:59Z&every=1000000h", "to"},
		{"default from before the range", "&to=1677-09-21T01:00:00Z", "from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := get(t, base+tc.query, testToken, nil)
			wantError(t, resp, body, http.StatusBadRequest, tc.param, rangeText)
		})
	}
	t.Run("the bounds", func(t *testing.T) {
		q := "&from=1677-09-21T00:12:43.145224194Z&to=1677-09-21T01:12:43.145224194Z&every=1h"
		if resp, body := get(t, base+q, testToken, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("lower bound: %d %s", resp.StatusCode, body)
		}
		if c := fh.calls[len(fh.calls)-1]; !c.from.Equal(minHistoryTime) || c.from.UnixNano() != -9223372036854775806 {
			t.Errorf("from %v (%d ns), want the lower bound", c.from, c.from.UnixNano())
		}
		q = "&from=2262-04-11T22:47:16.854775806Z&to=2262-04-11T23:47:16.854775806Z&every=1h"
		if resp, body := get(t, base+q, testToken, nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("upper bound: %d %s", resp.StatusCode, body)
		}
		if c := fh.calls[len(fh.calls)-1]; !c.to.Equal(maxHistoryTime) || c.to.Sub(c.from) != time.Hour {
			t.Errorf("to %v, want the upper bound", c.to)
		}
	})
}
