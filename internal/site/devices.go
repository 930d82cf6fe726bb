package site

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ponte-city/ponte/internal/profile"
)

// deviceNameRe is the form of device names: they become InfluxDB tag
// values, twin entity attributes and metric labels.
var deviceNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func (v *validator) devices(s *Site) {
	names := map[string]int{}
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
		v.fields(p, d)
		v.securityCode(p, d)
		d.ok = len(v.errs) == before
	}
	v.devs = s.Devices
}

// deviceOK reports whether devices[i] passed this package's checks.
func (v *validator) deviceOK(i int) bool { return i >= 0 && i < len(v.devs) && v.devs[i].ok }

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
