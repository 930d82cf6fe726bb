package twin

import (
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/wire"
)

// checkInventory recounts, from the sites, what the groups, the indexes
// and the indicator sums must hold, and compares.
func checkInventory(t *testing.T, tw *Twin) {
	t.Helper()
	tw.mu.RLock()
	defer tw.mu.RUnlock()
	members := map[*node]map[Freshness]int{}
	count := func(g *node, fr Freshness) {
		if members[g] == nil {
			members[g] = map[Freshness]int{}
		}
		members[g][fr]++
	}
	city := agg{}
	areaSums := map[*node]*agg{}
	for key, n := range tw.sites {
		if tw.byID[n.snap.ID] != n || key != (siteKey{n.site.Gateway, n.site.Device}) {
			t.Errorf("site %v: not the entity %s of the index", key, n.snap.ID)
		}
		if n.gw == nil || tw.gws[key.gateway] != n.gw || !containsNode(n.gw.sitesOf, n) {
			t.Errorf("site %v: not a site of its gateway", key)
		}
		count(n.gw, n.snap.Freshness)
		if n.area != nil {
			count(n.area, n.snap.Freshness)
			if areaSums[n.area] == nil {
				areaSums[n.area] = &agg{}
			}
			areaSums[n.area].add(n.contr, 1)
		}
		if n.road != nil && n.site.Category == "traffic" {
			count(n.road, n.snap.Freshness)
		}
		city.add(n.contr, 1)
	}
	for _, n := range tw.byID {
		if n.members == nil {
			continue
		}
		for _, fr := range []Freshness{Fresh, Stale, Offline, Unknown} {
			if got, want := n.members[fr], members[n][fr]; got != want {
				t.Errorf("%s %s: %d %s members, want %d", n.snap.Kind, n.snap.ID, got, fr, want)
			}
		}
		if n.snap.Kind == KindArea {
			want := agg{}
			if s := areaSums[n]; s != nil {
				want = *s
			}
			if got := n.agg; got.traffic != want.traffic || got.noiseN != want.noiseN || got.airN != want.airN || got.parkingN != want.parkingN {
				t.Errorf("area %s sums %+v, want %+v", n.snap.ID, got, want)
			}
		}
	}
	if city.noiseN != tw.city.noiseN || city.traffic != tw.city.traffic || city.airN != tw.city.airN {
		t.Errorf("city sums %+v, want %+v", tw.city, city)
	}
	for id, g := range tw.gws {
		if len(g.sitesOf) == 0 || tw.byID[g.snap.ID] != g || g.snap.Gateway != id {
			t.Errorf("gateway %s: %d sites, indexed %v", id, len(g.sitesOf), tw.byID[g.snap.ID] == g)
		}
	}
	// The sorted list and the spatial index hold exactly the entities.
	if len(tw.nodes) != len(tw.byID) || !sort.SliceIsSorted(tw.nodes, func(i, j int) bool { return tw.nodes[i].snap.ID < tw.nodes[j].snap.ID }) {
		t.Errorf("%d sorted entities, %d by ID", len(tw.nodes), len(tw.byID))
	}
	world := orb.Bound{Min: orb.Point{-180, -90}, Max: orb.Point{180, 90}}
	for _, f := range tw.index.Query(world) {
		n := tw.byID[f.ID]
		if n == nil || n.bound != f.Bound {
			t.Errorf("index holds %s at %v, not an entity there", f.ID, f.Bound)
		}
	}
	if n := len(tw.index.Query(world)); n != len(tw.byID) {
		t.Errorf("index holds %d entities, want %d", n, len(tw.byID))
	}
}

func containsNode(ns []*node, n *node) bool {
	for _, x := range ns {
		if x == n {
			return true
		}
	}
	return false
}

// around is a bbox of about 200 m around a place.
func around(p [2]float64) *orb.Bound {
	return &orb.Bound{Min: orb.Point{p[0] - 0.001, p[1] - 0.001}, Max: orb.Point{p[0] + 0.001, p[1] + 0.001}}
}

func ids(es []Entity) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

// byEntity sums up changes: the last change per entity ID.
func byEntity(cs []Change) map[string]Change {
	out := map[string]Change{}
	for _, c := range cs {
		out[c.Entity.ID] = c
	}
	return out
}

func TestSetGatewaySitesAddMoveRemove(t *testing.T) {
	noise := siteAt("gw", "noise", "noise", duomo)
	traffic := siteAt("gw", "counter", "traffic", lavagnini)
	other := siteAt("gw2", "bay", "parking", aldoMoro)
	tw, clk := newTwin(t, []Site{noise, traffic, other})
	const (
		noiseID   = "urn:ngsi-ld:NoiseLevelObserved:gw:noise"
		counterID = "urn:ngsi-ld:TrafficFlowObserved:gw:counter"
		airID     = "urn:ngsi-ld:AirQualityObserved:gw:air"
		gwID      = "urn:ngsi-ld:Device:gw"
	)
	tw.Apply("gw", 1, batch("gw", rd("noise", "LAeq", wire.Float(60), "dB", t0),
		rd("counter", "lane1_intensity", wire.Float(600), "1/h", t0), rd("counter", "lane1_occupancy", wire.Float(45), "%", t0)))
	if e, _ := tw.Entity("FI-04"); e.Freshness != Fresh || e.Attrs["congested"].Value != true {
		t.Fatalf("road FI-04 %s %v before, want fresh and congested", e.Freshness, e.Attrs)
	}
	checkInd(t, indicator(t, areaIndicators(t, tw, "048017"), IndNoiseLAeqMean), 60, 1)
	checkInventory(t, tw)
	ch, unsub := tw.Subscribe(Filter{}, 0)
	defer unsub()

	t.Run("add and move", func(t *testing.T) {
		clk.Set(t0.Add(time.Second))
		moved := noise
		moved.Lon, moved.Lat = fiesole[0], fiesole[1]
		air := siteAt("gw", "air", "air", duomo)
		if err := tw.SetGatewaySites("gw", []Site{moved, traffic, air}); err != nil {
			t.Fatal(err)
		}
		checkInventory(t, tw)
		e, ok := tw.Entity(noiseID)
		if !ok || e.Area != "048015" || e.Attrs["LAeq"].Value != 60.0 || e.Freshness != Fresh || !e.Updated.Equal(t0) {
			t.Errorf("moved site: %v area %s attrs %v %s, want in Fiesole 048015 with its reading, fresh", ok, e.Area, e.Attrs, e.Freshness)
		}
		if p := e.Geometry.(orb.Point); p != (orb.Point{fiesole[0], fiesole[1]}) {
			t.Errorf("moved site at %v", p)
		}
		a, ok := tw.Entity(airID)
		if !ok || a.Area != "048017" || a.Freshness != Unknown || a.Kind != KindSite || a.Gateway != "gw" {
			t.Errorf("added site: %v %+v", ok, a)
		}
		// The indicators followed the noise meter to Fiesole.
		if in := indicator(t, areaIndicators(t, tw, "048017"), IndNoiseLAeqMean); in.Sensors != 0 {
			t.Errorf("Firenze noise rests on %d sensors, want 0", in.Sensors)
		}
		checkInd(t, indicator(t, areaIndicators(t, tw, "048015"), IndNoiseLAeqMean), 60, 1)
		if fi, _ := tw.Entity("048017"); fi.Freshness != Fresh { // the counter is still there
			t.Errorf("Firenze %s, want fresh", fi.Freshness)
		}
		// Spatial queries find it where it is now.
		if got := ids(tw.Entities(Filter{Bound: around(fiesole), Types: []string{"site"}})); !slicesEqual(got, []string{noiseID}) {
			t.Errorf("around Fiesole: %v", got)
		}
		if got := ids(tw.Entities(Filter{Bound: around(duomo), Types: []string{"site"}})); !slicesEqual(got, []string{airID}) {
			t.Errorf("around the Duomo: %v", got)
		}
		// The gateway moved to the new centroid.
		g, _ := tw.Entity(gwID)
		want := orb.Point{(fiesole[0] + lavagnini[0] + duomo[0]) / 3, (fiesole[1] + lavagnini[1] + duomo[1]) / 3}
		if p := g.Geometry.(orb.Point); !near(p[0], want[0]) || !near(p[1], want[1]) {
			t.Errorf("gateway at %v, want %v", p, want)
		}
		got := byEntity(drain(ch, 100, 200*time.Millisecond))
		for _, id := range []string{noiseID, airID, gwID, "048015"} {
			if c, ok := got[id]; !ok || c.Removed {
				t.Errorf("no change of %s streamed (%v)", id, c)
			}
		}
		if got[noiseID].Entity.Area != "048015" {
			t.Errorf("streamed moved site in area %q", got[noiseID].Entity.Area)
		}
		if _, ok := got[counterID]; ok {
			t.Error("the unchanged counter was streamed")
		}
	})

	t.Run("same sites again", func(t *testing.T) {
		moved := noise
		moved.Lon, moved.Lat = fiesole[0], fiesole[1]
		before := tw.LastSeq()
		// Another order: the same inventory.
		if err := tw.SetGatewaySites("gw", []Site{siteAt("gw", "air", "air", duomo), traffic, moved}); err != nil {
			t.Fatal(err)
		}
		if tw.LastSeq() != before {
			t.Errorf("%d changes from the same sites", tw.LastSeq()-before)
		}
		if got := drain(ch, 1, 100*time.Millisecond); len(got) != 0 {
			t.Errorf("streamed %v", got)
		}
	})

	t.Run("remove", func(t *testing.T) {
		air := siteAt("gw", "air", "air", duomo)
		if err := tw.SetGatewaySites("gw", []Site{air}); err != nil {
			t.Fatal(err)
		}
		checkInventory(t, tw)
		for _, id := range []string{noiseID, counterID} {
			if _, ok := tw.Entity(id); ok {
				t.Errorf("%s still an entity", id)
			}
		}
		if got := ids(tw.Entities(Filter{Types: []string{"site"}})); !slicesEqual(got, []string{airID, "urn:ngsi-ld:ParkingSpot:gw2:bay"}) {
			t.Errorf("sites %v", got)
		}
		if got := tw.Entities(Filter{Bound: around(fiesole), Types: []string{"site"}}); len(got) != 0 {
			t.Errorf("around Fiesole: %v", ids(got))
		}
		// The road lost its only counter: no congestion known.
		if e, _ := tw.Entity("FI-04"); e.Freshness != Unknown || e.Attrs != nil {
			t.Errorf("road FI-04 %s %v, want unknown without congestion", e.Freshness, e.Attrs)
		}
		if in := indicator(t, tw.Indicators().City, IndTrafficIntensity); in.Sensors != 0 || in.Value != nil {
			t.Errorf("city traffic %v on %d sensors, want none", in.Value, in.Sensors)
		}
		got := byEntity(drain(ch, 100, 200*time.Millisecond))
		for _, id := range []string{noiseID, counterID} {
			if c := got[id]; !c.Removed || c.Entity.ID != id {
				t.Errorf("removal of %s streamed as %+v", id, c)
			}
		}
		if c := got["FI-04"]; c.Removed || c.Entity.Freshness != Unknown {
			t.Errorf("road change %+v", c)
		}
		// A reading of a removed device is one of an unknown device.
		tw.Apply("gw", 2, batch("gw", rd("noise", "LAeq", wire.Float(61), "dB", t0.Add(time.Second))))
		if _, ok := tw.Entity(noiseID); ok {
			t.Error("a reading brought a removed site back")
		}
	})

	t.Run("last site removes the gateway", func(t *testing.T) {
		if err := tw.SetGatewaySites("gw", nil); err != nil {
			t.Fatal(err)
		}
		checkInventory(t, tw)
		if _, ok := tw.Entity(gwID); ok {
			t.Error("gateway entity without sites")
		}
		got := byEntity(drain(ch, 100, 200*time.Millisecond))
		if !got[gwID].Removed || !got[airID].Removed {
			t.Errorf("changes %v", got)
		}
	})

	t.Run("new gateway", func(t *testing.T) {
		sites := []Site{siteAt("gw3", "a", "noise", cavourBari), siteAt("gw3", "b", "noise", aldoMoro)}
		if err := tw.SetGatewaySites("gw3", sites); err != nil {
			t.Fatal(err)
		}
		checkInventory(t, tw)
		g, ok := tw.Entity("urn:ngsi-ld:Device:gw3")
		want := orb.Point{(cavourBari[0] + aldoMoro[0]) / 2, (cavourBari[1] + aldoMoro[1]) / 2}
		if p, _ := g.Geometry.(orb.Point); !ok || g.Kind != KindGateway || !near(p[0], want[0]) || !near(p[1], want[1]) {
			t.Errorf("gateway %v %+v", ok, g)
		}
		got := byEntity(drain(ch, 100, 200*time.Millisecond))
		for _, id := range []string{"urn:ngsi-ld:Device:gw3", "urn:ngsi-ld:NoiseLevelObserved:gw3:a", "urn:ngsi-ld:NoiseLevelObserved:gw3:b"} {
			if c, ok := got[id]; !ok || c.Removed {
				t.Errorf("no change of %s", id)
			}
		}
		// Its readings count at once.
		tw.Apply("gw3", 1, batch("gw3", rd("a", "LAeq", wire.Float(50), "dB", clk.Now())))
		checkInd(t, indicator(t, areaIndicators(t, tw, "072006"), IndNoiseLAeqMean), 50, 1)
		checkInventory(t, tw)
	})
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

// TestSetGatewaySitesNewEntityID: a site whose entity ID changes is a new
// entity; the old one is removed.
func TestSetGatewaySitesNewEntityID(t *testing.T) {
	s := siteAt("gw", "meter", "noise", duomo)
	tw, _ := newTwin(t, []Site{s})
	tw.Apply("gw", 1, batch("gw", rd("meter", "LAeq", wire.Float(60), "dB", t0)))
	ch, unsub := tw.Subscribe(Filter{}, 0)
	defer unsub()
	s.Entity = "urn:ngsi-ld:NoiseLevelObserved:fi-duomo"
	if err := tw.SetGatewaySites("gw", []Site{s}); err != nil {
		t.Fatal(err)
	}
	checkInventory(t, tw)
	if _, ok := tw.Entity("urn:ngsi-ld:NoiseLevelObserved:gw:meter"); ok {
		t.Error("old entity still there")
	}
	e, ok := tw.Entity(s.Entity)
	if !ok || e.Freshness != Unknown || len(e.Attrs) != 0 {
		t.Errorf("new entity %v %+v, want a fresh start", ok, e)
	}
	got := byEntity(drain(ch, 100, 200*time.Millisecond))
	if !got["urn:ngsi-ld:NoiseLevelObserved:gw:meter"].Removed || got[s.Entity].Removed || got[s.Entity].Seq == 0 {
		t.Errorf("changes %+v", got)
	}
	// Two devices of the gateway swap entity IDs in one call.
	a, b := siteAt("gw", "a", "noise", duomo), siteAt("gw", "b", "noise", fiesole)
	a.Entity, b.Entity = "urn:ngsi-ld:NoiseLevelObserved:x", "urn:ngsi-ld:NoiseLevelObserved:y"
	if err := tw.SetGatewaySites("gw", []Site{a, b}); err != nil {
		t.Fatal(err)
	}
	a.Entity, b.Entity = b.Entity, a.Entity
	if err := tw.SetGatewaySites("gw", []Site{a, b}); err != nil {
		t.Fatalf("swap: %v", err)
	}
	checkInventory(t, tw)
	if e, _ := tw.Entity("urn:ngsi-ld:NoiseLevelObserved:x"); e.Device != "b" {
		t.Errorf("x is device %q, want b", e.Device)
	}
}

// TestSetGatewaySitesCategoryChange: an entity whose ID stays keeps its
// readings, derived again for its new category.
func TestSetGatewaySitesCategoryChange(t *testing.T) {
	s := siteAt("gw", "box", "weather", duomo)
	s.Entity = "urn:ngsi-ld:Device:box-1" // a fixed ID whatever the category
	tw, _ := newTwin(t, []Site{s})
	tw.Apply("gw", 1, batch("gw", rd("box", "humidity", wire.Float(50), "%", t0)))
	if e, _ := tw.Entity(s.Entity); e.Attrs["relativeHumidity"].Value != 0.5 {
		t.Fatalf("attrs %v", e.Attrs)
	}
	s.Category = "air"
	s.Interval = 10 * time.Minute
	if err := tw.SetGatewaySites("gw", []Site{s}); err != nil {
		t.Fatal(err)
	}
	checkInventory(t, tw)
	e, _ := tw.Entity(s.Entity)
	if e.Category != "air" || e.Attrs["relativeHumidity"].Value != 0.5 || e.Freshness != Fresh {
		t.Errorf("after the change: %s %v %s", e.Category, e.Attrs, e.Freshness)
	}
}

func TestSetGatewaySitesRefused(t *testing.T) {
	tw, _ := newTwin(t, []Site{siteAt("gw", "a", "noise", duomo), siteAt("gw2", "b", "noise", duomo)})
	taken := siteAt("gw", "c", "noise", duomo)
	taken.Entity = "urn:ngsi-ld:NoiseLevelObserved:gw2:b"
	area := siteAt("gw", "c", "noise", duomo)
	area.Entity = "048017"
	dupA, dupB := siteAt("gw", "c", "noise", duomo), siteAt("gw", "d", "noise", duomo)
	dupA.Entity, dupB.Entity = "urn:x", "urn:x"
	gwOwn := siteAt("gw", "c", "noise", duomo)
	gwOwn.Entity = "urn:ngsi-ld:Device:gw"
	for _, c := range []struct {
		name  string
		sites []Site
		want  string
	}{
		{"another gateway's site", []Site{siteAt("gw2", "x", "noise", duomo)}, `gateway "gw2", expected "gw"`},
		{"no device", []Site{siteAt("gw", "", "noise", duomo)}, "device: required"},
		{"device twice", []Site{siteAt("gw", "a", "noise", duomo), siteAt("gw", "a", "noise", duomo)}, "same gateway and device"},
		{"bad category", []Site{siteAt("gw", "a", "nope", duomo)}, `category "nope"`},
		{"bad location", []Site{siteAt("gw", "a", "noise", [2]float64{200, 0})}, "WGS84"},
		{"no interval", []Site{{Gateway: "gw", Device: "a", Category: "noise"}}, "interval"},
		{"ID of another gateway's site", []Site{taken}, `held by device "b" of gateway gw2`},
		{"ID of an area", []Site{area}, "held by area 048017"},
		{"ID twice", []Site{dupA, dupB}, "also taken by sites[0]"},
		{"the gateway's ID", []Site{gwOwn}, "the gateway's own"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := tw.LastSeq()
			err := tw.SetGatewaySites("gw", c.sites)
			if !errors.Is(err, ErrSites) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrSites saying %q", err, c.want)
			}
			if tw.LastSeq() != before {
				t.Error("a refused call changed the twin")
			}
			if _, ok := tw.Entity("urn:ngsi-ld:NoiseLevelObserved:gw:a"); !ok {
				t.Error("a refused call removed a site")
			}
			checkInventory(t, tw)
		})
	}
	if err := tw.SetGatewaySites("bad gw!", nil); !errors.Is(err, ErrSites) {
		t.Errorf("invalid gateway ID: %v", err)
	}
}

// TestSetGatewaySitesConcurrent: readers, a subscriber, readings and
// status messages run while a gateway's sites keep changing (run with
// -race); the books balance at the end.
func TestSetGatewaySitesConcurrent(t *testing.T) {
	base := noiseSites(20)
	tw, clk := newTwin(t, base)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	ch, unsub := tw.Subscribe(Filter{Bound: around(duomo)}, 0)
	removed := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for c := range ch {
			if c.Removed {
				removed++
			}
		}
	}()
	reader := func(f func()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					f()
				}
			}
		}()
	}
	reader(func() { _ = tw.Entities(Filter{Bound: around(duomo)}) })
	reader(func() { _ = tw.Entities(Filter{Types: []string{"gateway"}}) })
	reader(func() { _, _ = tw.Entity("urn:ngsi-ld:NoiseLevelObserved:gw:n3") })
	reader(func() { _ = tw.Indicators() })
	reader(func() {
		tw.Apply("gw", 1, batch("gw", rd("n3", "LAeq", wire.Float(60), "dB", clk.Now()), rd("n15", "LAeq", wire.Float(60), "dB", clk.Now())))
		tw.SetGatewayStatus(wire.Status{Gateway: "gw", State: wire.StateOnline, Time: clk.Now(), Health: &wire.Health{Buffered: 3}})
		tw.Tick(clk.Now())
	})
	for i := range 200 {
		n := 5 + i%16 // between 5 and 20 sites: some come and go
		sites := append([]Site(nil), base[:n]...)
		if i%3 == 0 {
			sites[0].Lon += 0.0001 // and one moves
		}
		if err := tw.SetGatewaySites("gw", sites); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			tw.SetGatewayRevoked("gw", i%100 == 0)
		}
	}
	close(stop)
	unsub()
	wg.Wait()
	checkInventory(t, tw)
	if removed == 0 {
		t.Error("the subscriber saw no removal")
	}
	if got := len(tw.Entities(Filter{Types: []string{"site"}})); got != 5+199%16 {
		t.Errorf("%d sites at the end, want %d", got, 5+199%16)
	}
}
