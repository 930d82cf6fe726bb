package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paulmach/orb"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/twin"
)

// roadMetres is how far a generated device may stand from its street's
// centre line (sideOffsetMetres and the fixture's precision).
const roadMetres = 15

func testPlan(t *testing.T) *Plan {
	t.Helper()
	port := 20000
	plan, err := MakePlan(PlanConfig{Root: "../..", Work: t.TempDir(),
		Port:   func() int { port++; return port },
		Secret: func() string { return "demo-secret-0123456789abcdef" },
		Ingest: "127.0.0.1:19999"})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestCity: the city the demo runs is a city: at least three gateways in
// Firenze and Bari, at least 100 devices, every firmware profile, the
// shipped example gateways among them, a Modbus RTU line, serial devices
// and LoRaWAN over MQTT.
func TestCity(t *testing.T) {
	plan := testPlan(t)
	if n := len(plan.Gateways); n < 3 {
		t.Errorf("%d gateways, want at least 3", n)
	}
	if n := plan.Devices(); n < 100 {
		t.Errorf("%d devices, want at least 100", n)
	}
	if got := plan.Cities(); !slices.Equal(got, []string{"Bari", "Firenze"}) {
		t.Errorf("cities %v, want [Bari Firenze]", got)
	}
	used := map[string]bool{}
	schemes := map[string]bool{}
	ids := map[string]bool{}
	for _, g := range plan.Gateways {
		ids[g.Site.Gateway.ID] = true
		for _, d := range g.Site.Devices {
			used[d.Profile] = true
			schemes[strings.SplitN(d.Address, ":", 2)[0]] = true
		}
	}
	profiles, _ := filepath.Glob("../../firmware-profiles/*.yaml")
	if len(profiles) == 0 {
		t.Fatal("no profiles in firmware-profiles/")
	}
	for _, p := range profiles {
		if name := strings.TrimSuffix(filepath.Base(p), ".yaml"); !used[name] {
			t.Errorf("profile %s is used by no device", name)
		}
	}
	for _, s := range []string{"tcp", "rtu", "serial", "mqtt"} {
		if !schemes[s] {
			t.Errorf("no device on a %s:// address", s)
		}
	}
	examples, _ := filepath.Glob("../../deploy/sites/*.yaml")
	for _, e := range examples {
		s, err := site.Load(e, site.Options{Offline: true, ProfilesDir: "../../firmware-profiles"})
		if err != nil {
			t.Fatal(err)
		}
		if !ids[s.Gateway.ID] {
			t.Errorf("example gateway %s (%s) is not in the demo", s.Gateway.ID, e)
		}
	}
	var mqttSims, rtuSims int
	for _, s := range plan.Sims {
		switch s.Transport {
		case "mqtt":
			mqttSims++
			if len(s.IDs) == 0 {
				t.Errorf("simulator %s serves no MQTT ids", s.Name)
			}
		case "rtu", "tcp":
			if s.Transport == "rtu" {
				rtuSims++
			}
			if len(s.Units) == 0 {
				t.Errorf("simulator %s serves no units", s.Name)
			}
		}
	}
	if mqttSims == 0 || rtuSims == 0 || len(plan.Ptys) == 0 || len(plan.Brokers) == 0 {
		t.Errorf("simulators: %d mqtt, %d rtu, %d ptys, %d brokers; want some of each", mqttSims, rtuSims, len(plan.Ptys), len(plan.Brokers))
	}
}

// TestDevicesOnTheMap: every device stands inside an ISTAT municipality of
// its gateway's city, and every generated device within roadMetres of a
// named road of that city. The examples keep their shipped positions,
// names, entities and areas.
func TestDevicesOnTheMap(t *testing.T) {
	plan := testPlan(t)
	areas := loadAreas(t)
	roadsLayer, err := geo.LoadLayer("../../geo/testdata/roads.geojson", geo.KindRoads, geo.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	roads, err := geo.NewRoads(roadsLayer)
	if err != nil {
		t.Fatal(err)
	}
	province := map[string]string{"Firenze": "FI", "Bari": "BA"}
	for _, g := range plan.Gateways {
		generated := isGenerated(g.Site.Gateway.ID)
		for _, d := range g.Site.Devices {
			pt := orb.Point{d.Location.Lon, d.Location.Lat}
			a, ok := areas.Locate(pt)
			if !ok {
				t.Errorf("%s/%s at %v: in no municipality", g.Site.Gateway.ID, d.Name, pt)
				continue
			}
			if a.Props["prov_acr"] != province[g.City] {
				t.Errorf("%s/%s at %v: in %s (%v), not in the %s metropolitan area", g.Site.Gateway.ID, d.Name, pt, a.Name, a.Props["prov_acr"], g.City)
			}
			if !generated {
				continue
			}
			if d.Area != a.Name {
				t.Errorf("%s/%s: area %q, but it stands in %s", g.Site.Gateway.ID, d.Name, d.Area, a.Name)
			}
			road, m, ok := roads.Nearest(pt, roadMetres)
			if !ok {
				t.Errorf("%s/%s at %v: no named road within %d m", g.Site.Gateway.ID, d.Name, pt, roadMetres)
				continue
			}
			if road.Props["city"] != g.City {
				t.Errorf("%s/%s: nearest road %s (%.0f m) is in %v, not %s", g.Site.Gateway.ID, d.Name, road.Name, m, road.Props["city"], g.City)
			}
		}
	}
	fi := gatewayOf(t, plan, "fi-lighting-q2-0042")
	shipped, err := site.Load("../../deploy/sites/firenze-lighting-cabinet.yaml", site.Options{Offline: true, ProfilesDir: "../../firmware-profiles"})
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range shipped.Devices {
		got := fi.Site.Devices[i]
		if got.Name != d.Name || got.Entity != d.Entity || got.Area != d.Area || *got.Location != *d.Location || got.Interval != d.Interval {
			t.Errorf("example device %s changed: %+v, shipped %+v", d.Name, got, d)
		}
	}
}

func isGenerated(id string) bool {
	for _, g := range generatedGateways {
		if g.id == id {
			return true
		}
	}
	return false
}

func gatewayOf(t *testing.T, plan *Plan, id string) *Gateway {
	t.Helper()
	for _, g := range plan.Gateways {
		if g.Site.Gateway.ID == id {
			return g
		}
	}
	t.Fatalf("no gateway %s", id)
	return nil
}

func loadAreas(t *testing.T) *geo.Areas {
	t.Helper()
	merged := &geo.Layer{Name: "municipalities", Kind: geo.KindAreas}
	for _, city := range []string{"firenze", "bari"} {
		l, err := geo.LoadLayer("../../geo/data/"+city+"-metro-municipalities.geojson", geo.KindAreas, geo.LoadOptions{IDProperty: "com_istat_code"})
		if err != nil {
			t.Fatal(err)
		}
		merged.Features = append(merged.Features, l.Features...)
		merged.Bound = merged.Bound.Union(l.Bound)
	}
	a, err := geo.NewAreas(merged)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestSiteConfigsLoad: every site config the demo writes loads with the
// site package and passes the edge agent's own checks (addresses fitting
// their transports, the buffer's limits), with the uplink on the local
// ingest, a password, no TLS files, and the status API on loopback.
func TestSiteConfigsLoad(t *testing.T) {
	plan := testPlan(t)
	if err := plan.WriteSites(); err != nil {
		t.Fatal(err)
	}
	for _, g := range plan.Gateways {
		s, err := agent.Load(g.File, site.Options{Offline: true})
		if err != nil {
			t.Errorf("%s: %v", g.File, err)
			continue
		}
		if s.Uplink.Broker != "tcp://127.0.0.1:19999" || s.Uplink.Secret() != g.Password || s.Uplink.TLS != nil {
			t.Errorf("%s: uplink %+v, want the local ingest with the generated password and no TLS", g.File, s.Uplink)
		}
		if s.HTTP.Listen != g.HTTP || !strings.HasPrefix(g.HTTP, "127.0.0.1:") {
			t.Errorf("%s: http.listen %q, want %q on loopback", g.File, s.HTTP.Listen, g.HTTP)
		}
		if len(s.Devices) != len(g.Site.Devices) {
			t.Errorf("%s: %d devices read back, %d planned", g.File, len(s.Devices), len(g.Site.Devices))
		}
		info, err := os.Stat(g.File)
		if err != nil || info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: others may read it (it holds a password): %v %v", g.File, info.Mode(), err)
		}
	}
}

// TestSummaryLine: the bounded run's last line is one JSON object with
// exactly the fields scripts read, and a run with a dead letter or a
// silent device is not ok and names them.
func TestSummaryLine(t *testing.T) {
	plan := testPlan(t)
	snap := snapshot{Influx: map[string]bool{}}
	for _, g := range plan.Gateways {
		snap.Gateways = append(snap.Gateways, gatewayStatus{ID: g.Site.Gateway.ID})
		for _, d := range g.Site.Devices {
			snap.Influx[g.Site.Gateway.ID+"/"+d.Name] = true
		}
	}
	sum, problems := summarize(plan, snap)
	if !sum.OK || len(problems) > 0 {
		t.Fatalf("all devices in InfluxDB, none dead-lettered: ok %v, problems %v", sum.OK, problems)
	}
	line := sum.Line()
	if strings.Contains(line, "\n") {
		t.Errorf("summary spans lines: %q", line)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(mapKeys(got))
	if want := []string{"cities", "dead_letters", "devices", "devices_in_influx", "gateways", "ok"}; !slices.Equal(keys, want) {
		t.Errorf("summary keys %v, want %v", keys, want)
	}
	if got["gateways"] != float64(len(plan.Gateways)) || got["devices"] != float64(plan.Devices()) || got["devices_in_influx"] != float64(plan.Devices()) || got["ok"] != true {
		t.Errorf("summary %s", line)
	}
	if c, _ := got["cities"].([]any); len(c) != 2 || c[0] != "Bari" || c[1] != "Firenze" {
		t.Errorf("cities %v, want [Bari Firenze]", got["cities"])
	}

	// One dead letter and one silent device.
	first := plan.Gateways[0]
	silent := first.Site.Gateway.ID + "/" + first.Site.Devices[0].Name
	delete(snap.Influx, silent)
	snap.Gateways[1].DeadReadings, snap.Gateways[1].DeadLetters, snap.Gateways[1].deadDevices = 4, 1, []string{"x-meter"}
	sum, problems = summarize(plan, snap)
	if sum.OK || sum.DeadLetters != 4 || sum.DevicesInInflux != plan.Devices()-1 {
		t.Errorf("summary %s, want ok false, 4 dead letters, %d devices in InfluxDB", sum.Line(), plan.Devices()-1)
	}
	all := strings.Join(problems, "\n")
	for _, want := range []string{silent, "x-meter", snap.Gateways[1].ID} {
		if !strings.Contains(all, want) {
			t.Errorf("problems do not name %s:\n%s", want, all)
		}
	}
}

// TestCityTenants: each city of the demo is a tenant with its own
// gateways; every gateway belongs to exactly one; their IDs are valid.
func TestCityTenants(t *testing.T) {
	plan := testPlan(t)
	tenants := cityTenants(plan)
	if len(tenants) != len(plan.Cities()) {
		t.Fatalf("%d tenants for cities %v", len(tenants), plan.Cities())
	}
	owner := map[string]string{}
	for _, tn := range tenants {
		if !twin.ValidTenantID(tn.ID) || tn.Token == "" || len(tn.Gateways) == 0 {
			t.Errorf("tenant %+v", tn)
		}
		for _, g := range tn.Gateways {
			if o, dup := owner[g]; dup {
				t.Errorf("gateway %s in %s and %s", g, o, tn.ID)
			}
			owner[g] = tn.ID
		}
	}
	for _, g := range plan.Gateways {
		if want := strings.ToLower(g.City); owner[g.Site.Gateway.ID] != want {
			t.Errorf("gateway %s (%s) is tenant %q's", g.Site.Gateway.ID, g.City, owner[g.Site.Gateway.ID])
		}
	}
}
