package profile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/ponte-city/ponte/internal/yamlconf"
	"github.com/ponte-city/ponte/wire"
)

// Load reads and validates the profile at path.
func Load(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read profile: %w", err)
	}
	return Parse(path, data)
}

// LoadDir loads every *.yaml profile in dir, keyed by file name without the
// extension (the name site configs use to refer to a profile). All errors
// of all files are returned together.
func LoadDir(dir string) (map[string]*Profile, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	out := make(map[string]*Profile, len(paths))
	var errs []error
	for _, p := range paths {
		prof, err := Load(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[strings.TrimSuffix(filepath.Base(p), ".yaml")] = prof
	}
	return out, errors.Join(errs...)
}

// Parse decodes and validates a profile read from the file called name.
// Every problem is reported, each as a *yamlconf.FieldError.
func Parse(name string, data []byte) (*Profile, error) {
	p := &Profile{}
	doc, err := yamlconf.Decode(name, data, p)
	if err != nil {
		return nil, err
	}
	p.File, p.doc = name, doc
	if p.Modbus != nil {
		p.Modbus.HexAddresses = hexAddressRe.Match(data)
	}
	v := &validator{doc: doc}
	v.profile(p)
	if len(v.errs) > 0 {
		return nil, errors.Join(v.errs...)
	}
	return p, nil
}

type validator struct {
	doc  *yamlconf.Doc
	errs []error
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, v.doc.Errorf(path, format, args...))
}

func (v *validator) required(path, val string) {
	if strings.TrimSpace(val) == "" {
		v.errorf(path, "required (expected a non-empty string)")
	}
}

// hexAddressRe finds a register address written in hex.
var hexAddressRe = regexp.MustCompile(`(?m)\baddress:\s*0[xX][0-9A-Fa-f]`)

// pointNameRe is the form of point names: they become InfluxDB field keys
// and twin attribute names, so they stay plain.
var pointNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

func (v *validator) profile(p *Profile) {
	v.required("model", p.Model)
	v.required("manufacturer", p.Manufacturer)
	v.required("source", p.Source)
	if !p.Category.Valid() {
		v.errorf("category", "unknown category %q (expected one of %s)", p.Category, list(wire.Categories()))
	}
	sections := map[Kind]bool{KindModbus: p.Modbus != nil, KindSerial: p.Serial != nil, KindMQTT: p.MQTT != nil, KindRSMP: p.RSMP != nil}
	switch p.Kind {
	case KindModbus, KindSerial, KindMQTT, KindRSMP:
		if !sections[p.Kind] {
			v.errorf("kind", "kind is %s but the profile has no %s section", p.Kind, p.Kind)
		}
	default:
		v.errorf("kind", "unknown kind %q (expected modbus, serial, mqtt or rsmp)", p.Kind)
	}
	for k, present := range sections {
		if present && k != p.Kind {
			v.errorf(string(k), "section %s does not fit kind %q (a profile describes one transport)", k, p.Kind)
		}
	}
	if p.Modbus != nil && p.Kind == KindModbus {
		v.modbus(p.Modbus)
	}
	if p.Serial != nil && p.Kind == KindSerial {
		v.serial(p.Serial)
	}
	if p.MQTT != nil && p.Kind == KindMQTT {
		v.mqtt(p.MQTT)
	}
	if p.RSMP != nil && p.Kind == KindRSMP {
		v.rsmp(p.RSMP, map[string]string{})
	}
}

func (v *validator) uniqueName(seen map[string]string, path, name string) {
	if name == "" {
		v.errorf(path, "required (expected a point name such as voltage_l1)")
		return
	}
	if !pointNameRe.MatchString(name) {
		v.errorf(path, "point name %q: expected a letter then letters, digits or _", name)
		return
	}
	if prev, ok := seen[name]; ok {
		v.errorf(path, "duplicate point name %q (first at %s)", name, prev)
		return
	}
	seen[name] = path
}

func (v *validator) scaling(path string, s Scaling, t Type) {
	if (t == TypeBool || t == TypeString) && (s.Scale != 0 || s.Offset != 0) {
		v.errorf(path+".scale", "scale and offset do not apply to %s points", t)
	}
}

func (v *validator) rng(path string, r Range) {
	if r.Min != nil && r.Max != nil && *r.Min > *r.Max {
		v.errorf(path+".range", "min %g is above max %g", *r.Min, *r.Max)
	}
}

// SimPatterns lists the simulator's value patterns.
var SimPatterns = []string{"constant", "daily", "traffic", "parking", "counter", "random", "toggle"}

func (v *validator) sim(path string, s *Sim) {
	if s == nil {
		return
	}
	if !oneOf(s.Pattern, SimPatterns) {
		v.errorf(path+".sim.pattern", "unknown pattern %q (expected one of %s)", s.Pattern, list(SimPatterns))
	}
	if s.Min > s.Max && s.Pattern != "counter" { // counter: Min is the start, Max the rise per hour
		v.errorf(path+".sim", "min %g is above max %g", s.Min, s.Max)
	}
	if s.Peak < 0 || s.Peak > 24 {
		v.errorf(path+".sim.peak", "peak %g: expected an hour from 0 to 24", s.Peak)
	}
	if s.Noise < 0 || s.Noise > 1 {
		v.errorf(path+".sim.noise", "noise %g: expected a fraction from 0 to 1", s.Noise)
	}
}

func oneOf[T comparable](v T, set []T) bool {
	for _, s := range set {
		if s == v {
			return true
		}
	}
	return false
}

func list[T any](set []T) string {
	parts := make([]string, len(set))
	for i, s := range set {
		parts[i] = fmt.Sprint(s)
	}
	return strings.Join(parts, ", ")
}

func sortStrings(s []string) { sort.Strings(s) }
