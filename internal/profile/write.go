package profile

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/internal/yamlconf"
)

// Write says that operators may write a point through a command, and
// within what (issue 16). A Modbus point (coil or holding register), an
// MQTT downlink or a serial request line carries one. Every bound comes from the vendor's document,
// which Source cites with its version and section.
type Write struct {
	// Min and Max bound the value a command may write, in the point's
	// engineering units. A writable point has both, or Enum.
	Min *float64 `yaml:"min"`
	Max *float64 `yaml:"max"`
	// Enum lists the only values a command may write, with their labels
	// (in Italian, as operators read them on the map).
	Enum []Choice `yaml:"enum"`
	// Step, when set, is the resolution: a value must be Min + k*Step.
	Step float64 `yaml:"step"`
	// Readback names the point read after the write to verify it (the
	// point itself when empty): a device's "actual level" rather than its
	// set-point, when it has one.
	Readback string `yaml:"readback"`
	// Tolerance is how far the read-back may be from the written value
	// and still count as applied (default 0: equal).
	Tolerance float64 `yaml:"tolerance"`
	// Settle is how long the device needs before the read-back shows the
	// write (a fade, a relay); default 0.
	Settle yamlconf.Duration `yaml:"settle"`
	// Safe is the value to return the point to when in doubt (the map
	// offers it first; operators restore it after a test).
	Safe *float64 `yaml:"safe"`
	// Approval says a write needs a second operator's approval before it
	// is sent.
	Approval bool `yaml:"approval"`
	// Source cites the vendor's document for this write (version and
	// section), when the profile's Source does not cover it.
	Source string `yaml:"source"`
	// Text, on a string point, makes it a text write (a message sign's
	// message) instead of a numeric one: see TextRules.
	Text *TextRules `yaml:"text"`
}

// Choice is one allowed value of an enumerated write.
type Choice struct {
	Value float64 `yaml:"value"`
	Label string  `yaml:"label"`
}

// Check reports whether v may be written, and if not says why in terms an
// operator understands ("101 is above the maximum 100 %").
func (w *Write) Check(v float64, unit string) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("value: expected a finite number")
	}
	if len(w.Enum) > 0 {
		for _, c := range w.Enum {
			if c.Value == v {
				return nil
			}
		}
		return fmt.Errorf("value %s is not one of %s", fmtValue(v), w.enumText())
	}
	u := ""
	if unit != "" && unit != "1" {
		u = " " + unit
	}
	switch {
	case w.Min != nil && v < *w.Min:
		return fmt.Errorf("value %s is below the minimum %s%s", fmtValue(v), fmtValue(*w.Min), u)
	case w.Max != nil && v > *w.Max:
		return fmt.Errorf("value %s is above the maximum %s%s", fmtValue(v), fmtValue(*w.Max), u)
	}
	if w.Step > 0 && w.Min != nil {
		k := (v - *w.Min) / w.Step
		if math.Abs(k-math.Round(k)) > 1e-9 {
			return fmt.Errorf("value %s is not a multiple of the step %s from %s", fmtValue(v), fmtValue(w.Step), fmtValue(*w.Min))
		}
	}
	return nil
}

// ReadbackPoint returns the point read back after writing point.
func (w *Write) ReadbackPoint(point string) string {
	if w.Readback != "" {
		return w.Readback
	}
	return point
}

// Applied reports whether a read-back value shows written applied.
func (w *Write) Applied(written, readback float64) bool {
	return math.Abs(written-readback) <= w.Tolerance+1e-9*math.Max(1, math.Abs(written))
}

func (w *Write) enumText() string {
	s := ""
	for i, c := range w.Enum {
		if i > 0 {
			s += ", "
		}
		s += fmtValue(c.Value)
		if c.Label != "" {
			s += " (" + c.Label + ")"
		}
	}
	return s
}

func fmtValue(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// WritePoint is a writable point of a profile: its name, unit,
// description and Write.
type WritePoint struct {
	Name        string
	Unit        string
	Description string
	Write       *Write
}

// Writable returns the write rules of the profile's point, or an error
// saying the point does not exist or may not be written.
func (p *Profile) Writable(point string) (*WritePoint, error) {
	for _, w := range p.WritePoints() {
		if w.Name == point {
			return &w, nil
		}
	}
	if p.hasPoint(point) {
		return nil, fmt.Errorf("point %s of profile %s is not writable", point, p.ID())
	}
	return nil, fmt.Errorf("profile %s has no point %s", p.ID(), point)
}

// WritePoints lists the profile's writable points, in file order.
func (p *Profile) WritePoints() []WritePoint {
	var out []WritePoint
	if p.Modbus != nil {
		for i := range p.Modbus.Points {
			if pt := &p.Modbus.Points[i]; pt.Write != nil {
				out = append(out, WritePoint{Name: pt.Name, Unit: pt.Unit, Description: pt.Description, Write: pt.Write})
			}
		}
	}
	if p.Serial != nil {
		for i := range p.Serial.Requests {
			r := &p.Serial.Requests[i]
			out = append(out, WritePoint{Name: r.Name, Unit: r.Unit, Description: r.Description, Write: &r.Write})
		}
	}
	if p.MQTT != nil {
		for i := range p.MQTT.Downlinks {
			d := &p.MQTT.Downlinks[i]
			out = append(out, WritePoint{Name: d.Name, Unit: d.Unit, Description: d.Description, Write: &d.Write})
		}
	}
	if p.RSMP != nil {
		for i := range p.RSMP.Commands {
			c := &p.RSMP.Commands[i]
			out = append(out, WritePoint{Name: c.Name, Unit: c.Unit, Description: c.Description, Write: &c.Write})
		}
	}
	return out
}

func (p *Profile) hasPoint(name string) bool {
	for _, n := range p.PointNames() {
		if n == name {
			return true
		}
	}
	return false
}

// validate checks a write block at path; unit is the point's, readable
// reports whether a point of the profile can be read back.
func (v *validator) write(path string, w *Write, self string, readable func(string) bool) {
	if w.Text != nil {
		// Only a Modbus string point is written with a text (textWrite);
		// no other source writes one.
		v.errorf(path+".text", "text rules are for Modbus holding string points only (a message sign's message); this point is written with a number")
		return
	}
	hasRange := w.Min != nil && w.Max != nil
	switch {
	case len(w.Enum) == 0 && !hasRange:
		v.errorf(path, "a writable point needs min and max, or enum (from the vendor's document)")
	case len(w.Enum) > 0 && (w.Min != nil || w.Max != nil):
		v.errorf(path, "give either min and max or enum, not both")
	case hasRange && *w.Min > *w.Max:
		v.errorf(path+".min", "%s is above max %s", fmtValue(*w.Min), fmtValue(*w.Max))
	}
	seen := map[float64]bool{}
	for i, c := range w.Enum {
		if seen[c.Value] {
			v.errorf(fmt.Sprintf("%s.enum[%d]", path, i), "duplicate value %s", fmtValue(c.Value))
		}
		seen[c.Value] = true
	}
	if w.Step < 0 {
		v.errorf(path+".step", "%s: expected a positive step", fmtValue(w.Step))
	}
	if w.Tolerance < 0 {
		v.errorf(path+".tolerance", "%s: expected 0 or more", fmtValue(w.Tolerance))
	}
	v.settle(path, w)
	if w.Safe != nil {
		if err := w.Check(*w.Safe, ""); err != nil {
			v.errorf(path+".safe", "the safe value is not writable: %v", err)
		}
	}
	if rb := w.ReadbackPoint(self); !readable(rb) {
		v.errorf(path+".readback", "no point %q to read back", rb)
	}
}

// settle checks a write block's settle time.
func (v *validator) settle(path string, w *Write) {
	if w.Settle.D() < 0 || w.Settle.D() > maxSettle {
		v.errorf(path+".settle", "%s: expected 0 to %s", w.Settle.D(), maxSettle)
	}
}

// maxSettle bounds Write.Settle: a command holds its device that long.
const maxSettle = 30 * time.Second

// ID returns the profile's name as site configs refer to it: its file's
// name without ".yaml".
func (p *Profile) ID() string {
	return strings.TrimSuffix(filepath.Base(p.File), ".yaml")
}

// PointNames lists the names of the points the profile reads (serial
// names as written, {group} placeholders included).
func (p *Profile) PointNames() []string {
	var out []string
	if p.Modbus != nil {
		for _, pt := range p.Modbus.Points {
			out = append(out, pt.Name)
		}
	}
	if p.Serial != nil {
		for _, r := range p.Serial.Records {
			for _, f := range r.Fields {
				out = append(out, f.Name)
			}
		}
	}
	if p.MQTT != nil {
		for _, f := range p.MQTT.Fields {
			out = append(out, f.Name)
		}
	}
	if p.RSMP != nil {
		for _, s := range p.RSMP.Statuses {
			out = append(out, s.Name)
		}
	}
	return out
}
