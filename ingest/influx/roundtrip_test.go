package influx

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/wire"
)

// TestRoundTrip writes every value kind, a bad reading and names that need
// escaping, and reads them back from InfluxDB 1.8.10 with their types,
// tags and nanosecond timestamps.
func TestRoundTrip(t *testing.T) {
	srv := influxtest.Start(t)
	s := sinkOn(t, srv)
	t0 := time.Unix(1_700_000_000, 123_456_789)
	rs := []wire.Reading{
		{Device: "cab-1", Point: "voltage", Value: wire.Float(231.25), Unit: "V", Time: t0},
		{Device: "cab-1", Point: "energy_wh", Value: wire.Int(math.MaxInt64 - 7), Unit: "Wh", Time: t0},
		{Device: "cab-1", Point: "door_open", Value: wire.Bool(true), Time: t0},
		{Device: "cab-1", Point: "firmware", Value: wire.String("v1.2 \"beta\"\nline2 \\ end"), Time: t0},
		{Device: "cab-1", Point: "current", Time: t0.Add(time.Nanosecond), Quality: wire.QualityBadComm, Reason: "no answer from unit 3"},
		{Device: "aq-9", Point: "pm10", Value: wire.Float(17.5), Unit: "ug/m3", Time: t0.Add(time.Second + 1)},
		{Device: "odd dev,x=y", Point: "p q=r,s", Value: wire.Float(-0.125), Time: t0.Add(2)},
	}
	mustWrite(t, s, "gw-7", rs)
	if !s.Healthy() {
		t.Error("not healthy after a successful write")
	}

	// Field types as InfluxDB recorded them.
	types := map[string]string{}
	for _, series := range srv.Query(t, `SHOW FIELD KEYS FROM "energy"`) {
		for _, row := range series.Values {
			types[row[0].(string)] = row[1].(string)
		}
	}
	wantTypes := map[string]string{"voltage": "float", "energy_wh": "integer", "door_open": "boolean", "firmware": "string", "current_quality": "string"}
	for f, typ := range wantTypes {
		if types[f] != typ {
			t.Errorf("field %s has type %q, want %q (all: %v)", f, types[f], typ, types)
		}
	}

	rows := srv.Query(t, `SELECT * FROM "energy"`)
	if len(rows) != 1 || len(rows[0].Values) != 2 {
		t.Fatalf("energy: got %+v, want 2 rows (the good readings share one timestamp)", rows)
	}
	got := rows[0].Rows()
	first, second := got[0], got[1]
	if ts := first["time"].(json.Number).String(); ts != strconv.FormatInt(t0.UnixNano(), 10) {
		t.Errorf("time %s, want %d", ts, t0.UnixNano())
	}
	if ts := second["time"].(json.Number).String(); ts != strconv.FormatInt(t0.UnixNano()+1, 10) {
		t.Errorf("bad reading's time %s, want %d", ts, t0.UnixNano()+1)
	}
	for tag, want := range map[string]string{"gateway": "gw-7", "device": "cab-1", "area": "Firenze", "type": "energy"} {
		if first[tag] != want {
			t.Errorf("tag %s = %v, want %q", tag, first[tag], want)
		}
	}
	if v := first["voltage"].(json.Number).String(); v != "231.25" {
		t.Errorf("voltage %s", v)
	}
	if v := first["energy_wh"].(json.Number).String(); v != strconv.FormatInt(math.MaxInt64-7, 10) {
		t.Errorf("energy_wh %s, want the exact 64-bit integer", v)
	}
	if v := first["door_open"]; v != true {
		t.Errorf("door_open %v", v)
	}
	if v := first["firmware"]; v != rs[3].Value.S {
		t.Errorf("firmware %q, want %q", v, rs[3].Value.S)
	}
	if v := second["current_quality"]; v != "bad_comm: no answer from unit 3" {
		t.Errorf("current_quality %q", v)
	}
	if v := second["current"]; v != nil {
		t.Errorf("a bad reading wrote a value: %v", v)
	}

	air := srv.Query(t, `SELECT pm10, area, "type", device, gateway FROM "air"`)
	if len(air) != 1 || len(air[0].Values) != 1 {
		t.Fatalf("air: %+v", air)
	}
	if r := air[0].Rows()[0]; r["area"] != "Bari" || r["type"] != "air" || r["device"] != "aq-9" || r["gateway"] != "gw-7" {
		t.Errorf("air tags: %v", r)
	}

	// Unknown devices land in the fallback measurement, names intact.
	odd := srv.Query(t, `SELECT * FROM "ponte"`)
	if len(odd) != 1 || len(odd[0].Values) != 1 {
		t.Fatalf("ponte: %+v", odd)
	}
	r := odd[0].Rows()[0]
	if r["device"] != "odd dev,x=y" || r["p q=r,s"].(json.Number).String() != "-0.125" {
		t.Errorf("escaped names did not round-trip: %v", r)
	}
	if _, ok := r["area"]; ok && r["area"] != nil {
		t.Errorf("unknown area written as %v", r["area"])
	}
}

// TestReplayOverwrites writes the same readings twice, as a gateway
// replaying after a lost acknowledgement does: the point count and the
// series stay the same.
func TestReplayOverwrites(t *testing.T) {
	srv := influxtest.Start(t)
	s := sinkOn(t, srv)
	t0 := time.Unix(1_700_000_100, 0)
	var rs []wire.Reading
	for d := range 5 {
		dev := "cab-" + strconv.Itoa(d)
		rs = append(rs, floats(dev, "voltage", t0, 200)...)
		for i := range 50 {
			rs = append(rs, wire.Reading{Device: dev, Point: "status", Value: wire.Int(int64(i)), Time: t0.Add(time.Duration(i) * time.Millisecond)},
				wire.Reading{Device: dev, Point: "alarm", Time: t0.Add(time.Duration(i) * time.Millisecond), Quality: wire.QualityBadDevice, Reason: "exception 2"})
		}
	}
	count := func() (points, series int64) {
		points = srv.Count(t, `SELECT count(voltage) FROM "energy"`) +
			srv.Count(t, `SELECT count(status) FROM "energy"`) +
			srv.Count(t, `SELECT count(alarm_quality) FROM "energy"`)
		return points, int64(len(srv.Query(t, `SHOW SERIES FROM "energy"`)[0].Values))
	}
	mustWrite(t, s, "gw-1", rs)
	p1, s1 := count()
	if p1 != int64(len(rs)) || s1 != 5 {
		t.Fatalf("after the first write: %d values in %d series, want %d in 5", p1, s1, len(rs))
	}
	mustWrite(t, s, "gw-1", rs)
	// A replay in smaller pieces and another order lands on the same points.
	for i := len(rs); i > 0; i -= 333 {
		mustWrite(t, s, "gw-1", rs[max(0, i-333):i])
	}
	p2, s2 := count()
	if p2 != p1 || s2 != s1 {
		t.Errorf("after replays: %d values in %d series, want %d in %d", p2, s2, p1, s1)
	}
}

// TestNamesRoundTrip writes device and point names with every character
// line protocol escapes, or that InfluxDB might read as an escape, and
// finds them unchanged in InfluxDB.
func TestNamesRoundTrip(t *testing.T) {
	srv := influxtest.Start(t)
	s := sinkOn(t, srv)
	names := []string{
		"plain", "with space", "comma,here", "equals=here", `back\slash`, `two\\back`, `tab\tlike`,
		`quote"inside`, "Piazza Duomo – n°1", "trailing space ", " leading", "=start", ",start", "ünïcödé",
	}
	t0 := time.Unix(1_700_000_050, 0)
	var rs []wire.Reading
	for i, n := range names {
		rs = append(rs, wire.Reading{Device: n, Point: "p", Value: wire.Float(float64(i)), Time: t0.Add(time.Duration(i))},
			wire.Reading{Device: "d", Point: n, Value: wire.String(n), Time: t0.Add(time.Duration(i))})
	}
	mustWrite(t, s, "gw-1", rs)
	devices := map[string]bool{}
	for _, series := range srv.Query(t, `SHOW TAG VALUES FROM "ponte" WITH KEY = "device"`) {
		for _, row := range series.Values {
			devices[row[1].(string)] = true
		}
	}
	fields := map[string]bool{}
	for _, series := range srv.Query(t, `SHOW FIELD KEYS FROM "ponte"`) {
		for _, row := range series.Values {
			fields[row[0].(string)] = true
		}
	}
	for _, n := range names {
		if !devices[n] {
			t.Errorf("device %q not found among %q", n, keys(devices))
		}
		if !fields[n] {
			t.Errorf("field %q not found among %q", n, keys(fields))
		}
	}
	// The string values come back exactly.
	rows := srv.Query(t, `SELECT * FROM "ponte" WHERE device = 'd'`)
	if len(rows) != 1 {
		t.Fatalf("rows: %+v", rows)
	}
	for i, r := range rows[0].Rows() {
		if r[names[i]] != names[i] {
			t.Errorf("value of field %q is %q", names[i], r[names[i]])
		}
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
