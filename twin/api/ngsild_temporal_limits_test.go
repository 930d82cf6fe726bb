package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
	"github.com/ponte-city/ponte/wire"
)

// weatherStations are n weather sites of Firenze with attrs numeric
// attributes each: the shape of the review's worst case (100 entities
// of about 20 numeric attributes).
func weatherStations(n, attrs int) []twin.Entity {
	var es []twin.Entity
	for i := range n {
		at := map[string]twin.Attr{}
		for j := range attrs {
			at[fmt.Sprintf("m%02d", j)] = twin.Attr{Value: float64(j), ObservedAt: t0}
		}
		es = append(es, twin.Entity{ID: fmt.Sprintf("urn:ngsi-ld:WeatherObserved:fi-%03d", i), Type: "WeatherObserved",
			Category: wire.CategoryWeather, Kind: twin.KindSite, Area: "048017", Gateway: "gw-fi", Device: fmt.Sprintf("ws%03d", i),
			Attrs: at, Updated: t0})
	}
	return es
}

// TestNGSITemporalBudget: a temporal request whose worst case is above
// the instance budget is refused 400 before the store is asked, with the
// figures and what narrows it; one within it is served.
func TestNGSITemporalBudget(t *testing.T) {
	fh := &fakeHistory{points: []HistoryPoint{{Time: t0, Value: 1}}}
	srv, _ := newTestServer(t, newFakeReader(weatherStations(100, 20)...), func(c *Config) {
		c.History = fh
		c.Now = func() time.Time { return t0.Add(time.Hour) }
	})
	calls := func() int {
		fh.mu.Lock()
		defer fh.mu.Unlock()
		n := len(fh.calls)
		fh.calls = nil
		return n
	}
	query := srv.URL + "/ngsi-ld/v1/temporal/entities?type=WeatherObserved&limit=100&"
	single := srv.URL + "/ngsi-ld/v1/temporal/entities/" + url.PathEscape("urn:ngsi-ld:WeatherObserved:fi-000") + "?"
	refused := []struct {
		name, url, param, worst string
	}{
		// 100 entities x 20 attributes x 9600 windows (the default day
		// in windows of 9 s): 19.2M, the review's case.
		{"query, the whole day", query, "limit", "19200000 attribute instances (100 entities, 2000 attributes in all, up to 9600 instances each"},
		{"query, lastN 51", query + "lastN=51", "limit", "102000 attribute instances"},
		{"single, a week", single + "timerel=before&timeAt=2026-05-01T09:00:00Z", "attrs", "198300 attribute instances (1 entities, 20 attributes in all, up to 9915 instances each over 168h0m0s in windows of 1m1s"},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			calls()
			resp, body := get(t, c.url, testToken, nil)
			wantProblem(t, resp, body, http.StatusBadRequest, ngsild.ErrBadRequestData, c.param)
			for _, want := range []string{c.worst, "budget of 100000", "limit", "attrs", "lastN", "timerel"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("problem lacks %q: %s", want, body)
				}
			}
			if n := calls(); n != 0 {
				t.Errorf("the store was asked %d times for a refused request", n)
			}
		})
	}
	served := []struct {
		name, url string
		calls     int
	}{
		{"query, lastN 50: exactly the budget", query + "lastN=50", 2000},
		{"query, ten entities, one attribute, the whole day", srv.URL + "/ngsi-ld/v1/temporal/entities?type=WeatherObserved&attrs=m00&limit=10", 10},
		{"single, the whole day", single + "attrs=m00,m01", 2},
	}
	for _, c := range served {
		t.Run(c.name, func(t *testing.T) {
			calls()
			resp, body := get(t, c.url, testToken, nil)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			if n := calls(); n != c.calls {
				t.Errorf("%d store calls, want %d", n, c.calls)
			}
		})
	}
	t.Run("Config.Temporal.MaxInstances", func(t *testing.T) {
		srv, _ := newTestServer(t, newFakeReader(weatherStations(2, 3)...), func(c *Config) {
			c.History = fh
			c.Temporal.MaxInstances = 60
		})
		base := srv.URL + "/ngsi-ld/v1/temporal/entities?type=WeatherObserved&"
		if resp, body := get(t, base+"lastN=10", testToken, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("2 x 3 x 10 = 60: status %d: %s", resp.StatusCode, body)
		}
		resp, body := get(t, base+"lastN=11", testToken, nil)
		wantProblem(t, resp, body, http.StatusBadRequest, ngsild.ErrBadRequestData, "limit")
		if !strings.Contains(string(body), "66 attribute instances") || !strings.Contains(string(body), "budget of 60") {
			t.Errorf("problem %s", body)
		}
	})
}

// TestTemporalPerAttr: the worst case of one attribute is lastN, else
// the windows of the range, never more than MaxHistoryPoints.
func TestTemporalPerAttr(t *testing.T) {
	for _, c := range []struct {
		span  time.Duration
		lastN int
		want  int
	}{
		{time.Millisecond, 0, 1},
		{10 * time.Second, 0, 10},
		{24 * time.Hour, 0, 9600},
		{TemporalSpan, 0, 9915}, // windows of 61 s
		{TemporalSpan, 7, 7},
	} {
		r := temporalRequest{from: t0, to: t0.Add(c.span), every: temporalWindow(c.span, DefaultMaxHistoryPoints), lastN: c.lastN}
		if got := r.perAttr(); got != c.want {
			t.Errorf("span %v lastN %d: %d, want %d", c.span, c.lastN, got, c.want)
		}
	}
}

// TestTemporalLimitsConfig: negative limits are refused naming the
// field; zero takes the default.
func TestTemporalLimitsConfig(t *testing.T) {
	c := Config{Reader: newFakeReader(), Tokens: []string{testToken}, Temporal: TemporalLimits{MaxInstances: -1, MaxQueries: -2}}
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "config.Temporal.MaxInstances: -1") || !strings.Contains(err.Error(), "config.Temporal.MaxQueries: -2") {
		t.Errorf("error %v", err)
	}
	if l := (TemporalLimits{}).withDefaults(); l.MaxInstances != DefaultTemporalMaxInstances || l.MaxQueries != DefaultTemporalMaxQueries {
		t.Errorf("defaults %+v", l)
	}
}

// blockingHistory answers once released, telling entered (buffered) of
// each call.
type blockingHistory struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blockingHistory) History(ctx context.Context, e twin.Entity, point string, from, to time.Time, every time.Duration) (string, []HistoryPoint, error) {
	b.entered <- struct{}{}
	select {
	case <-b.release:
	case <-ctx.Done():
		return "", nil, ctx.Err()
	}
	return "", []HistoryPoint{{Time: t0, Value: 1}}, nil
}

// TestNGSITemporalGate: beyond MaxQueries running temporal requests, on
// either route, the next one is answered 503 with Retry-After and a
// ProblemDetails at once; when one ends, the next is served.
func TestNGSITemporalGate(t *testing.T) {
	bh := &blockingHistory{entered: make(chan struct{}, 8), release: make(chan struct{})}
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), func(c *Config) {
		c.History = bh
		c.Now = func() time.Time { return t0.Add(time.Hour) }
		c.Temporal.MaxQueries = 2
	})
	single := srv.URL + "/ngsi-ld/v1/temporal/entities/" + url.PathEscape(siteAir.ID) + "?attrs=no2"
	query := srv.URL + "/ngsi-ld/v1/temporal/entities?type=AirQualityObserved&attrs=no2"
	var wg sync.WaitGroup
	status := make(chan int, 3)
	start := func(u string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			req.Header.Set("Authorization", "Bearer "+testToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				status <- 0
				return
			}
			resp.Body.Close()
			status <- resp.StatusCode
		}()
	}
	start(single)
	start(query)
	<-bh.entered // both are inside the store: the gate is full
	<-bh.entered
	for _, u := range []string{single, query} {
		resp, body := get(t, u, testToken, nil)
		var p struct {
			Type, Detail string
			Status       int
		}
		if err := json.Unmarshal(body, &p); err != nil || resp.StatusCode != http.StatusServiceUnavailable || p.Status != http.StatusServiceUnavailable ||
			p.Type != ngsild.ErrInternalError || !strings.Contains(p.Detail, "2 temporal queries are running") || resp.Header.Get("Content-Type") != mediaJSON {
			t.Errorf("a third request: status %d: %s", resp.StatusCode, body)
		}
	}
	// Unauthenticated requests are refused before the gate, not by it.
	if resp, _ := get(t, single, "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no token: status %d", resp.StatusCode)
	}
	resp, _ := get(t, single, testToken, nil)
	if resp.Header.Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	close(bh.release)
	wg.Wait()
	for range 2 {
		if s := <-status; s != http.StatusOK {
			t.Errorf("a request inside the gate: status %d", s)
		}
	}
	if resp, body := get(t, single, testToken, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("after the gate emptied: status %d: %s", resp.StatusCode, body)
	}
}

// lastNHistory is a LastNQuerier that records which of its methods the
// API called.
type lastNHistory struct {
	mu       sync.Mutex
	full, ns []int
}

func (l *lastNHistory) History(ctx context.Context, e twin.Entity, point string, from, to time.Time, every time.Duration) (string, []HistoryPoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.full = append(l.full, 0)
	return "", []HistoryPoint{{Time: t0, Value: 1}, {Time: t0.Add(time.Minute), Value: 2}}, nil
}

func (l *lastNHistory) HistoryLastN(ctx context.Context, e twin.Entity, point string, from, to time.Time, every time.Duration, n int) (string, []HistoryPoint, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ns = append(l.ns, n)
	// More than asked, to see that the API keeps n only.
	return "", []HistoryPoint{{Time: t0.Add(2 * time.Minute), Value: 9}, {Time: t0.Add(time.Minute), Value: 8}, {Time: t0, Value: 7}}, nil
}

// TestNGSITemporalLastNPushDown: with lastN, a LastNQuerier is asked for
// the newest n windows (and not for the whole range); its answer, newest
// first, is kept as it is, cut to n. Without lastN, History is asked.
func TestNGSITemporalLastNPushDown(t *testing.T) {
	lh := &lastNHistory{}
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), func(c *Config) {
		c.History = lh
		c.Now = func() time.Time { return t0.Add(time.Hour) }
	})
	base := srv.URL + "/ngsi-ld/v1/temporal/entities/" + url.PathEscape(siteAir.ID) + "?attrs=no2&options=temporalValues"
	_, body := get(t, base+"&lastN=2", testToken, nil)
	_, no2 := temporalList(t, []byte("["+string(body)+"]"))
	if v := no2[siteAir.ID]; len(v) != 2 || v[0][0] != 9.0 || v[1][0] != 8.0 {
		t.Errorf("lastN=2: %s", body)
	}
	if len(lh.full) != 0 || len(lh.ns) != 1 || lh.ns[0] != 2 {
		t.Errorf("History called %d times, HistoryLastN with %v; want HistoryLastN(2) only", len(lh.full), lh.ns)
	}
	_, body = get(t, base, testToken, nil)
	if _, no2 := temporalList(t, []byte("["+string(body)+"]")); len(no2[siteAir.ID]) != 2 || len(lh.full) != 1 {
		t.Errorf("without lastN: History called %d times: %s", len(lh.full), body)
	}
}
