package influx

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxschema"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/wire"
)

// jobLines returns the lines of j without their newlines, and the points
// of each line's readings.
func jobLines(j *job) (lines []string, points [][]string) {
	for i := range j.ends {
		lines = append(lines, string(j.line(i)))
		var ps []string
		for _, k := range j.lineReadings(i) {
			ps = append(ps, j.readings[k].Point)
		}
		points = append(points, ps)
	}
	return lines, points
}

// TestEncodeGroupsAPoll: adjacent readings of a device at one time share a
// line; another time, another device, a point already on the line or a
// reading that cannot be written (left out, rejected) do not break what
// the line says.
func TestEncodeGroupsAPoll(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 5)
	t1 := t0.Add(time.Millisecond)
	rs := []wire.Reading{
		{Device: "cab-1", Point: "a", Value: wire.Float(1), Time: t0},
		{Device: "cab-1", Point: "b", Value: wire.Int(2), Time: t0},
		{Device: "cab-1", Point: "time", Value: wire.Float(9), Time: t0}, // rejected
		{Device: "cab-1", Point: "c", Time: t0, Quality: wire.QualityBadComm, Reason: "timeout"},
		{Device: "cab-1", Point: "a", Value: wire.Float(3), Time: t0}, // again: a new line
		{Device: "cab-1", Point: "a", Value: wire.Float(4), Time: t1},
		{Device: "cab-2", Point: "a", Value: wire.Bool(true), Time: t1},
		{Device: "cab-2", Point: "s", Value: wire.String(`x "y", z`), Time: t1},
	}
	j := encoder{fallback: "ponte", meta: testMeta}.encode("gw-1", rs)
	if len(j.rejected) != 1 || j.rejected[0].Reading.Point != "time" {
		t.Fatalf("rejected %+v, want the point named time", j.rejected)
	}
	key1 := "energy,area=Firenze,device=cab-1,gateway=gw-1,type=energy"
	key2 := "energy,area=Firenze,device=cab-2,gateway=gw-1,type=energy"
	ns0, ns1 := strconv.FormatInt(t0.UnixNano(), 10), strconv.FormatInt(t1.UnixNano(), 10)
	wantLines := []string{
		key1 + ` a=1,b=2i,c_quality="bad_comm: timeout" ` + ns0,
		key1 + " a=3 " + ns0,
		key1 + " a=4 " + ns1,
		key2 + ` a=true,s="x \"y\", z" ` + ns1,
	}
	wantPoints := [][]string{{"a", "b", "c"}, {"a"}, {"a"}, {"a", "s"}}
	lines, points := jobLines(j)
	if !reflect.DeepEqual(lines, wantLines) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(wantLines, "\n"))
	}
	if !reflect.DeepEqual(points, wantPoints) {
		t.Errorf("readings per line %v, want %v", points, wantPoints)
	}
	for i, l := range lines {
		m, fields, ok := lineFields([]byte(l))
		if !ok || m != "energy" || len(fields) != len(wantPoints[i]) {
			t.Errorf("line %q reads back as %q %v %v", l, m, fields, ok)
		}
	}
}

// TestEncodeWideDevice: a device with more points at one time than a line
// carries makes lines of at most maxLineFields, and a repeated point
// among them (past the scan, in the set) still starts a new line.
func TestEncodeWideDevice(t *testing.T) {
	t0 := time.Unix(1_700_000_000, 0)
	var rs []wire.Reading
	for i := range 600 {
		rs = append(rs, wire.Reading{Device: "loop-1", Point: "p" + strconv.Itoa(i), Value: wire.Float(float64(i)), Time: t0})
	}
	// p100 again after p199: the line then holds 200 points, past the
	// scan, so the set finds it.
	rs = append(rs[:200], append([]wire.Reading{{Device: "loop-1", Point: "p100", Value: wire.Float(-1), Time: t0}}, rs[200:]...)...)
	j := encoder{fallback: "ponte", meta: testMeta}.encode("gw-1", rs)
	_, points := jobLines(j)
	var sizes []int
	total := 0
	for _, ps := range points {
		sizes = append(sizes, len(ps))
		total += len(ps)
		seen := map[string]bool{}
		for _, p := range ps {
			if seen[p] {
				t.Errorf("a line names %s twice", p)
			}
			seen[p] = true
		}
	}
	if want := []int{200, maxLineFields, 601 - 200 - maxLineFields}; !reflect.DeepEqual(sizes, want) {
		t.Errorf("line sizes %v, want %v", sizes, want)
	}
	if total != len(rs) {
		t.Errorf("%d readings on lines, want %d", total, len(rs))
	}
}

// TestSameStoredAsLinePerReading: what InfluxDB stores from polls written
// a line per device and time is what it stores from the same readings
// written a line each (as the sink did before), series, fields, types and
// times.
func TestSameStoredAsLinePerReading(t *testing.T) {
	grouped, single := influxtest.Start(t), influxtest.Start(t)
	t0 := time.Unix(1_700_100_000, 250)
	var rs []wire.Reading
	for poll := range 5 {
		at := t0.Add(time.Duration(poll) * time.Second)
		for d := range 3 {
			dev := fmt.Sprintf("cab-%d", d)
			for p := range 20 {
				r := wire.Reading{Device: dev, Point: fmt.Sprintf("p%02d", p), Time: at}
				switch p % 4 {
				case 0:
					r.Value = wire.Float(float64(poll*100+d*10) + float64(p)/8)
				case 1:
					r.Value = wire.Int(int64(poll*1000 + p))
				case 2:
					r.Value = wire.Bool((poll+p)%2 == 0)
				default:
					if poll == 3 {
						r.Quality, r.Reason = wire.QualityBadComm, "no answer"
					} else {
						r.Value = wire.String("stato " + strconv.Itoa(poll))
					}
				}
				rs = append(rs, r)
			}
		}
	}
	s := sinkOn(t, grouped)
	mustWrite(t, s, "gw-1", rs)
	if st := s.Stats(); st.Points != int64(len(rs)) {
		t.Errorf("stats count %d readings written, want %d", st.Points, len(rs))
	}
	var lines []string
	for i := range rs {
		area, typ := testMeta("gw-1", rs[i].Device)
		key, why := AppendSeries(nil, SeriesFor("ponte", "gw-1", rs[i].Device, area, typ))
		line, why2 := AppendFields(key, &rs[i])
		if why != "" || why2 != "" {
			t.Fatalf("encode %+v: %s%s", rs[i], why, why2)
		}
		lines = append(lines, strings.TrimSuffix(string(line), "\n"))
	}
	single.Write(t, lines...)
	for _, q := range []string{`SELECT * FROM "energy" GROUP BY *`, `SHOW FIELD KEYS FROM "energy"`, `SHOW SERIES`} {
		got, want := grouped.Query(t, q), single.Query(t, q)
		if len(want) == 0 || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: grouped lines stored\n%+v\na line per reading stored\n%+v", q, got, want)
		}
	}
}

// TestConflictSplitsTheLine: InfluxDB refuses a line for one field of the
// wrong type; the sink rejects that reading alone and stores the others of
// its line.
func TestConflictSplitsTheLine(t *testing.T) {
	srv := influxtest.Start(t)
	s := sinkOn(t, srv)
	t0 := time.Unix(1_700_200_000, 0)
	mustWrite(t, s, "gw-1", []wire.Reading{{Device: "cab-1", Point: "level", Value: wire.Float(1.5), Time: t0}})
	t1 := t0.Add(time.Second)
	rej, err := s.Write(t.Context(), "gw-1", []wire.Reading{
		{Device: "cab-1", Point: "a", Value: wire.Float(7), Time: t1},
		{Device: "cab-1", Point: "level", Value: wire.Int(2), Time: t1},
		{Device: "cab-1", Point: "b", Value: wire.Bool(true), Time: t1},
		{Device: "cab-2", Point: "a", Value: wire.Float(8), Time: t1},
	})
	if err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(rej) != 1 || rej[0].Reading.Point != "level" || !strings.Contains(rej[0].Reason, "field type conflict") {
		t.Fatalf("rejected %+v, want level alone, for its type", rej)
	}
	if n := srv.Count(t, `SELECT count(a) FROM "energy"`); n != 2 {
		t.Errorf("%d values of a stored, want 2 (both devices)", n)
	}
	if n := srv.Count(t, `SELECT count(b) FROM "energy"`); n != 1 {
		t.Errorf("%d values of b stored, want 1", n)
	}
	if n := srv.Count(t, `SELECT count(level) FROM "energy"`); n != 1 {
		t.Errorf("%d values of level stored, want the first one only", n)
	}
	if st := s.Stats(); st.Rejected != 1 || st.Points != 4 {
		t.Errorf("stats %+v, want 1 rejected and 4 written", st)
	}
}

// FuzzGroupedLine: a line of several readings the encoder writes reads back
// field by field (keys and types, in order) whatever the names and string
// values, which is what attributing a field type conflict relies on.
func FuzzGroupedLine(f *testing.F) {
	f.Add("cab 1,a=b", "p q=r", "s", `text "q" \`, int64(1700000000123456789), 2.5)
	f.Add("d", "a", "a", "", int64(0), -1.0)
	f.Add("d", `x\`, "y,z", "a,b c=\"d\"", int64(-1), 0.0)
	f.Fuzz(func(t *testing.T, device, p1, p2, str string, ns int64, fl float64) {
		at := time.Unix(0, ns)
		rs := []wire.Reading{
			{Device: device, Point: p1, Value: wire.String(str), Time: at},
			{Device: device, Point: p2, Value: wire.Float(fl), Time: at},
			{Device: device, Point: p1 + "_n", Value: wire.Int(ns), Time: at},
		}
		j := encoder{fallback: "ponte", meta: testMeta}.encode("gw-1", rs)
		area, typ := testMeta("gw-1", device)
		meas := SeriesFor("ponte", "gw-1", device, area, typ).Measurement
		written := 0
		for i := range j.ends {
			idx := j.lineReadings(i)
			written += len(idx)
			m, fields, ok := lineFields(j.line(i))
			if !ok || m != meas || len(fields) != len(idx) {
				t.Fatalf("line %q reads back as %q %+v %v; want %d fields", j.line(i), m, fields, ok, len(idx))
			}
			for k, ri := range idx {
				want := map[wire.Kind]string{wire.KindString: "string", wire.KindFloat: "float", wire.KindInt: "integer"}[rs[ri].Value.Kind]
				if key := influxschema.ValueField(rs[ri].Point); fields[k].key != key || fields[k].typ != want {
					t.Fatalf("line %q field %d reads back as %+v, want %q %s", j.line(i), k, fields[k], key, want)
				}
			}
		}
		if written+len(j.rejected) != len(rs) {
			t.Fatalf("%d readings written and %d rejected of %d", written, len(j.rejected), len(rs))
		}
	})
}
