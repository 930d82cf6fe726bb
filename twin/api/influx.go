package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/internal/influxschema"
	"github.com/ponte-city/ponte/twin"
)

// InfluxHistory reads history from InfluxDB 1.8 through InfluxQL on
// /query. It is safe for concurrent use.
//
// The query, for a site of gateway G and device D, is
//
//	SELECT mean("<point>") FROM "<db>"."<rp>"."<measurement>"
//	WHERE "gateway"='G' AND "device"='D' AND time >= <from> AND time < <to>
//	GROUP BY time(<every>) fill(none)
//
// with every identifier double-quoted and every string single-quoted, and
// backslash, both quotes and newline escaped in both, so no name can end
// its quotes early. Times are nanosecond integers.
type InfluxHistory struct {
	base     *url.URL
	token    string
	db, rp   string
	fallback string
	client   *http.Client
}

// NewInfluxHistory returns a HistoryQuerier for InfluxDB 1.8 at baseURL.
// bucket is "database/retention-policy" or "database" (the v2
// compatibility bucket ingest writes to); token, if not empty, is sent as
// "Authorization: Token <token>" (1.8 takes "username:password" there).
// org is unused by 1.8 and kept for the day a 2.x querier shares this
// signature. A site's measurement is its category, as ingest writes it
// (internal/influxschema), or fallback (ingest's influx.measurement; empty:
// influxschema.DefaultMeasurement) for an entity without one.
func NewInfluxHistory(baseURL, token, org, bucket, fallback string) (*InfluxHistory, error) {
	_ = org
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("influx history: url %q: want http(s)://host:port", baseURL)
	}
	db, rp, _ := strings.Cut(bucket, "/")
	if db == "" {
		return nil, fmt.Errorf("influx history: bucket %q: want database/retention-policy or database", bucket)
	}
	return &InfluxHistory{base: u, token: token, db: db, rp: rp, fallback: fallback, client: &http.Client{}}, nil
}

// Query returns the InfluxQL statement History sends.
func (h *InfluxHistory) Query(e twin.Entity, point string, from, to time.Time, every time.Duration) string {
	return h.query(e, point, from, to, every, 0)
}

// lastN is the clause that keeps the newest n windows, newest first
// (InfluxQL applies LIMIT after GROUP BY time and fill(none), so it counts
// windows with data); "" for n <= 0 (all windows, oldest first).
func lastN(n int) string {
	if n <= 0 {
		return ""
	}
	return " ORDER BY time DESC LIMIT " + strconv.Itoa(n)
}

// query is Query, with the newest n windows only when n > 0.
func (h *InfluxHistory) query(e twin.Entity, point string, from, to time.Time, every time.Duration, n int) string {
	src := ident(influxschema.Measurement(e.Category, h.fallback))
	if h.rp != "" {
		src = ident(h.db) + "." + ident(h.rp) + "." + src
	}
	return "SELECT mean(" + ident(influxschema.ValueField(point)) + ") FROM " + src +
		" WHERE " + ident(influxschema.TagGateway) + "=" + str(e.Gateway) +
		" AND " + ident(influxschema.TagDevice) + "=" + str(e.Device) +
		" AND time >= " + strconv.FormatInt(from.UnixNano(), 10) +
		" AND time < " + strconv.FormatInt(to.UnixNano(), 10) +
		" GROUP BY time(" + durationLit(every) + ") fill(none)" + lastN(n)
}

// History implements HistoryQuerier. InfluxDB does not store units, so
// unit is "" (the API takes it from the entity), except for a boolean
// point, whose history is the share of time it was true (influx_bool.go),
// a ratio "1".
func (h *InfluxHistory) History(ctx context.Context, e twin.Entity, point string, from, to time.Time, every time.Duration) (string, []HistoryPoint, error) {
	return h.history(ctx, e, point, from, to, every, 0)
}

// HistoryLastN implements LastNQuerier: History's statements with ORDER
// BY time DESC LIMIT n, so InfluxDB reads back the newest n windows only.
func (h *InfluxHistory) HistoryLastN(ctx context.Context, e twin.Entity, point string, from, to time.Time, every time.Duration, n int) (string, []HistoryPoint, error) {
	if n <= 0 {
		return "", nil, fmt.Errorf("query history of %s: lastN %d, want > 0", e.ID, n)
	}
	return h.history(ctx, e, point, from, to, every, n)
}

// history is History, with the newest n windows only, newest first,
// when n > 0.
func (h *InfluxHistory) history(ctx context.Context, e twin.Entity, point string, from, to time.Time, every time.Duration, n int) (string, []HistoryPoint, error) {
	if e.Gateway == "" || e.Device == "" {
		return "", nil, fmt.Errorf("query history of %s: %w", e.ID, ErrNoSeries)
	}
	if every <= 0 {
		return "", nil, fmt.Errorf("query history of %s: every %v, want > 0", e.ID, every)
	}
	results, err := h.run(ctx, h.query(e, point, from, to, every, n))
	if err != nil && isBooleanMeanError(err) {
		// The share of time true is a ratio, whatever unit the point has.
		points, err := h.booleanShare(ctx, e, point, from, to, every, n)
		if err != nil {
			return "", nil, err
		}
		return "1", points, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("query influxdb for %s %s: %w", e.ID, point, err)
	}
	return "", flatten(results), nil
}

// run sends InfluxQL statements and returns the (time, value) rows of
// each statement's answer.
func (h *InfluxHistory) run(ctx context.Context, q string) ([][]HistoryPoint, error) {
	body, status, err := h.get(ctx, q)
	if err != nil {
		return nil, err
	}
	return parseInfluxResults(status, body)
}

// get sends InfluxQL statements to /query and returns the answer's body
// (at most 64 MiB) and status.
func (h *InfluxHistory) get(ctx context.Context, q string) ([]byte, int, error) {
	u := *h.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/query"
	u.RawQuery = url.Values{"db": {h.db}, "q": {q}, "epoch": {"ns"}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, err
	}
	if h.token != "" {
		req.Header.Set("Authorization", "Token "+h.token)
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, 0, fmt.Errorf("read answer: %w", err)
	}
	return body, resp.StatusCode, nil
}

// flatten joins the rows of every statement.
func flatten(results [][]HistoryPoint) []HistoryPoint {
	points := []HistoryPoint{}
	for _, r := range results {
		points = append(points, r...)
	}
	return points
}

// influxAnswer is the body of InfluxDB 1.x /query.
type influxAnswer struct {
	Results []struct {
		Series []struct {
			Values [][]json.Number `json:"values"`
		} `json:"series"`
		Error string `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// parseInfluxResults reads the (time, value) rows of a /query answer, one
// slice per statement.
func parseInfluxResults(status int, body []byte) ([][]HistoryPoint, error) {
	var ans influxAnswer
	if err := decodeNumbers(body, &ans); err != nil {
		return nil, fmt.Errorf("status %d, answer %q is not InfluxDB's JSON: %w", status, clip(string(body)), err)
	}
	if ans.Error != "" {
		return nil, fmt.Errorf("status %d: %s", status, ans.Error)
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", status, clip(string(body)))
	}
	results := make([][]HistoryPoint, 0, len(ans.Results))
	for _, r := range ans.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("influxdb: %s", r.Error)
		}
		points := []HistoryPoint{}
		for _, s := range r.Series {
			for _, row := range s.Values {
				if len(row) < 2 || row[1] == "" {
					continue
				}
				ns, err := row[0].Int64()
				if err != nil {
					return nil, fmt.Errorf("time %q is not nanoseconds", row[0])
				}
				v, err := row[1].Float64()
				if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("mean %q is not a number", row[1])
				}
				points = append(points, HistoryPoint{Time: time.Unix(0, ns).UTC(), Value: v})
			}
		}
		results = append(results, points)
	}
	return results, nil
}

// ident double-quotes an InfluxQL identifier.
func ident(s string) string { return `"` + escapeQL(s) + `"` }

// str single-quotes an InfluxQL string literal.
func str(s string) string { return `'` + escapeQL(s) + `'` }

// escapeQL escapes what InfluxQL's scanner unescapes inside quotes
// (influxql.ScanString: \\ \" \' \n); a raw newline would end the string.
func escapeQL(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\'':
			b.WriteString(`\'`)
		case '\n':
			b.WriteString(`\n`)
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// durationLit writes d as an InfluxQL duration literal in the largest
// unit that divides it.
func durationLit(d time.Duration) string {
	for _, u := range []struct {
		d time.Duration
		s string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "u"}} {
		if d%u.d == 0 {
			return strconv.FormatInt(int64(d/u.d), 10) + u.s
		}
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}

// decodeNumbers decodes JSON with numbers as json.Number.
func decodeNumbers(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	return dec.Decode(v)
}

// nsTime reads a time column of an epoch=ns answer.
func nsTime(v any) (time.Time, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return time.Time{}, false
	}
	ns, err := n.Int64()
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, ns).UTC(), true
}

// jsonValue turns a json.Number into a float64 and leaves booleans and
// strings as they are.
func jsonValue(v any) any {
	if n, ok := v.(json.Number); ok {
		if f, err := n.Float64(); err == nil {
			return f
		}
		return n.String()
	}
	return v
}
