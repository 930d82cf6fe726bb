//go:build ha

package ha

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkInflux checks that InfluxDB holds every reading of every gateway
// with its value and no point no reading explains.
func (s *system) checkInflux(t *testing.T, l *load) {
	t.Helper()
	type key struct {
		device, field string
		ns            int64
	}
	for i := 1; i <= gateways; i++ {
		g := gwID(i)
		got := map[key]any{}
		for _, se := range s.influx.Query(t, fmt.Sprintf(`SELECT * FROM "energy" WHERE "gateway" = '%s' GROUP BY "device"`, g)) {
			for _, row := range se.Rows() {
				ns, err := row["time"].(json.Number).Int64()
				if err != nil {
					t.Fatalf("InfluxDB row without a time: %v", row)
				}
				for col, v := range row {
					switch col {
					case "time", "area", "type", "gateway", "device":
						continue
					}
					if v != nil {
						got[key{se.Tags["device"], col, ns}] = v
					}
				}
			}
		}
		var missing, wrong []uint64
		for seq := uint64(1); seq <= perGW; seq++ {
			r := readingFor(l.t0, i, seq)
			v, ok := got[key{r.Device, r.Point, r.Time.UnixNano()}]
			if !ok {
				missing = append(missing, seq)
				continue
			}
			n, _ := v.(json.Number)
			if f, err := strconv.ParseFloat(string(n), 64); err != nil || f != r.Value.F {
				wrong = append(wrong, seq)
			}
		}
		if extra := len(got) - (perGW - len(missing)); len(missing) > 0 || len(wrong) > 0 || extra != 0 {
			t.Errorf("InfluxDB, %s: %d of %d readings missing (%s), %d with another value (%s), %d points no reading explains",
				g, len(missing), perGW, ranges(missing), len(wrong), ranges(wrong), extra)
		}
	}
}

// site is a site's state as the entities API shows it: attribute name ->
// value and observation time.
type site map[string]string

// sites reads an instance's sites (entities with a device), by
// gateway/device.
func (s *system) sites(in *instance) (map[string]site, error) {
	var buf bytes.Buffer
	if err := s.get(in, "/api/v1/entities", &buf); err != nil {
		return nil, err
	}
	var fc struct {
		Features []struct {
			Properties struct {
				Gateway string `json:"gateway"`
				Device  string `json:"device"`
				Attrs   map[string]struct {
					Value      any       `json:"value"`
					ObservedAt time.Time `json:"observedAt"`
				} `json:"attrs"`
			} `json:"properties"`
		} `json:"features"`
	}
	if err := json.Unmarshal(buf.Bytes(), &fc); err != nil {
		return nil, fmt.Errorf("entities of %s: %w", in.name, err)
	}
	out := map[string]site{}
	for _, f := range fc.Features {
		p := f.Properties
		if p.Device == "" {
			continue // gateways (fleet attributes are per instance), areas, roads
		}
		st := site{}
		for name, a := range p.Attrs {
			st[name] = fmt.Sprintf("%v@%s", a.Value, a.ObservedAt.UTC().Format(time.RFC3339Nano))
		}
		out[p.Gateway+"/"+p.Device] = st
	}
	return out, nil
}

// expectedSites is every site's latest reading of each point, as
// "value@time", keyed by gateway/device, then point.
func expectedSites(l *load) map[string]map[string]string {
	out := map[string]map[string]string{}
	for i := 1; i <= gateways; i++ {
		for seq := uint64(1); seq <= perGW; seq++ {
			r := readingFor(l.t0, i, seq)
			k := gwID(i) + "/" + r.Device
			if out[k] == nil {
				out[k] = map[string]string{}
			}
			out[k][r.Point] = fmt.Sprintf("%v@%s", r.Value.F, r.Time.UTC().Format(time.RFC3339Nano))
		}
	}
	return out
}

// diffSites describes how got differs from want (empty: equal).
func diffSites(got, want map[string]site) string {
	var out []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			out = append(out, k+": missing")
		} else if !reflect.DeepEqual(g, w) {
			out = append(out, fmt.Sprintf("%s: %v, want %v", k, g, w))
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			out = append(out, k+": not expected")
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("... and %d more", len(out)-20))
	}
	return strings.Join(out, "\n")
}

// missingReadings describes the expected latest readings a site does not
// show (by value and time: the attribute may be renamed, e.g. power).
func missingReadings(got map[string]site, want map[string]map[string]string) string {
	var out []string
	for k, pts := range want {
		vals := map[string]bool{}
		for _, v := range got[k] {
			vals[v] = true
		}
		for pt, v := range pts {
			if !vals[v] {
				out = append(out, fmt.Sprintf("%s %s: %s not shown (site: %v)", k, pt, v, got[k]))
			}
		}
	}
	sort.Strings(out)
	if len(out) > 20 {
		out = append(out[:20], fmt.Sprintf("... and %d more", len(out)-20))
	}
	return strings.Join(out, "\n")
}

// indicators reads an instance's /api/v1/indicators without the fields
// that date the computation (generated, updatedAt: a restored twin dates
// its sums at the restore).
func (s *system) indicators(in *instance) (any, error) {
	var buf bytes.Buffer
	if err := s.get(in, "/api/v1/indicators", &buf); err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(buf.Bytes(), &v); err != nil {
		return nil, err
	}
	return strip(v), nil
}

func strip(v any) any {
	switch x := v.(type) {
	case map[string]any:
		delete(x, "generated")
		delete(x, "updatedAt")
		for k, e := range x {
			x[k] = strip(e)
		}
	case []any:
		for i, e := range x {
			x[i] = strip(e)
		}
	}
	return v
}
