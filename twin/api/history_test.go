package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin"
)

// fakeHistory records its calls and answers with points or err.
type fakeHistory struct {
	mu     sync.Mutex
	calls  []historyCall
	unit   string
	points []HistoryPoint
	err    error
}

type historyCall struct {
	entity      string
	point       string
	from, to    time.Time
	every       time.Duration
	hasDeadline bool
}

func (f *fakeHistory) History(ctx context.Context, e twin.Entity, point string, from, to time.Time, every time.Duration) (string, []HistoryPoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, dl := ctx.Deadline()
	f.calls = append(f.calls, historyCall{e.ID, point, from, to, every, dl})
	return f.unit, f.points, f.err
}

func TestHistory(t *testing.T) {
	fake := newFakeReader(fixtureEntities()...)
	fh := &fakeHistory{points: []HistoryPoint{{Time: t0, Value: 40}, {Time: t0.Add(5 * time.Minute), Value: 42.5}}}
	now := t0.Add(time.Hour)
	srv, _ := newTestServer(t, fake, func(c *Config) {
		c.History = fh
		c.Now = func() time.Time { return now }
	})
	base := srv.URL + "/api/v1/history?entity=" + url.QueryEscape(siteAir.ID) + "&point=no2"

	t.Run("defaults", func(t *testing.T) {
		resp, body := get(t, base, testToken, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		var ans struct {
			Entity, Point, Unit, Every string
			Points                     []HistoryPoint
		}
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Fatal(err)
		}
		if ans.Entity != siteAir.ID || ans.Point != "no2" || ans.Unit != "ug/m3" || ans.Every != "5m" || len(ans.Points) != 2 || ans.Points[1].Value != 42.5 || !ans.Points[0].Time.Equal(t0) {
			t.Errorf("answer %s", body)
		}
		c := fh.calls[len(fh.calls)-1]
		if !c.to.Equal(now) || !c.from.Equal(now.Add(-24*time.Hour)) || c.every != 5*time.Minute || !c.hasDeadline {
			t.Errorf("call %+v", c)
		}
	})
	t.Run("range and every", func(t *testing.T) {
		resp, body := get(t, base+"&from=2026-05-01T08:00:00Z&to=2026-05-01T09:30:00%2B01:00&every=1h30m", testToken, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		c := fh.calls[len(fh.calls)-1]
		if !c.from.Equal(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)) || !c.to.Equal(time.Date(2026, 5, 1, 8, 30, 0, 0, time.UTC)) || c.every != 90*time.Minute {
			t.Errorf("call %+v", c)
		}
		var ans map[string]any
		_ = json.Unmarshal(body, &ans)
		if ans["every"] != "1h30m" {
			t.Errorf("every %v", ans["every"])
		}
	})
	t.Run("attribute read from a renamed point", func(t *testing.T) {
		// The map asks for relativeHumidity (a ratio); InfluxDB holds the
		// station's humidity point (in %).
		resp, body := get(t, srv.URL+"/api/v1/history?entity="+url.QueryEscape(siteAir.ID)+"&point=relativeHumidity", testToken, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		if c := fh.calls[len(fh.calls)-1]; c.point != "humidity" {
			t.Errorf("queried field %q, want humidity", c.point)
		}
		var ans map[string]any
		_ = json.Unmarshal(body, &ans)
		if ans["point"] != "relativeHumidity" {
			t.Errorf("answer names %v, want the attribute asked for", ans["point"])
		}
	})
	t.Run("unknown entity", func(t *testing.T) {
		resp, body := get(t, srv.URL+"/api/v1/history?entity=nope&point=no2", testToken, nil)
		wantError(t, resp, body, http.StatusNotFound, "entity", `no entity "nope"`)
	})
	t.Run("area has no series", func(t *testing.T) {
		resp, body := get(t, srv.URL+"/api/v1/history?entity=048017&point=no2", testToken, nil)
		wantError(t, resp, body, http.StatusBadRequest, "entity", "(kind area) has no time series")
	})
	t.Run("store fails", func(t *testing.T) {
		fh.mu.Lock()
		fh.err = errors.New("connection refused")
		fh.mu.Unlock()
		defer func() { fh.mu.Lock(); fh.err = nil; fh.mu.Unlock() }()
		resp, body := get(t, base, testToken, nil)
		wantError(t, resp, body, http.StatusBadGateway, "", "connection refused")
	})
	t.Run("empty is an array", func(t *testing.T) {
		fh.mu.Lock()
		saved := fh.points
		fh.points = nil
		fh.mu.Unlock()
		defer func() { fh.mu.Lock(); fh.points = saved; fh.mu.Unlock() }()
		_, body := get(t, base, testToken, nil)
		var ans map[string]any
		if err := json.Unmarshal(body, &ans); err != nil {
			t.Fatal(err)
		}
		if p, ok := ans["points"].([]any); !ok || len(p) != 0 {
			t.Errorf("points %v, want []", ans["points"])
		}
	})
}

func TestHistoryNotConfigured(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), nil)
	resp, body := get(t, srv.URL+"/api/v1/history?entity="+url.QueryEscape(siteAir.ID)+"&point=no2", testToken, nil)
	wantError(t, resp, body, http.StatusNotImplemented, "", "no time-series store")
}
