package agent

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/edge/source/modbus"
	"github.com/ponte-city/ponte/edge/source/mqtt"
	"github.com/ponte-city/ponte/edge/source/serial"
	"github.com/ponte-city/ponte/internal/profile"
)

// deviceNameRe is the form of device names: they become InfluxDB tag
// values, twin entity attributes and metric labels.
var deviceNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// schemesFor lists the address schemes that fit each profile kind.
var schemesFor = map[profile.Kind]struct {
	ok     map[string]bool
	expect string
}{
	profile.KindModbus: {map[string]bool{"tcp": true, "rtu": true}, "tcp://host:port or rtu:///dev/PATH?baud=9600&parity=E"},
	profile.KindSerial: {map[string]bool{"serial": true}, "serial:///dev/PATH?baud=9600"},
	profile.KindMQTT:   {brokerSchemes, "the broker URL, e.g. mqtt://127.0.0.1:1883 or mqtts://host:8883"},
}

func (v *validator) devices(s *Site) {
	names := map[string]int{}
	ports := map[string]string{} // serial device path -> "device %q (kind)"
	var bus []source.Device      // every device whose own checks passed, for the cross-device checks
	kinds := map[profile.Kind][]source.Device{}
	for i := range s.Devices {
		d := &s.Devices[i]
		p := fmt.Sprintf("devices[%d]", i)
		before := len(v.errs)
		switch {
		case d.Name == "":
			v.errorf(p+".name", "required (expected a device name: %s)", idChars)
		case !deviceNameRe.MatchString(d.Name):
			v.errorf(p+".name", "%q: expected %s, starting with a letter or digit", d.Name, idChars)
		default:
			if first, dup := names[d.Name]; dup {
				v.errorf(p+".name", "duplicate device name %q (first at line %d)", d.Name, v.doc.Line(fmt.Sprintf("devices[%d].name", first)))
			} else {
				names[d.Name] = i
			}
		}
		d.profile = v.profile(p+".profile", d.Profile)
		v.location(p, d.Location)
		if d.profile == nil {
			continue
		}
		kind := d.profile.Kind
		v.address(p, d, ports)
		v.fields(p, d)
		if len(v.errs) > before {
			continue
		}
		sd := source.Device{Name: d.Name, Profile: d.profile, Address: d.Address, Unit: uint8(d.Unit), ID: d.ID,
			Interval: d.Interval.D(), SlowInterval: d.SlowInterval.D(), Timeout: d.Timeout.D()}
		if sd.Interval == 0 && (kind == profile.KindModbus ||
			(kind == profile.KindSerial && d.profile.Serial.Mode == profile.ModeRequestResponse)) {
			sd.Interval = DefaultInterval
		}
		if err := validateSources(kind, []source.Device{sd}); err != nil {
			v.sourceErrors(s, err)
			continue
		}
		bus = append(bus, sd)
		kinds[kind] = append(kinds[kind], sd)
	}
	if len(v.errs) > 0 {
		return
	}
	// Conflicts between devices that are each fine: two RTU devices on one
	// port with different line settings, a unit ID used twice on a bus.
	for _, k := range []profile.Kind{profile.KindModbus, profile.KindSerial, profile.KindMQTT} {
		if err := validateSources(k, kinds[k]); err != nil {
			v.sourceErrors(s, err)
		}
	}
	s.sources = bus
}

// sourceErrors reports the errors of a source package's validation, each
// at the line of the device it names (the packages prefix their messages
// with `device "NAME": `, `mqtt device "NAME": ` or `serial device NAME: `).
func (v *validator) sourceErrors(s *Site, err error) {
	errs := []error{err}
	if list, ok := err.(interface{ Unwrap() []error }); ok {
		errs = list.Unwrap()
	}
next:
	for _, e := range errs {
		msg := e.Error()
		for i, d := range s.Devices {
			for _, prefix := range []string{"device " + strconv.Quote(d.Name) + ": ", "mqtt device " + strconv.Quote(d.Name) + ": ", "serial device " + d.Name + ": "} {
				if rest, ok := strings.CutPrefix(msg, prefix); ok {
					v.errorf(fmt.Sprintf("devices[%d]", i), "%s", rest)
					continue next
				}
			}
		}
		v.errorf("devices", "%s", msg)
	}
}

// validateSources runs the source package's own checks on devices of kind.
func validateSources(kind profile.Kind, devs []source.Device) error {
	if len(devs) == 0 {
		return nil
	}
	switch kind {
	case profile.KindModbus:
		c := modbus.Config{Devices: devs}
		return c.Validate()
	case profile.KindSerial:
		return serial.Config{Devices: devs}.Validate()
	case profile.KindMQTT:
		c := mqtt.Config{Devices: devs}
		return c.Validate()
	}
	return fmt.Errorf("profile kind %q has no source", kind)
}

// address checks that the device's address fits its profile's kind, and
// that no serial port is claimed by two transports.
func (v *validator) address(p string, d *Device, ports map[string]string) {
	kind := d.profile.Kind
	fit := schemesFor[kind]
	if d.Address == "" {
		v.errorf(p+".address", "required (expected %s)", fit.expect)
		return
	}
	u, err := url.Parse(d.Address)
	if err != nil || !fit.ok[strings.ToLower(u.Scheme)] {
		v.errorf(p+".address", "%q does not fit profile %s of kind %s (expected %s)", d.Address, d.Profile, kind, fit.expect)
		return
	}
	switch u.Scheme {
	case "rtu", "serial":
		line, err := source.ParseSerialURL(d.Address, source.SerialLine{})
		if err != nil {
			v.errorf(p+".address", "%v", err)
			return
		}
		key := u.Scheme + ":" + line.Path
		owner := fmt.Sprintf("device %q", d.Name)
		for k, other := range ports {
			if strings.HasSuffix(k, ":"+line.Path) && (k != key || u.Scheme == "serial") {
				v.errorf(p+".address", "port %s is already used by %s (a serial port carries one serial device, or any number of Modbus RTU units)", line.Path, other)
				return
			}
		}
		if _, ok := ports[key]; !ok {
			ports[key] = owner
		}
	case "tcp":
		if kind != profile.KindModbus {
			break
		}
		host, port, err := net.SplitHostPort(u.Host)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			v.errorf(p+".address", "%q: expected tcp://host:port with a port from 1 to 65535", d.Address)
		}
	default:
		if msg := checkBroker(d.Address); msg != "" {
			v.errorf(p+".address", "%s", msg)
		}
	}
}

// fields checks the per-kind fields: unit, id, intervals.
func (v *validator) fields(p string, d *Device) {
	kind := d.profile.Kind
	if kind == profile.KindModbus {
		rtu := strings.HasPrefix(d.Address, "rtu:")
		switch {
		case rtu && (d.Unit < 1 || d.Unit > 247):
			v.errorf(p+".unit", "%d out of range (expected an integer 1..247 on an RTU line: 0 is broadcast and never answers)", d.Unit)
		case !rtu && (d.Unit < 0 || d.Unit > 255):
			v.errorf(p+".unit", "%d out of range (expected an integer 0..255)", d.Unit)
		}
	} else if v.doc.Has(p + ".unit") {
		v.errorf(p+".unit", "unit applies to Modbus devices only (profile %s is %s)", d.Profile, kind)
	}
	if kind == profile.KindMQTT {
		if _, idPath, _, _ := d.profile.MQTT.Defaults(); idPath != "" && d.ID == "" {
			v.errorf(p+".id", "required: profile %s carries the device identity at %q in its payloads (the DevEUI for LoRaWAN)", d.Profile, idPath)
		}
	} else if d.ID != "" {
		v.errorf(p+".id", "id applies to MQTT devices only (profile %s is %s)", d.Profile, kind)
	}
	if d.SlowInterval != 0 && kind != profile.KindModbus {
		v.errorf(p+".slow_interval", "slow_interval applies to Modbus devices only (profile %s is %s)", d.Profile, kind)
	}
	if d.SlowInterval != 0 && d.Interval != 0 && d.SlowInterval < d.Interval {
		v.errorf(p+".slow_interval", "%s is below interval %s", d.SlowInterval.D(), d.Interval.D())
	}
}

// location checks a device's position. It is required: a device the twin
// cannot place is a device an operator cannot find.
func (v *validator) location(p string, l *Location) {
	p += ".location"
	if l == nil {
		v.errorf(p, "required (expected {lon: ..., lat: ...} in WGS84 degrees)")
		return
	}
	if !v.doc.Has(p+".lon") || !v.doc.Has(p+".lat") {
		v.errorf(p, "expected both lon and lat (WGS84 degrees)")
		return
	}
	bad := false
	if l.Lon < -180 || l.Lon > 180 {
		v.errorf(p+".lon", "%g is out of range (expected -180 to 180 degrees)", l.Lon)
		bad = true
	}
	if l.Lat < -90 || l.Lat > 90 {
		v.errorf(p+".lat", "%g is out of range (expected -90 to 90 degrees)", l.Lat)
		bad = true
	}
	if !bad && l.Lon == 0 && l.Lat == 0 {
		v.errorf(p, "lon 0, lat 0 is in the Gulf of Guinea: the position was probably never filled in")
		return
	}
	if !bad && !plausible.contains(l.Lon, l.Lat) && plausible.contains(l.Lat, l.Lon) {
		v.errorf(p, "latitude and longitude look swapped: lon %g, lat %g lies outside %s, lon %g, lat %g inside it (expected lon, the east-west degrees, and lat, the north-south ones)",
			l.Lon, l.Lat, plausible.name, l.Lat, l.Lon)
	}
}

// box is a WGS84 bounding box in degrees.
type box struct {
	name                     string
	west, south, east, north float64
}

func (b box) contains(lon, lat float64) bool {
	return lon >= b.west && lon <= b.east && lat >= b.south && lat <= b.north
}

// plausible is where Ponte's gateways stand: Italy's bounding box, from its
// extreme points as listed in Wikipedia's "List of extreme points of
// Italy": north Testa Gemella Occidentale 47.083 N, south Punta Pesce
// Spada (Lampedusa) 35.483 N, west Rocca Bernauda 6.617 E, east Capo
// d'Otranto 18.517 E, widened by 0.01 degrees.
var plausible = box{name: "Italy's bounding box (lon 6.607..18.527, lat 35.473..47.093)",
	west: 6.607, south: 35.473, east: 18.527, north: 47.093}
