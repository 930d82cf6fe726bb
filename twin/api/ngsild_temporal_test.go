package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// TestNGSITemporal: the ranges timerel asks for, the window that bounds
// the points, lastN, attrs and both representations, over a fake store.
func TestNGSITemporal(t *testing.T) {
	fh := &fakeHistory{points: []HistoryPoint{{Time: t0, Value: 40}, {Time: t0.Add(time.Minute), Value: 42.5}, {Time: t0.Add(2 * time.Minute), Value: 45}}}
	now := t0.Add(time.Hour)
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), func(c *Config) {
		c.History = fh
		c.Now = func() time.Time { return now }
	})
	base := srv.URL + "/ngsi-ld/v1/temporal/entities/" + url.PathEscape(siteAir.ID) + "?"
	last := func() historyCall {
		fh.mu.Lock()
		defer fh.mu.Unlock()
		return fh.calls[len(fh.calls)-1]
	}
	at := "2026-05-01T09:00:00Z"
	at9 := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	ranges := []struct {
		name, query string
		from, to    time.Time
		every       time.Duration
	}{
		{"default: the last day", "", now.Add(-24 * time.Hour), now, 9 * time.Second},
		{"before", "timerel=before&timeAt=" + at, at9.Add(-TemporalSpan), at9, 61 * time.Second},
		{"after", "timerel=after&timeAt=" + at, at9, now, time.Second},
		{"between", "timerel=between&timeAt=" + at + "&endTimeAt=2026-05-01T09:30:00%2B00:00", at9, at9.Add(30 * time.Minute), time.Second},
	}
	for _, c := range ranges {
		t.Run(c.name, func(t *testing.T) {
			resp, body := get(t, base+c.query, testToken, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			call := last()
			if call.point != "no2" || !call.from.Equal(c.from) || !call.to.Equal(c.to) || call.every != c.every || !call.hasDeadline {
				t.Errorf("call %+v, want no2 from %v to %v every %v", call, c.from, c.to, c.every)
			}
			if n := call.to.Sub(call.from) / call.every; n > DefaultMaxHistoryPoints {
				t.Errorf("%d windows, more than MaxHistoryPoints", n)
			}
		})
	}
	t.Run("normalized", func(t *testing.T) {
		resp, body := get(t, base, testToken, nil)
		var e struct {
			ID, Type string
			No2      []ngsild.Property
			Band     any
		}
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatal(err)
		}
		if e.ID != siteAir.ID || len(e.No2) != 3 || e.No2[1].Value != 42.5 || e.No2[1].ObservedAt != "2026-05-01T10:01:00.000Z" || e.No2[1].UnitCode != "GQ" || e.No2[1].Type != "Property" {
			t.Errorf("answer %s", body)
		}
		if e.Band != nil {
			t.Errorf("the string attribute band has a history: %s", body)
		}
		if resp.Header.Get("Link") == "" {
			t.Error("no Link header")
		}
	})
	// lastN: the last two instances, newest first (the specification
	// orders lastN's instances by descending timestamps).
	t.Run("temporalValues and lastN", func(t *testing.T) {
		_, body := get(t, base+"options=temporalValues&lastN=2&attrs=no2", testToken, nil)
		var e struct {
			No2 struct {
				Type   string
				Values [][2]any
			}
		}
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatal(err)
		}
		v := e.No2.Values
		if e.No2.Type != "Property" || len(v) != 2 || v[0][0] != 45.0 || v[0][1] != "2026-05-01T10:02:00.000Z" || v[1][0] != 42.5 {
			t.Errorf("answer %s", body)
		}
	})
	t.Run("entity without series", func(t *testing.T) {
		_, body := get(t, srv.URL+"/ngsi-ld/v1/temporal/entities/048017", testToken, nil)
		if string(body) != `{"id":"048017","type":"AdministrativeArea"}`+"\n" {
			t.Errorf("area: %s", body)
		}
	})
	problems := []problemCase{
		{"timerel unknown", "timerel=during&timeAt=" + at, 400, ngsild.ErrBadRequestData, "timerel"},
		{"timeAt missing", "timerel=before", 400, ngsild.ErrInvalidRequest, "timeAt"},
		{"timeAt without timerel", "timeAt=" + at, 400, ngsild.ErrInvalidRequest, "timerel"},
		{"timeAt not a time", "timerel=before&timeAt=yesterday", 400, ngsild.ErrBadRequestData, "timeAt"},
		{"timeAt beyond InfluxDB", "timerel=before&timeAt=2300-01-01T00:00:00Z", 400, ngsild.ErrBadRequestData, "timeAt"},
		{"endTimeAt missing", "timerel=between&timeAt=" + at, 400, ngsild.ErrInvalidRequest, "endTimeAt"},
		{"endTimeAt before timeAt", "timerel=between&timeAt=" + at + "&endTimeAt=2026-05-01T08:00:00Z", 400, ngsild.ErrBadRequestData, "endTimeAt"},
		{"between too long", "timerel=between&timeAt=2026-01-01T00:00:00Z&endTimeAt=" + at, 400, ngsild.ErrBadRequestData, "endTimeAt"},
		{"after too long ago", "timerel=after&timeAt=2026-01-01T00:00:00Z", 400, ngsild.ErrBadRequestData, "timeAt"},
		{"endTimeAt with before", "timerel=before&timeAt=" + at + "&endTimeAt=" + at, 400, ngsild.ErrInvalidRequest, "endTimeAt"},
		{"lastN zero", "lastN=0", 400, ngsild.ErrBadRequestData, "lastN"},
		{"lastN huge", "lastN=99999999999999999999", 400, ngsild.ErrBadRequestData, "lastN"},
		{"non-numeric attribute", "attrs=band", 400, ngsild.ErrBadRequestData, "attrs"},
		{"bad attrs", "attrs=no2,,x", 400, ngsild.ErrBadRequestData, "attrs"},
		{"options", "options=keyValues", 400, ngsild.ErrBadRequestData, "options"},
		{"timeproperty", "timeproperty=modifiedAt", 400, ngsild.ErrBadRequestData, "timeproperty"},
		{"unknown parameter", "aggrMethods=avg", 400, ngsild.ErrBadRequestData, "aggrMethods"},
	}
	runProblems(t, base, problems)
	t.Run("unknown entity", func(t *testing.T) {
		resp, body := get(t, srv.URL+"/ngsi-ld/v1/temporal/entities/urn:x:nope", testToken, nil)
		wantProblem(t, resp, body, http.StatusNotFound, ngsild.ErrResourceNotFound, "id")
	})
	t.Run("store fails", func(t *testing.T) {
		fh.mu.Lock()
		fh.err = errors.New("connection refused")
		fh.mu.Unlock()
		defer func() { fh.mu.Lock(); fh.err = nil; fh.mu.Unlock() }()
		resp, body := get(t, base, testToken, nil)
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "connection refused") || !strings.Contains(string(body), ngsild.ErrInternalError) {
			t.Errorf("status %d: %s", resp.StatusCode, body)
		}
	})
}

// TestNGSITemporalNoStore: without InfluxDB the temporal API is 501 and
// says why.
func TestNGSITemporalNoStore(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), nil)
	resp, body := get(t, srv.URL+"/ngsi-ld/v1/temporal/entities/"+url.PathEscape(siteAir.ID), testToken, nil)
	if resp.StatusCode != http.StatusNotImplemented || !strings.Contains(string(body), ngsild.ErrOperationNotSupported) || !strings.Contains(string(body), "no time-series store") {
		t.Errorf("status %d: %s", resp.StatusCode, body)
	}
}

// TestTemporalWindow: the window never makes more than maxPoints windows
// and is a whole number of seconds.
func TestTemporalWindow(t *testing.T) {
	for _, span := range []time.Duration{time.Millisecond, time.Second, 10000 * time.Second, 10001 * time.Second, 24 * time.Hour, TemporalSpan} {
		for _, max := range []int{1, 7, 10000} {
			w := temporalWindow(span, max)
			if w < time.Second || w%time.Second != 0 || span/w > time.Duration(max) {
				t.Errorf("span %v max %d: window %v", span, max, w)
			}
		}
	}
}

// TestNGSITemporalInflux reads the temporal evolution of a site from a
// real InfluxDB 1.8: readings written as ingest writes them come back as
// instances, within the range, lastN applied.
func TestNGSITemporalInflux(t *testing.T) {
	s := influxtest.Start(t)
	h, err := NewInfluxHistory(s.URL, "", "", s.Bucket, "")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for i := 0; i < 10; i++ {
		ts := t0.Add(time.Duration(i) * 10 * time.Second)
		lines = append(lines, fmt.Sprintf("air,gateway=gw-fi,device=aq1 no2=%d %d", 40+i, ts.UnixNano()))
	}
	// Another device's series and a reading outside the range.
	lines = append(lines, fmt.Sprintf("air,gateway=gw-fi,device=aq2 no2=99 %d", t0.Add(5*time.Second).UnixNano()),
		fmt.Sprintf("air,gateway=gw-fi,device=aq1 no2=77 %d", t0.Add(-time.Hour).UnixNano()))
	writeLines(t, s, lines...)

	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), func(c *Config) { c.History = h })
	u := srv.URL + "/ngsi-ld/v1/temporal/entities/" + url.PathEscape(siteAir.ID) +
		"?timerel=between&timeAt=2026-05-01T10:00:00Z&endTimeAt=2026-05-01T10:05:00Z&options=temporalValues"
	resp, body := get(t, u, testToken, nil)
	var e struct {
		No2 struct{ Values [][2]any }
	}
	if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	v := e.No2.Values
	if len(v) != 10 || v[0][0] != 40.0 || v[0][1] != "2026-05-01T10:00:00.000Z" || v[9][0] != 49.0 || v[9][1] != "2026-05-01T10:01:30.000Z" {
		t.Errorf("values %v", v)
	}
	_, body = get(t, u+"&lastN=3", testToken, nil)
	e.No2.Values = nil
	_ = json.Unmarshal(body, &e)
	if v := e.No2.Values; len(v) != 3 || v[0][0] != 49.0 || v[1][0] != 48.0 || v[2][0] != 47.0 {
		t.Errorf("lastN=3, want 49, 48, 47 (newest first): %s", body)
	}

	// lastN is InfluxDB's to apply: HistoryLastN returns what the store
	// answered, uncut, and it is the newest three windows with data (the
	// range has 300 windows of 1 s, 290 of them empty).
	from, to := t0, t0.Add(5*time.Minute)
	_, points, err := h.HistoryLastN(context.Background(), siteAir, "no2", from, to, time.Second, 3)
	if err != nil || len(points) != 3 || points[0].Value != 49 || !points[0].Time.Equal(t0.Add(90*time.Second)) || points[2].Value != 47 {
		t.Errorf("HistoryLastN 3: %v %v", points, err)
	}
	// A boolean point: the share of true readings in the newest two
	// windows of 20 s (t0+80s true and 90s false: 0.5; 60s and 70s true: 1).
	var bools []string
	for i, v := range []bool{true, true, false, true, false, true, true, true, true, false} {
		bools = append(bools, fmt.Sprintf("air,gateway=gw-fi,device=aq1 door=%t %d", v, t0.Add(time.Duration(i)*10*time.Second).UnixNano()))
	}
	writeLines(t, s, bools...)
	unit, points, err := h.HistoryLastN(context.Background(), siteAir, "door", from, to, 20*time.Second, 2)
	if err != nil || unit != "1" || len(points) != 2 || !points[0].Time.Equal(t0.Add(80*time.Second)) || points[0].Value != 0.5 ||
		!points[1].Time.Equal(t0.Add(60*time.Second)) || points[1].Value != 1 {
		t.Errorf("boolean HistoryLastN 2: unit %q %v %v", unit, points, err)
	}
	// Through the API, with lastN the store is asked for the newest
	// windows, never the whole range.
	rec := &recordingInflux{InfluxHistory: h}
	srv, _ = newTestServer(t, newFakeReader(fixtureEntities()...), func(c *Config) { c.History = rec })
	u = srv.URL + "/ngsi-ld/v1/temporal/entities/" + url.PathEscape(siteAir.ID) +
		"?timerel=between&timeAt=2026-05-01T10:00:00Z&endTimeAt=2026-05-01T10:05:00Z&options=temporalValues&attrs=no2&lastN=2"
	_, body = get(t, u, testToken, nil)
	e.No2.Values = nil
	_ = json.Unmarshal(body, &e)
	if v := e.No2.Values; len(v) != 2 || v[0][0] != 49.0 || v[1][0] != 48.0 || rec.full.Load() != 0 || rec.lastN.Load() != 1 {
		t.Errorf("lastN=2 through the API: History %d calls, HistoryLastN %d: %s", rec.full.Load(), rec.lastN.Load(), body)
	}
}

// recordingInflux is an InfluxHistory that counts its calls.
type recordingInflux struct {
	*InfluxHistory
	full, lastN atomic.Int64
}

func (r *recordingInflux) History(ctx context.Context, e twin.Entity, point string, from, to time.Time, every time.Duration) (string, []HistoryPoint, error) {
	r.full.Add(1)
	return r.InfluxHistory.History(ctx, e, point, from, to, every)
}

func (r *recordingInflux) HistoryLastN(ctx context.Context, e twin.Entity, point string, from, to time.Time, every time.Duration, n int) (string, []HistoryPoint, error) {
	r.lastN.Add(1)
	return r.InfluxHistory.HistoryLastN(ctx, e, point, from, to, every, n)
}

// TestInfluxQueryLastN: with lastN, each statement asks InfluxDB for the
// newest n windows, after GROUP BY and fill(none).
func TestInfluxQueryLastN(t *testing.T) {
	h, err := NewInfluxHistory("http://127.0.0.1:8086", "", "", "ponte/autogen", "")
	if err != nil {
		t.Fatal(err)
	}
	from, to := time.Unix(0, 1000), time.Unix(0, 2000)
	if q := h.query(siteAir, "no2", from, to, time.Minute, 5); !strings.HasSuffix(q, " GROUP BY time(1m) fill(none) ORDER BY time DESC LIMIT 5") {
		t.Errorf("query %s", q)
	}
	if q := h.booleanQuery(siteAir, "door", from, to, time.Minute, 5); strings.Count(q, "fill(none) ORDER BY time DESC LIMIT 5") != 2 {
		t.Errorf("boolean query %s", q)
	}
	if q := h.Query(siteAir, "no2", from, to, time.Minute); strings.Contains(q, "LIMIT") || strings.Contains(q, "ORDER") {
		t.Errorf("without lastN: %s", q)
	}
	if _, _, err := h.HistoryLastN(context.Background(), siteAir, "no2", from, to, time.Minute, 0); err == nil {
		t.Error("HistoryLastN 0: no error")
	}
}
