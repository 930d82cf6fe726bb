package alarms

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/internal/yamlconf"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// clock is a fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// fakeReader is a twin.Reader with fixed indicators and no changes.
type fakeReader struct {
	mu   sync.Mutex
	inds twin.Indicators
}

func (f *fakeReader) Entities(twin.Filter) []twin.Entity { return nil }
func (f *fakeReader) Entity(string) (twin.Entity, bool)  { return twin.Entity{}, false }
func (f *fakeReader) LastSeq() uint64                    { return 1 }
func (f *fakeReader) Indicators() twin.Indicators        { f.mu.Lock(); defer f.mu.Unlock(); return f.inds }
func (f *fakeReader) Subscribe(twin.Filter, uint64) (<-chan twin.Change, func()) {
	return make(chan twin.Change), func() {}
}

const station = "urn:ngsi-ld:AirQualityObserved:fi-gramsci"

// reading is station's snapshot with one pm10 value read at t.
func reading(v float64, t time.Time, fresh twin.Freshness) twin.Entity {
	return twin.Entity{ID: station, Kind: twin.KindSite, Category: wire.CategoryAir, Name: "Viale Gramsci",
		Area: "048017", Geometry: orb.Point{11.27, 43.77}, Freshness: fresh,
		Attrs: map[string]twin.Attr{"pm10": {Value: v, Unit: "ug/m3", ObservedAt: t}}}
}

// pm10Rule is a test rule on pm10 above 50.
func pm10Rule(hyst float64, window, minDur time.Duration) RuleSpec {
	f := func(v float64) *float64 { return &v }
	d := func(v time.Duration) *yamlconf.Duration { x := yamlconf.Duration(v); return &x }
	return RuleSpec{ID: "pm10", Category: "air", Point: "pm10", Above: f(50), Hysteresis: f(hyst),
		Window: d(window), MinDuration: d(minDur), Severity: Major, Label: Text{IT: "PM10 alto", EN: "PM10 high"}}
}

func newEngine(t *testing.T, c *clock, state string, specs ...RuleSpec) *Engine {
	t.Helper()
	rules, ok := Rules(specs, false, "rules", func(p, f string, a ...any) { t.Errorf("rule %s: "+f, append([]any{p}, a...)...) })
	if !ok {
		t.FailNow()
	}
	e, err := New(Config{Reader: &fakeReader{}, Rules: rules, StateFile: state, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// only returns the one alarm of e in any state.
func only(t *testing.T, e *Engine) Alarm {
	t.Helper()
	all := e.List(Query{States: states})
	if len(all) != 1 {
		t.Fatalf("%d alarms %+v, want 1", len(all), all)
	}
	return all[0]
}

func openCount(e *Engine) int { return len(e.List(Query{})) }

// TestMinDurationAndHysteresis: the condition must hold MinDuration to
// raise; a value within the hysteresis band keeps the alarm; back past
// it for MinDuration clears it; unacknowledged, it stays open as cleared
// until an operator acknowledges it.
func TestMinDurationAndHysteresis(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	e := newEngine(t, c, "", pm10Rule(5, 0, 10*time.Minute))

	e.observe(reading(60, c.Now(), twin.Fresh))
	c.add(5 * time.Minute)
	e.tick()
	if n := openCount(e); n != 0 {
		t.Fatalf("raised after 5 of 10 minutes: %d", n)
	}
	// Back under the threshold: the minimum duration starts again.
	e.observe(reading(40, c.add(time.Minute), twin.Fresh))
	e.observe(reading(61, c.add(time.Minute), twin.Fresh))
	c.add(9 * time.Minute)
	e.tick()
	if n := openCount(e); n != 0 {
		t.Fatalf("raised 9 minutes after the condition returned: %d", n)
	}
	c.add(time.Minute)
	e.tick()
	a := only(t, e)
	if a.State != Raised || a.ValueAtRaise != 61 || a.Entity != station || a.EntityKind != EntitySite || a.Area != "048017" || a.Location == nil {
		t.Fatalf("alarm %+v", a)
	}

	// 47 is under 50 but within the hysteresis (clears at <= 45).
	e.observe(reading(47, c.add(time.Minute), twin.Fresh))
	c.add(time.Hour)
	e.tick()
	if a := only(t, e); a.State != Raised || a.Value != 47 || a.Peak != 61 {
		t.Fatalf("within the hysteresis: %+v", a)
	}
	e.observe(reading(44, c.add(time.Minute), twin.Fresh))
	c.add(9 * time.Minute)
	e.tick()
	if a := only(t, e); a.State != Raised {
		t.Fatalf("cleared before the minimum duration: %+v", a)
	}
	c.add(time.Minute)
	e.tick()
	a = only(t, e)
	if a.State != Cleared || a.ClearedAt == nil || a.Acknowledged != nil {
		t.Fatalf("after 10 minutes back under: %+v", a)
	}
	if n := openCount(e); n != 1 {
		t.Fatalf("a cleared, unacknowledged alarm is still open: %d", n)
	}
	got, err := e.Ack(a.ID, "Maria Rossi", "192.0.2.7:5000", "")
	if err != nil || got.State != Closed || got.Acknowledged.By != "Maria Rossi" || !got.Acknowledged.At.Equal(c.Now()) {
		t.Fatalf("ack of a cleared alarm: %+v, %v", got, err)
	}
	if n := openCount(e); n != 0 {
		t.Fatalf("closed alarm still open")
	}
	if _, err := e.Ack(a.ID, "x", "", ""); err != ErrConflict {
		t.Fatalf("second ack: %v, want ErrConflict", err)
	}
	if _, err := e.Ack("al-nope", "x", "", ""); err != ErrNotFound {
		t.Fatalf("unknown ack: %v, want ErrNotFound", err)
	}
}

// TestAckedAlarmClosesOnClear: acknowledged while active, the alarm is
// closed when the condition clears; the next exceedance is a new alarm.
func TestAckedAlarmClosesOnClear(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	e := newEngine(t, c, "", pm10Rule(0, 0, 0))
	e.observe(reading(70, c.Now(), twin.Fresh))
	first := only(t, e)
	if a, err := e.Ack(first.ID, "Luca", "192.0.2.1:1", "sent a crew"); err != nil || a.State != Acknowledged || a.Acknowledged.Note != "sent a crew" {
		t.Fatalf("ack: %+v %v", a, err)
	}
	e.observe(reading(50, c.add(time.Minute), twin.Fresh)) // on the threshold: not above
	if a, _ := e.Get(first.ID); a.State != Closed {
		t.Fatalf("after clearing: %+v", a)
	}
	e.observe(reading(80, c.add(time.Minute), twin.Fresh))
	open := e.List(Query{})
	if len(open) != 1 || open[0].ID == first.ID || open[0].State != Raised {
		t.Fatalf("a new exceedance: %+v", open)
	}
}

// TestClearedAlarmRaisedAgain: a cleared, unacknowledged alarm whose
// condition returns is the same alarm, raised again.
func TestClearedAlarmRaisedAgain(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	e := newEngine(t, c, "", pm10Rule(0, 0, 0))
	e.observe(reading(70, c.Now(), twin.Fresh))
	e.observe(reading(20, c.add(time.Minute), twin.Fresh))
	e.observe(reading(90, c.add(time.Minute), twin.Fresh))
	a := only(t, e)
	if a.State != Raised || a.Raises != 2 || a.ValueAtRaise != 90 || a.Peak != 90 || a.ClearedAt != nil {
		t.Fatalf("raised again: %+v", a)
	}
}

// TestStaleDataMovesNothing: a stale site neither raises nor clears.
func TestStaleDataMovesNothing(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	e := newEngine(t, c, "", pm10Rule(0, 0, time.Minute))
	e.observe(reading(70, c.Now(), twin.Stale))
	c.add(time.Hour)
	e.tick()
	if n := openCount(e); n != 0 {
		t.Fatalf("raised on stale data")
	}
	e.observe(reading(70, c.add(time.Second), twin.Fresh))
	c.add(time.Minute)
	e.tick()
	only(t, e)
	e.observe(reading(10, c.add(time.Second), twin.Offline))
	c.add(time.Hour)
	e.tick()
	if a := only(t, e); a.State != Raised {
		t.Fatalf("cleared on offline data: %+v", a)
	}
}

// TestRollingMean: a window rule compares the mean of the window's
// readings; old readings leave the window as time passes.
func TestRollingMean(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	e := newEngine(t, c, "", pm10Rule(5, time.Hour, 0))
	for _, v := range []float64{120, 20, 20} { // mean 53.3
		e.observe(reading(v, c.add(10*time.Minute), twin.Fresh))
	}
	a := only(t, e)
	if a.State != Raised || a.Window != "1h0m0s" || a.Value < 53 || a.Value > 54 {
		t.Fatalf("mean of 120, 20, 20: %+v", a)
	}
	// An hour later the 120 has left the window: mean 20, cleared.
	c.add(41 * time.Minute) // 09:11: the 120 of 08:10 has left the window
	e.observe(reading(20, c.Now(), twin.Fresh))
	if a := only(t, e); a.State != Cleared || a.Value != 20 {
		t.Fatalf("after the window slid: %+v", a)
	}
}

// TestEnergyMean: sound levels are averaged as energies.
func TestEnergyMean(t *testing.T) {
	w := newWindow(time.Hour)
	now := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	w.add(now, toMean(Energy, 70))
	w.add(now.Add(time.Minute), toMean(Energy, 50))
	m, _ := w.mean(now.Add(time.Minute))
	if got := fromMean(Energy, m); got < 66.9 || got > 67.1 { // 70 dB and 50 dB: 67.0 dB, not 60
		t.Fatalf("energy mean %v, want 67.0", got)
	}
}

// TestIndicatorRule: an indicator rule watches each area and the city.
func TestIndicatorRule(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	rules, _ := Rules(nil, true, "rules", func(string, string, ...any) {})
	var eaqi []Rule
	for _, r := range rules {
		if r.Indicator != "" {
			eaqi = append(eaqi, r)
		}
	}
	five, two := 5.0, 2.0
	fr := &fakeReader{inds: twin.Indicators{
		City: []twin.Indicator{{Name: twin.IndAirBandWorst, Value: &five, Sensors: 3}},
		Areas: []twin.AreaIndicators{
			{ID: "048017", Name: "Firenze", Indicators: []twin.Indicator{{Name: twin.IndAirBandWorst, Value: &five, Sensors: 1}}},
			{ID: "048033", Name: "Prato", Indicators: []twin.Indicator{{Name: twin.IndAirBandWorst, Value: &two, Sensors: 1}}},
			{ID: "048001", Name: "Bagno a Ripoli", Indicators: []twin.Indicator{{Name: twin.IndAirBandWorst}}},
		}}}
	e, err := New(Config{Reader: fr, Rules: eaqi, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.tick()
	c.add(15 * time.Minute)
	e.tick()
	open := e.List(Query{})
	if len(open) != 2 {
		t.Fatalf("open %+v, want the city and Firenze", open)
	}
	for _, a := range open {
		if a.Rule != "eaqi-very-poor" || (a.Entity != CityID && a.Entity != "048017") || a.Value != 5 {
			t.Errorf("alarm %+v", a)
		}
	}
}

// TestRestart: alarms, their acknowledgements and the alarm numbers
// survive a restart; a restored alarm clears on new readings.
func TestRestart(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "alarms.json")
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	e := newEngine(t, c, state, pm10Rule(0, 0, 0))
	e.observe(reading(70, c.Now(), twin.Fresh))
	a := only(t, e)
	if _, err := e.Ack(a.ID, "Maria", "192.0.2.7:1", ""); err != nil {
		t.Fatal(err)
	}
	e.save()

	e2 := newEngine(t, c, state, pm10Rule(0, 0, 0))
	b := only(t, e2)
	if b.ID != a.ID || b.State != Acknowledged || b.Acknowledged == nil || b.Acknowledged.By != "Maria" || b.Label.IT != "PM10 alto" {
		t.Fatalf("after restart: %+v", b)
	}
	e2.observe(reading(30, c.add(time.Minute), twin.Fresh))
	if b, _ := e2.Get(a.ID); b.State != Closed {
		t.Fatalf("restored alarm after a normal reading: %+v", b)
	}
	e2.observe(reading(90, c.add(time.Minute), twin.Fresh))
	e2.save()
	e3 := newEngine(t, c, state, pm10Rule(0, 0, 0))
	all := e3.List(Query{States: states})
	if len(all) != 2 || all[0].ID == a.ID || all[0].State != Raised || all[1].State != Closed {
		t.Fatalf("after a second restart: %+v", all)
	}

	// A rule removed from the config: its active alarm clears at start.
	e4 := newEngine(t, c, state)
	if got := e4.List(Query{States: []State{Cleared}}); len(got) != 1 || got[0].ClearReason != "rule removed" {
		t.Fatalf("alarm of a removed rule: %+v", got)
	}
}

// TestCorruptStateMovedAside: an unreadable state file does not stop the
// engine; it is kept aside for an operator.
func TestCorruptStateMovedAside(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "alarms.json")
	if err := os.WriteFile(state, []byte(`{"version":1,"alarms":[{"id":"x"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	e := newEngine(t, c, state, pm10Rule(0, 0, 0))
	if n := len(e.List(Query{States: states})); n != 0 {
		t.Fatalf("%d alarms from a corrupt file", n)
	}
	m, _ := filepath.Glob(state + ".corrupt-*")
	if len(m) != 1 {
		t.Fatalf("corrupt file not moved aside: %v", m)
	}
}

// TestCaps: at MaxOpen the oldest cleared alarm makes room; with none,
// the raise is refused; closed alarms beyond MaxClosed are forgotten.
func TestCaps(t *testing.T) {
	c := &clock{t: time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)}
	rules, _ := Rules([]RuleSpec{pm10Rule(0, 0, 0)}, false, "r", func(string, string, ...any) {})
	e, err := New(Config{Reader: &fakeReader{}, Rules: rules, Now: c.Now, MaxOpen: 1, MaxClosed: 1})
	if err != nil {
		t.Fatal(err)
	}
	site := func(id string, v float64) twin.Entity {
		ent := reading(v, c.add(time.Second), twin.Fresh)
		ent.ID = id
		return ent
	}
	e.observe(site("s1", 70))
	e.observe(site("s2", 70))
	if got := e.List(Query{}); len(got) != 1 || got[0].Entity != "s1" {
		t.Fatalf("over the cap: %+v", got)
	}
	e.observe(site("s1", 10)) // s1 cleared, unacknowledged
	e.observe(site("s2", 71))
	if got := e.List(Query{}); len(got) != 1 || got[0].Entity != "s2" {
		t.Fatalf("the cleared alarm should make room: %+v", got)
	}
	for i, v := range []float64{10, 80, 10} {
		e.observe(site("s2", v))
		for _, a := range e.List(Query{}) {
			if _, err := e.Ack(a.ID, "op", "", ""); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
	}
	if got := e.List(Query{States: []State{Closed}}); len(got) != 1 {
		t.Fatalf("closed kept %d, want 1", len(got))
	}
}

// TestShippedRulesMatchProfiles: every shipped rule compiles, and its
// point is one that a shipped firmware profile of its category reads.
func TestShippedRulesMatchProfiles(t *testing.T) {
	rules, ok := Rules(nil, true, "rules", func(p, f string, a ...any) { t.Errorf("%s: "+f, append([]any{p}, a...)...) })
	if !ok || len(rules) != len(Defaults()) {
		t.Fatalf("%d of %d shipped rules compile", len(rules), len(Defaults()))
	}
	files, _ := filepath.Glob("../../firmware-profiles/*.yaml")
	if len(files) == 0 {
		t.Fatal("no firmware profiles")
	}
	for _, r := range rules {
		if r.Point == "" {
			continue
		}
		found := false
		for _, f := range files {
			b, _ := os.ReadFile(f)
			s := string(b)
			if strings.Contains(s, "\ncategory: "+string(r.Category)+"\n") && strings.Contains(s, "{name: "+r.Point+",") {
				found = true
			}
		}
		if !found {
			t.Errorf("rule %s: no shipped %s profile reads a point %q", r.ID, r.Category, r.Point)
		}
	}
}

// TestRuleErrors: bad rules are reported with their field paths.
func TestRuleErrors(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	no := false
	specs := []RuleSpec{
		{ID: "eu-pm10-daily", Above: f(45)},      // override: fine
		{ID: "noise-class-iv-day", Enabled: &no}, // turned off
		{ID: "a", Point: "pm10", Indicator: twin.IndAirBandMean, Above: f(1), Below: f(2), Severity: "loud"},
		{ID: "a"},
		{ID: "bad id"},
		{ID: "b", Category: "smell", Point: "x", Above: f(1), Hysteresis: f(-1), Mean: "median", Severity: Minor, Label: Text{IT: "x"}},
	}
	var got []string
	rules, ok := Rules(specs, true, "twin.alarms.rules", func(p, format string, a ...any) {
		got = append(got, p)
	})
	if ok {
		t.Fatal("bad rules accepted")
	}
	want := []string{"twin.alarms.rules[3].id", "twin.alarms.rules[4].id",
		"twin.alarms.rules[2].indicator", "twin.alarms.rules[2].below", "twin.alarms.rules[2].severity", "twin.alarms.rules[2].label",
		"twin.alarms.rules[5].category", "twin.alarms.rules[5].hysteresis", "twin.alarms.rules[5].mean", "twin.alarms.rules[5].label"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("errors at\n%v\nwant\n%v", got, want)
	}
	for _, r := range rules {
		if r.ID == "noise-class-iv-day" {
			t.Error("a turned-off rule runs")
		}
		if r.ID == "eu-pm10-daily" && (r.Threshold != 45 || r.Window != 24*time.Hour || r.Label.IT == "") {
			t.Errorf("override: %+v", r)
		}
	}
}

// TestStateGolden: a version 1 state file, as a release wrote it, loads.
func TestStateGolden(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile("testdata/state-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "alarms.json")
	if err := os.WriteFile(state, data, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)}
	e := newEngine(t, c, state, pm10Rule(0, 0, 0))
	all := e.List(Query{States: states})
	if len(all) != 2 || all[0].ID != "al-1772438400002" || all[0].State != Raised || all[1].Acknowledged == nil ||
		all[1].Acknowledged.By != "Maria Rossi" || all[1].Location == nil || all[1].Location[0] != 11.27 || all[1].Unit != "µg/m³" {
		t.Fatalf("loaded %+v", all)
	}
	// The next alarm continues the numbering.
	if e.seq < 1772438400002 {
		t.Fatalf("seq %d", e.seq)
	}
}
