package main

import (
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"

	"github.com/ponte-city/ponte/geo"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/internal/yamlconf"
)

// The city the demo runs: the example site configs of deploy/sites/ (a
// street-lighting cabinet in Firenze, a signalised junction in Bari) and
// one gateway per city whose devices stand along the named streets of
// geo/testdata/roads.geojson (hand-placed centre lines of central Firenze
// and Bari, see its README). A generated device's position is interpolated
// along its street at an even spacing and moved sideOffsetMetres off the
// centre line, to one side or the other of the street, as poles and
// cabinets stand; its area is the ISTAT municipality (geo/data) that
// contains it.

// sideOffsetMetres is how far a generated device stands from its street's
// centre line.
const sideOffsetMetres = 7

// group is a batch of identical devices of a generated gateway.
type group struct {
	// prefix names the devices (<gateway>-<prefix>-NN) and entity is
	// their twin entity type (urn:ngsi-ld:<entity>:<name>).
	prefix, entity string
	profile        string
	count          int
	// transport: "tcp" (Modbus TCP), "rtu" (Modbus RTU on a pty),
	// "serial" (a pty per device), "mqtt" (the city's LoRaWAN network
	// server's broker), "rsmp" (an RSMP site per device).
	transport string
	interval  string
	// idBase is the first DevEUI of MQTT devices (hex, counted up).
	idBase uint64
}

// generated is a gateway the demo adds to the examples.
type generated struct {
	id, city string
	// roadPrefix selects the city's streets by feature ID (FI-, BA-).
	roadPrefix string
	groups     []group
}

// generatedGateways are the demo's own cabinets, one per city. Devices
// share a Modbus TCP endpoint as the units behind one TCP-to-RS-485
// gateway in the cabinet do; the LoRaWAN sensors' intervals are the
// demo's (seconds, so that the twin moves while someone watches).
var generatedGateways = []generated{
	{id: "fi-centro-duomo", city: "Firenze", roadPrefix: "FI-", groups: []group{
		{prefix: "meter", entity: "StreetlightControlCabinet", profile: "eastron-sdm630-v2", count: 28, transport: "tcp", interval: "5s"},
		{prefix: "tsc", entity: "TrafficSignalController", profile: "signal-controller-status", count: 7, transport: "tcp", interval: "2s"},
		{prefix: "air", entity: "AirQualityObserved", profile: "vaisala-aqt420", count: 4, transport: "rtu", interval: "10s"},
		{prefix: "noise", entity: "NoiseLevelObserved", profile: "milesight-ws302-tts", count: 21, transport: "mqtt", interval: "10s", idBase: 0x24e124743c220001},
		// Writable lighting (issue 16): DALI lines behind an Intesis
		// Modbus gateway in the cabinets, and WS558 LoRaWAN controllers
		// switching circuits through ChirpStack.
		{prefix: "dali", entity: "StreetlightControlCabinet", profile: "intesis-dali-modbus", count: 3, transport: "tcp", interval: "5s"},
		{prefix: "ws558", entity: "StreetlightControlCabinet", profile: "milesight-ws558-chirpstack", count: 4, transport: "mqtt", interval: "10s", idBase: 0x24e124468d100001},
		// Traffic light controllers supervised over RSMP: their plan,
		// and the plan request (M0002).
		{prefix: "tlc", entity: "TrafficSignalController", profile: "rsmp-tlc-sxl-1.2", count: 2, transport: "rsmp", interval: "5s"},
	}},
	{id: "ba-centro-murat", city: "Bari", roadPrefix: "BA-", groups: []group{
		{prefix: "bay", entity: "ParkingSpot", profile: "bosch-pls-chirpstack", count: 30, transport: "mqtt", interval: "10s", idBase: 0x70b3d57ed0053a01},
		{prefix: "tsc", entity: "TrafficSignalController", profile: "signal-controller-status", count: 5, transport: "tcp", interval: "2s"},
		{prefix: "meter", entity: "StreetlightControlCabinet", profile: "eastron-sdm630-v2", count: 10, transport: "tcp", interval: "5s"},
		{prefix: "loops", entity: "TrafficFlowObserved", profile: "loop-counter-serial", count: 2, transport: "serial", interval: "10s"},
		{prefix: "weather", entity: "WeatherObserved", profile: "vaisala-wxt530-nmea", count: 1, transport: "serial", interval: "10s"},
		// Message signs (issue 16): Ditel 7-segment displays at the car
		// parks' entrances, written over Modbus/TCP ("PiEno", "LibEro").
		{prefix: "sign", entity: "TrafficSignalController", profile: "ditel-dn-display-modbus", count: 2, transport: "tcp", interval: "10s"},
	}},
}

// exampleCity says which city each shipped example gateway stands in (its
// LoRaWAN devices use that city's network server).
var exampleCity = map[string]string{
	"firenze-lighting-cabinet.yaml": "Firenze",
	"bari-junction.yaml":            "Bari",
}

// Sim is one ponte-sim process: a profile served on one endpoint.
type Sim struct {
	Name    string
	Profile string // profile file
	// Transport is "tcp", "rtu", "serial", "mqtt" or "rsmp"; Endpoint its listen
	// address, pty (device side) or broker URL.
	Transport, Endpoint string
	Units               []int
	IDs                 []string
	// RSMPSite and RSMPCode are an RSMP site's ID and security code.
	RSMPSite, RSMPCode string
}

// Gateway is one gateway of the plan.
type Gateway struct {
	City string
	Site *site.Site
	// File is where its site config is written; HTTP its status API.
	File string
	HTTP string
	// Password is its uplink password (also in ingest's config).
	Password string
}

// Plan is the whole city: gateways, the simulators, the pty pairs and the
// LoRaWAN network servers' brokers to start.
type Plan struct {
	Gateways []*Gateway
	Sims     []*Sim
	// Ptys are pty pair names: <Work>/pty/<name>-dev (the device's side)
	// and <Work>/pty/<name>-ponte (the gateway's).
	Ptys []string
	// Brokers maps a city to its LoRaWAN network server broker's port.
	Brokers map[string]int
	// Codes maps the security code files of RSMP devices to their codes.
	Codes map[string]string
}

// PlanConfig is what a plan is made from.
type PlanConfig struct {
	// Root is the checkout (deploy/sites, firmware-profiles, geo).
	Root string
	// Work is the run's folder; configs, ptys and buffers go under it.
	Work string
	// Port returns a free loopback port, a new one each call.
	Port func() int
	// Secret returns a new random secret.
	Secret func() string
	// Ingest is the embedded broker's address (host:port).
	Ingest string
}

// Validate reports a config a plan cannot be made from.
func (c PlanConfig) Validate() error {
	switch {
	case c.Root == "" || c.Work == "":
		return fmt.Errorf("plan config: Root and Work are required")
	case c.Port == nil || c.Secret == nil:
		return fmt.Errorf("plan config: Port and Secret are required")
	case c.Ingest == "":
		return fmt.Errorf("plan config: Ingest (the broker's host:port) is required")
	}
	return nil
}

// Devices counts the plan's devices.
func (p *Plan) Devices() int {
	n := 0
	for _, g := range p.Gateways {
		n += len(g.Site.Devices)
	}
	return n
}

// Cities are the plan's cities, sorted.
func (p *Plan) Cities() []string {
	var out []string
	for _, g := range p.Gateways {
		if !slices.Contains(out, g.City) {
			out = append(out, g.City)
		}
	}
	slices.Sort(out)
	return out
}

// planner builds a Plan.
type planner struct {
	cfg      PlanConfig
	plan     *Plan
	profiles string
	// endpoints maps an original address (or a generated key) to the
	// local one, so devices sharing a line or broker keep sharing it.
	endpoints map[string]string
	sims      map[string]*Sim // by profile + endpoint
	areas     *geo.Areas
	roads     map[string][]geo.Feature // by city
	loaded    map[string]*profile.Profile
}

// MakePlan loads the example site configs and the geography and builds
// the city; it writes nothing.
func MakePlan(cfg PlanConfig) (*Plan, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// The site configs are written elsewhere: the paths they hold must
	// not depend on the folder the demo was started from.
	for _, dir := range []*string{&cfg.Root, &cfg.Work} {
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return nil, err
		}
		*dir = abs
	}
	p := &planner{cfg: cfg, plan: &Plan{Brokers: map[string]int{}, Codes: map[string]string{}},
		profiles: filepath.Join(cfg.Root, "firmware-profiles"), endpoints: map[string]string{}, sims: map[string]*Sim{}, loaded: map[string]*profile.Profile{}}
	if err := p.loadGeo(); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(mapKeys(exampleCity)) {
		if err := p.example(filepath.Join(cfg.Root, "deploy", "sites", name), exampleCity[name]); err != nil {
			return nil, err
		}
	}
	for _, g := range generatedGateways {
		if err := p.generate(g); err != nil {
			return nil, err
		}
	}
	return p.plan, nil
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (p *planner) loadGeo() error {
	var layers []*geo.Layer
	for _, city := range []string{"firenze", "bari"} {
		l, err := geo.LoadLayer(filepath.Join(p.cfg.Root, "geo", "data", city+"-metro-municipalities.geojson"), geo.KindAreas, geo.LoadOptions{IDProperty: "com_istat_code"})
		if err != nil {
			return err
		}
		layers = append(layers, l)
	}
	merged := &geo.Layer{Name: "municipalities", Kind: geo.KindAreas}
	for _, l := range layers {
		merged.Features = append(merged.Features, l.Features...)
		merged.Bound = merged.Bound.Union(l.Bound)
	}
	areas, err := geo.NewAreas(merged)
	if err != nil {
		return err
	}
	p.areas = areas
	roads, err := geo.LoadLayer(filepath.Join(p.cfg.Root, "geo", "testdata", "roads.geojson"), geo.KindRoads, geo.LoadOptions{})
	if err != nil {
		return err
	}
	p.roads = map[string][]geo.Feature{}
	for _, f := range roads.Features {
		city, _ := f.Props["city"].(string)
		p.roads[city] = append(p.roads[city], f)
	}
	return nil
}

// example loads a shipped site config and rewrites what must change to
// run on this machine: the uplink (the local ingest, a generated
// password, no TLS files), the devices' addresses (the local simulators),
// the buffer folder and the status API's address. Names, positions,
// entities, areas and intervals stay as shipped.
func (p *planner) example(path, city string) error {
	s, err := site.Load(path, site.Options{Offline: true, ProfilesDir: p.profiles})
	if err != nil {
		return fmt.Errorf("example site config: %w", err)
	}
	gw := p.gateway(s, city)
	for i := range s.Devices {
		d := &s.Devices[i]
		addr, err := p.localAddress(gw, d, d.Kind(), d.Address, city)
		if err != nil {
			return fmt.Errorf("%s: devices[%d] (%s): %w", path, i, d.Name, err)
		}
		d.Address = addr
	}
	return nil
}

// gateway rewrites s's machine-bound fields and adds it to the plan.
func (p *planner) gateway(s *site.Site, city string) *Gateway {
	id := s.Gateway.ID
	gw := &Gateway{City: city, Site: s, Password: p.cfg.Secret(),
		File: filepath.Join(p.cfg.Work, "sites", id+".yaml"),
		HTTP: fmt.Sprintf("127.0.0.1:%d", p.cfg.Port())}
	s.Profiles = p.profiles
	s.Uplink.Broker = "tcp://" + p.cfg.Ingest
	s.Uplink.Username = ""
	s.Uplink.Password, s.Uplink.PasswordFile, s.Uplink.PasswordEnv = gw.Password, "", ""
	s.Uplink.TLS = nil
	s.Buffer.Dir = filepath.Join(p.cfg.Work, "edge", id, "buffer")
	s.HTTP.Listen = gw.HTTP
	p.plan.Gateways = append(p.plan.Gateways, gw)
	return gw
}

// localAddress maps a device's address to its simulator on this machine
// and adds the device to that simulator. key identifies the original
// line or broker: devices sharing it share the local endpoint.
func (p *planner) localAddress(gw *Gateway, d *site.Device, kind profile.Kind, key, city string) (string, error) {
	u, err := url.Parse(d.Address)
	if err != nil {
		return "", err
	}
	transport := ""
	switch {
	case kind == profile.KindModbus && u.Scheme == "rtu":
		transport = "rtu"
	case kind == profile.KindModbus:
		transport = "tcp"
	case kind == profile.KindSerial:
		transport = "serial"
	case kind == profile.KindMQTT:
		transport = "mqtt"
	case kind == profile.KindRSMP:
		transport = "rsmp"
	default:
		return "", fmt.Errorf("no simulator transport for kind %q, address %s", kind, d.Address)
	}
	local, ok := p.endpoints[gw.Site.Gateway.ID+" "+key]
	if !ok {
		local = p.newEndpoint(gw, transport, u, city)
		p.endpoints[gw.Site.Gateway.ID+" "+key] = local
	}
	sim := p.sim(gw, d.Profile, transport, local)
	switch transport {
	case "tcp", "rtu":
		sim.Units = append(sim.Units, d.Unit)
	case "mqtt":
		sim.IDs = append(sim.IDs, d.ID)
	case "rsmp":
		// One site per controller: its ID from the address, its security
		// code made here and written beside the site config.
		lu, _ := url.Parse(local)
		sim.RSMPSite = strings.TrimPrefix(lu.RawQuery, "site=")
		if sim.RSMPCode == "" {
			sim.RSMPCode = p.cfg.Secret()
		}
		d.SecurityCodeEnv, d.SecurityCodeFile = "", filepath.Join(p.cfg.Work, "sites", d.Name+".code")
		p.plan.Codes[d.SecurityCodeFile] = sim.RSMPCode
	}
	return local, nil
}

// newEndpoint makes the local address of a line or broker. Serial lines
// keep their query (baud, parity), so the gateway reads the line as
// configured and the simulator takes the same settings.
func (p *planner) newEndpoint(gw *Gateway, transport string, u *url.URL, city string) string {
	switch transport {
	case "tcp":
		return fmt.Sprintf("tcp://127.0.0.1:%d", p.cfg.Port())
	case "rsmp":
		return fmt.Sprintf("rsmp://127.0.0.1:%d?%s", p.cfg.Port(), u.RawQuery)
	case "mqtt":
		port, ok := p.plan.Brokers[city]
		if !ok {
			port = p.cfg.Port()
			p.plan.Brokers[city] = port
		}
		return fmt.Sprintf("mqtt://127.0.0.1:%d", port)
	}
	name := fmt.Sprintf("%s-%s", gw.Site.Gateway.ID, filepath.Base(u.Path))
	p.plan.Ptys = append(p.plan.Ptys, name)
	local := transport + "://" + filepath.Join(p.cfg.Work, "pty", name+"-ponte")
	if u.RawQuery != "" {
		local += "?" + u.RawQuery
	}
	return local
}

// sim returns the simulator of profile on the local endpoint, adding it.
func (p *planner) sim(gw *Gateway, prof, transport, local string) *Sim {
	key := prof + " " + local
	if s, ok := p.sims[key]; ok {
		return s
	}
	u, _ := url.Parse(local)
	endpoint := u.Host
	switch transport {
	case "rtu", "serial":
		endpoint = strings.TrimSuffix(u.Path, "-ponte") + "-dev"
	case "mqtt":
		endpoint = "tcp://" + u.Host
	}
	name := fmt.Sprintf("sim-%s-%s", prof, gw.Site.Gateway.ID)
	if transport == "mqtt" {
		name = fmt.Sprintf("sim-%s-%s", prof, gw.City)
	} else if transport == "serial" || transport == "rtu" {
		name = "sim-" + filepath.Base(strings.TrimSuffix(u.Path, "-ponte"))
	}
	s := &Sim{Name: strings.ToLower(name), Profile: filepath.Join(p.profiles, prof+".yaml"), Transport: transport, Endpoint: endpoint}
	p.sims[key] = s
	p.plan.Sims = append(p.plan.Sims, s)
	return s
}

// generate adds one of the demo's own gateways, its devices spread along
// the city's named streets.
func (p *planner) generate(g generated) error {
	roads := p.roads[g.city]
	if len(roads) == 0 {
		return fmt.Errorf("gateway %s: no roads of %s in roads.geojson", g.id, g.city)
	}
	s := &site.Site{Gateway: site.Gateway{ID: g.id}}
	s.Uplink.BatchMaxWait = yamlconf.Duration(500 * time.Millisecond)
	gw := p.gateway(s, g.city)
	slot := 0 // the devices of every group share the streets, in turn
	for _, grp := range g.groups {
		iv, err := time.ParseDuration(grp.interval)
		if err != nil {
			return fmt.Errorf("gateway %s: %s interval: %w", g.id, grp.prefix, err)
		}
		for i := range grp.count {
			name := fmt.Sprintf("%s-%s-%02d", g.id, grp.prefix, i+1)
			pos := p.placeOnRoad(roads, slot)
			slot++
			area, ok := p.areas.Locate(pos)
			if !ok {
				return fmt.Errorf("gateway %s: device %s at %v is in no municipality", g.id, name, pos)
			}
			d := site.Device{Name: name, Profile: grp.profile, Interval: yamlconf.Duration(iv),
				Location: &site.Location{Lon: round6(pos[0]), Lat: round6(pos[1])},
				Entity:   fmt.Sprintf("urn:ngsi-ld:%s:%s", grp.entity, name), Area: area.Name}
			key := grp.transport + "-" + grp.prefix // one line or broker per group
			switch grp.transport {
			case "tcp":
				d.Address = "tcp://cabinet-lan:502"
				d.Unit = i + 1
			case "rtu":
				d.Address = "rtu:///dev/ttyRS485?baud=9600"
				d.Unit = i + 1
			case "serial":
				d.Address = fmt.Sprintf("serial:///dev/tty%s%d", grp.prefix, i+1)
				key = d.Address
			case "mqtt":
				d.Address = "mqtt://lorawan-ns:1883"
				d.ID = fmt.Sprintf("%016x", grp.idBase+uint64(i))
				key = "mqtt"
			case "rsmp":
				d.Address = fmt.Sprintf("rsmp://cabinet-lan:12111?site=%s-%s%02d", strings.ToUpper(g.id), strings.ToUpper(grp.prefix), i+1)
				key = d.Address
			}
			prof, err := p.profile(grp.profile)
			if err != nil {
				return fmt.Errorf("gateway %s: device %s: %w", g.id, name, err)
			}
			addr, err := p.localAddress(gw, &d, prof.Kind, key, g.city)
			if err != nil {
				return fmt.Errorf("gateway %s: device %s: %w", g.id, name, err)
			}
			d.Address = addr
			s.Devices = append(s.Devices, d)
		}
	}
	return nil
}

// profile loads a firmware profile by name, once.
func (p *planner) profile(name string) (*profile.Profile, error) {
	if pr, ok := p.loaded[name]; ok {
		return pr, nil
	}
	pr, err := profile.Load(filepath.Join(p.profiles, name+".yaml"))
	if err != nil {
		return nil, err
	}
	p.loaded[name] = pr
	return pr, nil
}

// placeOnRoad returns the position of the n-th device of a gateway: the
// streets take turns, and each street's devices are spaced along it at
// successive fractions of its length (a low-discrepancy sequence, so a
// street never gets two devices on one spot), on alternating sides.
func (p *planner) placeOnRoad(roads []geo.Feature, n int) orb.Point {
	road := roads[n%len(roads)]
	k := n / len(roads)
	// Van der Corput in base 2, kept off the street's ends.
	frac, f := 0.0, 0.5
	for i := k + 1; i > 0; i /= 2 {
		frac += f * float64(i%2)
		f /= 2
	}
	frac = 0.05 + 0.9*frac
	line := lineOf(road.Geometry)
	pt, dir := alongLine(line, frac)
	side := 1.0
	if k%2 == 1 {
		side = -1
	}
	return offset(pt, dir, side*sideOffsetMetres)
}

func lineOf(g orb.Geometry) orb.LineString {
	switch l := g.(type) {
	case orb.LineString:
		return l
	case orb.MultiLineString:
		if len(l) > 0 {
			return l[0]
		}
	}
	return nil
}

// alongLine returns the point at fraction frac of line's length and the
// direction (unit vector in metres east, north) of the segment it is on.
func alongLine(line orb.LineString, frac float64) (orb.Point, [2]float64) {
	total := 0.0
	for i := 1; i < len(line); i++ {
		total += orbgeo.Distance(line[i-1], line[i])
	}
	want := frac * total
	for i := 1; i < len(line); i++ {
		seg := orbgeo.Distance(line[i-1], line[i])
		if want <= seg || i == len(line)-1 {
			t := 0.0
			if seg > 0 {
				t = math.Min(want/seg, 1)
			}
			a, b := line[i-1], line[i]
			pt := orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}
			east := (b[0] - a[0]) * metresPerDegreeLon(a[1])
			north := (b[1] - a[1]) * metresPerDegreeLat
			n := math.Hypot(east, north)
			if n == 0 {
				return pt, [2]float64{1, 0}
			}
			return pt, [2]float64{east / n, north / n}
		}
		want -= seg
	}
	return line[0], [2]float64{1, 0}
}

const metresPerDegreeLat = 111_320.0

func metresPerDegreeLon(lat float64) float64 {
	return metresPerDegreeLat * math.Cos(lat*math.Pi/180)
}

// offset moves pt by metres to the left of direction dir (negative: right).
func offset(pt orb.Point, dir [2]float64, metres float64) orb.Point {
	east, north := -dir[1]*metres, dir[0]*metres
	return orb.Point{pt[0] + east/metresPerDegreeLon(pt[1]), pt[1] + north/metresPerDegreeLat}
}

func round6(f float64) float64 { return math.Round(f*1e6) / 1e6 }

// WriteSites writes every gateway's site config to its File.
func (p *Plan) WriteSites() error {
	for _, g := range p.Gateways {
		data, err := MarshalSite(g.Site)
		if err != nil {
			return fmt.Errorf("site config of %s: %w", g.Site.Gateway.ID, err)
		}
		head := fmt.Sprintf("# Written by ponte-demo for gateway %s (%s): the uplink, addresses, buffer\n# and status API point at this machine. Devices: %d.\n", g.Site.Gateway.ID, g.City, len(g.Site.Devices))
		if err := os.MkdirAll(filepath.Dir(g.File), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(g.File, append([]byte(head), data...), 0o600); err != nil {
			return err
		}
	}
	for file, code := range p.Codes {
		if err := os.WriteFile(file, []byte(code+"\n"), 0o600); err != nil {
			return err
		}
	}
	return nil
}
