package opendata

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin"
)

func twoAreas() *fakeSource {
	return &fakeSource{ind: twin.Indicators{Areas: []twin.AreaIndicators{
		{ID: "072006", Name: "Bari", Level: twin.LevelMunicipality, Indicators: []twin.Indicator{
			{Name: "traffic_intensity", Value: ptr(1020), Unit: "1/h", Sensors: 1, Window: "15m"},
			{Name: "no2", Value: nil, Unit: "ug/m3", Sensors: 0, Window: "1h"},
		}},
		{ID: "048017", Name: "=Firenze", Level: twin.LevelMunicipality, Indicators: []twin.Indicator{
			{Name: "noise", Value: ptr(55.5), Unit: "dB", Sensors: 2, Window: "15m"},
		}},
	}}}
}

func readCSV(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows
}

// TestRecorderDayBoundary: samples either side of midnight in Rome (22:00
// UTC in summer) go to two files named by the Rome day, each with one
// header; times are UTC; the filter keeps Bari only.
func TestRecorderDayBoundary(t *testing.T) {
	dir := t.TempDir()
	r, err := NewRecorder(RecorderConfig{Dir: dir, Scope: "bari", Areas: func(id string) bool { return id == "072006" }},
		twoAreas(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, at := range []string{"2026-05-04T21:45:00Z", "2026-05-04T21:59:59Z", "2026-05-04T22:00:00Z"} {
		now, _ := time.Parse(time.RFC3339, at)
		if err := r.Sample(now); err != nil {
			t.Fatal(err)
		}
	}
	may4 := readCSV(t, filepath.Join(dir, "bari", "indicators-2026-05-04.csv"))
	may5 := readCSV(t, filepath.Join(dir, "bari", "indicators-2026-05-05.csv"))
	if strings.Join(may4[0], ",") != strings.Join(DailyHeader(), ",") || strings.Join(may5[0], ",") != strings.Join(DailyHeader(), ",") {
		t.Fatalf("headers %v / %v", may4[0], may5[0])
	}
	if len(may4) != 1+4 || len(may5) != 1+2 {
		t.Fatalf("rows: 4 May %d, 5 May %d; want 4 and 2", len(may4)-1, len(may5)-1)
	}
	want := "2026-05-04T22:00:00Z,2026-05-05,072006,Bari,municipality,traffic_intensity,1020,1/h,1,15m"
	if got := strings.Join(may5[1], ","); got != want {
		t.Errorf("row %s, want %s", got, want)
	}
	if got := may5[2][6]; got != "" {
		t.Errorf("a missing value is %q, want empty", got)
	}
	for _, row := range append(may4, may5...) {
		if row[2] == "048017" {
			t.Errorf("the filter let Firenze through: %v", row)
		}
	}
}

// TestRecorderRestart: a new recorder continues the day's file (no second
// header), after cutting the partial row a crash left.
func TestRecorderRestart(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	r1, err := NewRecorder(RecorderConfig{Dir: dir, Scope: "all"}, twoAreas(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := r1.Sample(now); err != nil {
		t.Fatal(err)
	}
	r1.Close()
	path := filepath.Join(dir, "all", "indicators-2026-05-04.csv")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("2026-05-04T10:15:00Z,2026-05-04,0720") // a crash mid-row
	_ = f.Close()

	r2, err := NewRecorder(RecorderConfig{Dir: dir, Scope: "all"}, twoAreas(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if err := r2.Sample(now.Add(15 * time.Minute)); err != nil {
		t.Fatal(err)
	}
	rows := readCSV(t, path)
	if len(rows) != 1+3+3 {
		t.Fatalf("%d rows after the restart, want header + 3 + 3:\n%v", len(rows), rows)
	}
	headers := 0
	for _, row := range rows {
		if row[0] == "time" {
			headers++
		}
	}
	if headers != 1 || rows[4][0] != "2026-05-04T10:15:00Z" || rows[4][2] != "072006" {
		t.Errorf("headers %d, first row after restart %v", headers, rows[4])
	}
	if rows[6][3] != "'=Firenze" {
		t.Errorf("a formula-like name is %q, want it defused", rows[6][3])
	}
}

// TestRecorderRetention: files older than KeepDays go, today's and the
// kept ones stay; other files in the folder are left alone.
func TestRecorderRetention(t *testing.T) {
	dir := t.TempDir()
	scope := filepath.Join(dir, "all")
	if err := os.MkdirAll(scope, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"indicators-2026-04-30.csv", "indicators-2026-05-01.csv", "indicators-2026-05-02.csv", "notes.txt", "indicators-2026-4-1.csv"} {
		if err := os.WriteFile(filepath.Join(scope, name), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r, err := NewRecorder(RecorderConfig{Dir: dir, Scope: "all", KeepDays: 3}, twoAreas(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.Sample(time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(scope)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	want := "indicators-2026-05-01.csv,indicators-2026-05-02.csv,indicators-2026-05-03.csv,indicators-2026-4-1.csv,notes.txt"
	if strings.Join(names, ",") != want {
		t.Errorf("files %v\nwant %s", names, want)
	}
}

// TestRecorderConfigErrors: bad fields are named.
func TestRecorderConfigErrors(t *testing.T) {
	err := RecorderConfig{Scope: "../etc", Interval: time.Millisecond, KeepDays: -1, TimeZone: "Nowhere/None"}.Validate()
	for _, want := range []string{"recorder.dir: required", "recorder.scope", "recorder.interval", "recorder.keep_days", "recorder.time_zone"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestDailyHandler: the index lists the days with URLs and sizes; a past
// day is immutable, today's short-lived; unknown days, bad names and
// traversal attempts are 404.
func TestDailyHandler(t *testing.T) {
	dir := t.TempDir()
	r, err := NewRecorder(RecorderConfig{Dir: dir, Scope: "bari"}, twoAreas(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []time.Time{time.Date(2026, 5, 3, 12, 0, 0, 0, time.UTC), time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)} {
		if err := r.Sample(at); err != nil {
			t.Fatal(err)
		}
	}
	r.Close()
	if err := os.WriteFile(filepath.Join(dir, "secret.csv"), []byte("secret\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 5, 4, 13, 0, 0, 0, time.UTC) }
	h, err := NewHandler(HandlerConfig{Catalog: bariConfig(), Dir: dir, Scope: "bari"}, twoAreas(), now)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/t/bari/opendata", h))
	defer srv.Close()
	get := func(path string) (*http.Response, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	resp, body := get("/t/bari/opendata/daily/")
	var idx dailyIndex
	if err := json.Unmarshal([]byte(body), &idx); err != nil || resp.StatusCode != 200 || len(idx.Days) != 2 {
		t.Fatalf("index %d: %s (%v)", resp.StatusCode, body, err)
	}
	st, _ := os.Stat(filepath.Join(dir, "bari", "indicators-2026-05-03.csv"))
	if d := idx.Days[0]; d.Day != "2026-05-03" || d.URL != "https://ponte.example.it/t/bari/opendata/daily/indicators-2026-05-03.csv" || d.Size != st.Size() {
		t.Errorf("index entry %+v", d)
	}

	resp, body = get("/t/bari/opendata/daily/indicators-2026-05-03.csv")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
		!strings.Contains(resp.Header.Get("Cache-Control"), "immutable") ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="indicators-2026-05-03.csv"` ||
		!strings.HasPrefix(body, strings.Join(DailyHeader(), ",")+"\n") {
		t.Errorf("past day: %d %v\n%s", resp.StatusCode, resp.Header, body)
	}
	resp, _ = get("/t/bari/opendata/daily/indicators-2026-05-04.csv")
	if resp.StatusCode != 200 || strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("today: %d %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	for _, p := range []string{
		"/t/bari/opendata/daily/indicators-2026-05-05.csv",    // no such day
		"/t/bari/opendata/daily/indicators-2026-02-30.csv",    // no such date
		"/t/bari/opendata/daily/indicators-2026-5-3.csv",      // not canonical
		"/t/bari/opendata/daily/../secret.csv",                // traversal (cleaned by the client or the mux)
		"/t/bari/opendata/daily/..%2fsecret.csv",              // encoded traversal
		"/t/bari/opendata/daily/indicators-2026-05-03.csv/x",  // below a file
		"/t/bari/opendata/daily/indicators-2026-05-03.csv%00", // NUL
		"/t/bari/opendata/daily/INDICATORS-2026-05-03.CSV",    // case
		"/t/bari/opendata/nothing",
	} {
		if resp, body := get(p); resp.StatusCode != http.StatusNotFound || strings.Contains(body, "secret") {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	resp, body = get("/t/bari/opendata/catalog.ttl")
	if resp.StatusCode != 200 || !strings.Contains(body, `dcatapit:startDate "2026-05-03"^^xsd:date`) {
		t.Errorf("catalogue: %d; its coverage should start with the oldest daily file:\n%s", resp.StatusCode, body)
	}
}

// FuzzParseDayName: a name is accepted only as indicators-YYYY-MM-DD.csv
// of a real date, which names nothing but a file in the scope's folder.
func FuzzParseDayName(f *testing.F) {
	for _, s := range []string{"indicators-2026-05-03.csv", "indicators-2026-02-30.csv", "../x", "indicators-2026-05-03.csv/..", "indicators-+026-05-03.csv", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		day, ok := parseDayName(name)
		if !ok {
			return
		}
		if dailyName(day) != name || strings.ContainsAny(name, `/\`) || filepath.Base(name) != name {
			t.Fatalf("%q accepted as %q", name, day)
		}
		if _, err := time.Parse(time.DateOnly, day); err != nil {
			t.Fatalf("%q accepted, day %q: %v", name, day, err)
		}
	})
}
