package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// specFixture is one documented example request of testdata/ngsild-spec
// (see its README): the request, and the status and shape of the answer.
type specFixture struct {
	method, path string
	params       [][2]string       // name, value: encoded as a form, in order
	headers      map[string]string // request headers
	fields       map[string][]string
}

// parseSpecFixture reads a fixture: "key: value" lines, # comments.
func parseSpecFixture(t *testing.T, file string) specFixture {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	f := specFixture{headers: map[string]string{}, fields: map[string][]string{}}
	for i, line := range strings.Split(string(b), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, val, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("%s:%d: want \"key: value\", found %q", file, i+1, line)
		}
		switch key {
		case "request":
			f.method, f.path, _ = strings.Cut(val, " ")
		case "param":
			k, v, _ := strings.Cut(val, "=")
			f.params = append(f.params, [2]string{k, v})
		case "header":
			k, v, _ := strings.Cut(val, ": ")
			f.headers[k] = v
		case "status", "content-type", "ids", "keys", "count", "problem", "types", "instances":
			f.fields[key] = strings.Fields(val)
			if key == "content-type" {
				f.fields[key] = []string{val}
			}
		default:
			t.Fatalf("%s:%d: unknown key %q", file, i+1, key)
		}
	}
	if f.method == "" || len(f.fields["status"]) != 1 {
		t.Fatalf("%s: needs a request and a status", file)
	}
	return f
}

// specTwin is a real twin whose sites make the fixtures' examples
// meaningful: b1, b2, b3 at the points of the ETSI test suite's three
// buildings (data/entities/building-location-attribute*.jsonld), with no2
// 4, 6 and 7; v1 in Porto (TP 021_09's target) with no2 1.
func specTwin(t *testing.T) (string, map[string]string) {
	t.Helper()
	sites := []twin.Site{
		{Gateway: "gw-etsi", Device: "b1", Category: "air", Lon: 13.3986, Lat: 52.5547, Interval: time.Minute},
		{Gateway: "gw-etsi", Device: "b2", Category: "air", Lon: 13.509818, Lat: 52.363457, Interval: time.Minute},
		{Gateway: "gw-etsi", Device: "b3", Category: "air", Lon: 13.215983, Lat: 52.470441, Interval: time.Minute},
		{Gateway: "gw-etsi", Device: "v1", Category: "air", Lon: -8.5035, Lat: 41.2025, Interval: time.Minute},
	}
	tw, err := twin.New(twin.Config{Sites: sites, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2020, 7, 2, 0, 0, 0, 0, time.UTC)
	var rs []wire.Reading
	for dev, v := range map[string]float64{"b1": 4, "b2": 6, "b3": 7, "v1": 1} {
		rs = append(rs, wire.Reading{Device: dev, Point: "no2", Value: wire.Float(v), Unit: "ug/m3", Time: now.Add(-time.Hour), Quality: wire.QualityGood})
	}
	tw.Apply("gw-etsi", 1, &wire.Batch{Gateway: "gw-etsi", Epoch: 1, Seqs: []uint64{1, 2, 3, 4}, Readings: rs})
	var points []HistoryPoint
	for i := range 7 {
		points = append(points, HistoryPoint{Time: now.Add(time.Duration(i-10) * time.Minute), Value: float64(i)})
	}
	a, err := New(Config{Reader: tw, Tokens: []string{testToken}, Registerer: prometheus.NewRegistry(),
		History: &fakeHistory{points: points}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(a.Handler())
	t.Cleanup(hs.Close)
	ids := map[string]string{}
	for _, e := range tw.Entities(twin.Filter{Types: []string{"AirQualityObserved"}}) {
		ids[e.Device] = e.ID
	}
	return hs.URL, ids
}

// TestNGSISpecExamples replays the documented example requests of
// testdata/ngsild-spec on a real twin and checks each answer's status
// and shape, the refusals where Ponte deliberately differs included.
func TestNGSISpecExamples(t *testing.T) {
	base, ids := specTwin(t)
	files, err := filepath.Glob("testdata/ngsild-spec/*.txt")
	if err != nil || len(files) < 10 {
		t.Fatalf("fixtures %v: %v", files, err)
	}
	// {b1} in a fixture stands for site b1's entity ID.
	expand := func(s string) string {
		for dev, id := range ids {
			s = strings.ReplaceAll(s, "{"+dev+"}", id)
		}
		return s
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			f := parseSpecFixture(t, file)
			u := base + expand(f.path)
			var enc []string
			for _, p := range f.params {
				enc = append(enc, url.QueryEscape(p[0])+"="+url.QueryEscape(expand(p[1])))
			}
			if len(enc) > 0 {
				u += "?" + strings.Join(enc, "&")
			}
			resp, body := do(t, f.method, u, testToken, f.headers)
			if want := f.fields["status"][0]; strconv.Itoa(resp.StatusCode) != want {
				t.Fatalf("status %d, want %s: %s", resp.StatusCode, want, body)
			}
			checkSpecShape(t, f, resp, body, ids)
		})
	}
}

// checkSpecShape checks what a fixture says of the answer.
func checkSpecShape(t *testing.T, f specFixture, resp *http.Response, body []byte, ids map[string]string) {
	t.Helper()
	if ct := f.fields["content-type"]; ct != nil && resp.Header.Get("Content-Type") != ct[0] {
		t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), ct[0])
	}
	if p := f.fields["problem"]; p != nil {
		wantProblem(t, resp, body, resp.StatusCode, "https://uri.etsi.org/ngsi-ld/errors/"+p[0], p[1])
		return
	}
	var objs []map[string]any
	if err := json.Unmarshal(body, &objs); err != nil {
		var one map[string]any
		if err := json.Unmarshal(body, &one); err != nil {
			t.Fatalf("answer is not JSON: %s", body)
		}
		objs = []map[string]any{one}
	}
	if want := f.fields["ids"]; want != nil {
		var got, exp []string
		for _, o := range objs {
			got = append(got, o["id"].(string))
		}
		for _, dev := range want {
			exp = append(exp, ids[dev])
		}
		slices.Sort(got)
		slices.Sort(exp)
		if !slices.Equal(got, exp) {
			t.Errorf("entities %v, want %v (%v)", got, exp, want)
		}
	}
	for _, o := range objs {
		for _, k := range f.fields["keys"] {
			if _, ok := o[k]; !ok {
				t.Errorf("%v lacks %q: %s", o["id"], k, body)
			}
		}
	}
	if c := f.fields["count"]; c != nil && resp.Header.Get(ResultsCountHeader) != c[0] {
		t.Errorf("%s %q, want %s", ResultsCountHeader, resp.Header.Get(ResultsCountHeader), c[0])
	}
	if want := f.fields["types"]; want != nil {
		tl, _ := objs[0]["typeList"].([]any)
		for _, ty := range want {
			if !slices.Contains(tl, any(ty)) {
				t.Errorf("typeList %v lacks %s", tl, ty)
			}
		}
	}
	if in := f.fields["instances"]; in != nil {
		checkInstances(t, objs, in[0], in[1], in[2])
	}
}

// checkInstances checks that each entity has n instances of attr, in the
// order given (oldest-first or newest-first).
func checkInstances(t *testing.T, objs []map[string]any, attr, n, order string) {
	t.Helper()
	for _, o := range objs {
		inst, _ := o[attr].([]any)
		if strconv.Itoa(len(inst)) != n {
			t.Errorf("%v: %d instances of %s, want %s", o["id"], len(inst), attr, n)
			continue
		}
		var times []string
		for _, i := range inst {
			at, _ := i.(map[string]any)["observedAt"].(string)
			times = append(times, at)
		}
		sorted := slices.IsSorted(times)
		if order == "newest-first" {
			slices.Reverse(times)
			sorted = slices.IsSorted(times) && len(times) > 1 && times[0] != times[len(times)-1]
		}
		if !sorted {
			t.Errorf("%v: %s instances not %s: %v", o["id"], attr, order, inst)
		}
	}
}
