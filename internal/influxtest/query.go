package influxtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Series is one series of a query result. Values keep InfluxDB's JSON
// types, with numbers as json.Number so that nanosecond timestamps and
// 64-bit integers stay exact.
type Series struct {
	Name    string            `json:"name"`
	Tags    map[string]string `json:"tags"`
	Columns []string          `json:"columns"`
	Values  [][]any           `json:"values"`
}

// Rows returns the series' rows as maps from column name to value.
func (s Series) Rows() []map[string]any {
	rows := make([]map[string]any, 0, len(s.Values))
	for _, v := range s.Values {
		row := make(map[string]any, len(s.Columns))
		for i, c := range s.Columns {
			if i < len(v) {
				row[c] = v[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// queryResponse is the body of /query.
type queryResponse struct {
	Results []struct {
		Series []Series `json:"series"`
		Error  string   `json:"error"`
	} `json:"results"`
	Error string `json:"error"`
}

// Query runs one InfluxQL statement against the database with nanosecond
// epoch timestamps and returns its series; an error of any kind fails t.
func (s *Server) Query(t testing.TB, influxql string) []Series {
	t.Helper()
	series, err := s.do(http.MethodGet, influxql)
	if err != nil {
		t.Fatalf("query %q: %v", influxql, err)
	}
	return series
}

// Exec runs a statement that changes something (CREATE, DROP, ...) with a
// POST; an error fails t.
func (s *Server) Exec(t testing.TB, influxql string) {
	t.Helper()
	if _, err := s.do(http.MethodPost, influxql); err != nil {
		t.Fatalf("exec %q: %v", influxql, err)
	}
}

// Count returns the first value of a one-row query such as
// SELECT count(f) FROM m, or 0 when the query returns no rows.
func (s *Server) Count(t testing.TB, influxql string) int64 {
	t.Helper()
	series := s.Query(t, influxql)
	if len(series) == 0 || len(series[0].Values) == 0 {
		return 0
	}
	row := series[0].Values[0]
	if len(row) < 2 {
		t.Fatalf("query %q: row %v has no value column", influxql, row)
	}
	n, ok := row[1].(json.Number)
	if !ok {
		t.Fatalf("query %q: value %v (%T) is not a number", influxql, row[1], row[1])
	}
	v, err := n.Int64()
	if err != nil {
		t.Fatalf("query %q: value %v: %v", influxql, n, err)
	}
	return v
}

// post runs a statement during Start (s.mu held, so it cannot use s.t's
// helpers that lock).
func (s *Server) post(influxql string) {
	if _, err := s.do(http.MethodPost, influxql); err != nil {
		s.t.Fatalf("influxd %s: %q: %v", s.URL, influxql, err)
	}
}

// do sends one statement to /query and decodes the answer.
func (s *Server) do(method, influxql string) ([]Series, error) {
	v := url.Values{"db": {s.DB}, "q": {influxql}, "epoch": {"ns"}}
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequest(method, s.URL+"/query?"+v.Encode(), nil)
	} else {
		req, err = http.NewRequest(method, s.URL+"/query", strings.NewReader(v.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return nil, err
	}
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	var qr queryResponse
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&qr); err != nil {
		return nil, fmt.Errorf("status %d, undecodable answer %q: %w", resp.StatusCode, body, err)
	}
	if qr.Error != "" {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, qr.Error)
	}
	var out []Series
	for _, r := range qr.Results {
		if r.Error != "" {
			return nil, fmt.Errorf("status %d: %s", resp.StatusCode, r.Error)
		}
		out = append(out, r.Series...)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return out, nil
}
