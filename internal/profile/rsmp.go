package profile

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
)

// KindRSMP is a device read over RSMP (Road Side Message Protocol, RSMP
// Nordic): a traffic light controller or other roadside site speaking
// JSON over TCP, described by a Signal Exchange List (SXL).
const KindRSMP Kind = "rsmp"

// MainComponent is the component a status or command addresses when the
// profile says "main" (or nothing): the site's main component, whose ID
// the device's address gives (rsmp://host:port?site=ID&component=ID,
// the component defaulting to the site ID).
const MainComponent = "main"

// DefaultRSMPVersions are the RSMP core versions a supervisor offers in
// its Version message when the profile names none (RSMP core 3.2.2,
// section "RSMP/SXL Version": every supported version is sent).
var DefaultRSMPVersions = []string{"3.1.2", "3.1.3", "3.1.4", "3.1.5", "3.2.0", "3.2.1", "3.2.2"}

// RSMP maps a site's statuses into points and its commands into writable
// points. Codes and names come from the SXL the site announces (SXL).
type RSMP struct {
	// SXL is the revision of the Signal Exchange List the site must
	// announce in its Version message, e.g. "1.2.1"; a site announcing
	// another is refused (RSMP core 3.2.2, "Communication rejection").
	SXL string `yaml:"sxl"`
	// Versions are the RSMP core versions offered (default
	// DefaultRSMPVersions); the newest one both sides offer is used.
	Versions []string `yaml:"versions"`
	// Statuses are the points read with a StatusRequest at every poll.
	Statuses []RSMPStatus `yaml:"statuses"`
	// Commands are the points a command may write with a CommandRequest.
	Commands []RSMPCommand `yaml:"commands"`
}

// RSMPStatus is one return value of one status of the SXL, read as a
// point: StatusRequest {"sCI": SCI, "n": N} on component Component.
type RSMPStatus struct {
	// Name is the point's name.
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Unit        string `yaml:"unit"`
	// Component is "main" (the default) or a component ID of the site.
	Component string `yaml:"component"`
	// SCI is the status code ID, e.g. S0014.
	SCI string `yaml:"sci"`
	// N is the name of the return value, e.g. status.
	N string `yaml:"n"`
	// Type is how the value's string is read: int, float, bool ("True" /
	// "False", RSMP's boolean strings) or string.
	Type Type `yaml:"type"`
	// Range bounds the value; outside it the reading is bad_range.
	Range Range `yaml:"range"`
}

// RSMPCommand is a command of the SXL written as a point: a
// CommandRequest with the arguments Arguments, the value in argument
// Value, and the site's security code (a secret of the site config,
// never the profile's) in argument SecurityCode.
type RSMPCommand struct {
	// Name is the point's name.
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Unit        string `yaml:"unit"`
	// Component is "main" (the default) or a component ID of the site.
	Component string `yaml:"component"`
	// CCI is the command code ID, e.g. M0002; CO the command (cO), e.g.
	// setPlan, both as the SXL gives them.
	CCI string `yaml:"cci"`
	CO  string `yaml:"co"`
	// Value names the argument that carries the value, e.g. timeplan.
	Value string `yaml:"value"`
	// SecurityCode names the argument that carries the security code,
	// e.g. securityCode; empty when the command needs none.
	SecurityCode string `yaml:"security_code"`
	// Arguments are the other arguments, with their fixed values (RSMP
	// strings, e.g. status: "True"). Every argument the SXL defines must
	// be sent (RSMP core 3.2.2, "Incomplete commands").
	Arguments map[string]string `yaml:"arguments"`
	// Release, when set, is a value of the point that hands the setting
	// back to the site's own programme instead of forcing one (M0002
	// status False: "Controller uses time plan according to
	// programming").
	Release *RSMPRelease `yaml:"release"`
	// Write bounds the value; Write.Readback names the status point read
	// back after Write.Settle.
	Write Write `yaml:"write"`
}

// RSMPRelease is the value of a command point that releases the site to
// its own programme, and how that is read back.
type RSMPRelease struct {
	// Value is the point's value that releases (e.g. 0, outside the
	// plans 1..255).
	Value float64 `yaml:"value"`
	// Arguments override the command's fixed arguments, e.g. status:
	// "False". The value argument then carries the plan last read back
	// (the site ignores it; it must be sent all the same).
	Arguments map[string]string `yaml:"arguments"`
	// Readback is a status point of type string whose value Equals when
	// the site follows its own programme (S0014 source: calendar_clock);
	// the release then reads back as Value.
	Readback string `yaml:"readback"`
	Equals   string `yaml:"equals"`
}

// ArgNames returns the command's argument names in a fixed order: the
// value, the security code, then the fixed arguments by name.
func (c *RSMPCommand) ArgNames() []string {
	out := []string{c.Value}
	if c.SecurityCode != "" {
		out = append(out, c.SecurityCode)
	}
	names := make([]string, 0, len(c.Arguments))
	for n := range c.Arguments {
		names = append(names, n)
	}
	sort.Strings(names)
	return append(out, names...)
}

// Status returns the profile's status point called name, or nil.
func (r *RSMP) Status(name string) *RSMPStatus {
	for i := range r.Statuses {
		if r.Statuses[i].Name == name {
			return &r.Statuses[i]
		}
	}
	return nil
}

// Command returns the profile's command point called name, or nil.
func (r *RSMP) Command(name string) *RSMPCommand {
	for i := range r.Commands {
		if r.Commands[i].Name == name {
			return &r.Commands[i]
		}
	}
	return nil
}

// OfferedVersions returns Versions, or DefaultRSMPVersions when empty.
func (r *RSMP) OfferedVersions() []string {
	if len(r.Versions) > 0 {
		return r.Versions
	}
	return DefaultRSMPVersions
}

// RSMP code IDs: a letter and four digits (SXL TLC 1.2.1: S0014, M0002).
var (
	statusCodeRe  = regexp.MustCompile(`^S[0-9]{4}$`)
	commandCodeRe = regexp.MustCompile(`^M[0-9]{4}$`)
	rsmpVersionRe = regexp.MustCompile(`^[0-9]{1,2}\.[0-9]{1,2}(\.[0-9]{1,2})?$`)
	rsmpNameRe    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
)

// rsmpTypes are the types a status point may have.
var rsmpTypes = []Type{TypeInt, TypeFloat, TypeBool, TypeString}

func (v *validator) rsmp(r *RSMP, seen map[string]string) {
	if !rsmpVersionRe.MatchString(r.SXL) {
		v.errorf("rsmp.sxl", "%q: expected the SXL revision the site announces, e.g. \"1.2.1\"", r.SXL)
	}
	for i, ver := range r.Versions {
		if !rsmpVersionRe.MatchString(ver) {
			v.errorf(fmt.Sprintf("rsmp.versions[%d]", i), "%q: expected an RSMP core version such as \"3.2.2\"", ver)
		}
	}
	if len(r.Statuses) == 0 {
		v.errorf("rsmp.statuses", "expected at least one status to read")
	}
	for i := range r.Statuses {
		s := &r.Statuses[i]
		p := fmt.Sprintf("rsmp.statuses[%d]", i)
		v.uniqueName(seen, p+".name", s.Name)
		v.rsmpComponent(p, &s.Component)
		if !statusCodeRe.MatchString(s.SCI) {
			v.errorf(p+".sci", "%q: expected a status code ID such as S0014", s.SCI)
		}
		if !rsmpNameRe.MatchString(s.N) {
			v.errorf(p+".n", "%q: expected the return value's name in the SXL, e.g. status", s.N)
		}
		if !slices.Contains(rsmpTypes, s.Type) {
			v.errorf(p+".type", "%q: expected one of %s", s.Type, list(rsmpTypes))
		}
		v.rng(p, s.Range)
	}
	for i := range r.Commands {
		v.rsmpCommand(r, fmt.Sprintf("rsmp.commands[%d]", i), &r.Commands[i], seen)
	}
}

func (v *validator) rsmpCommand(r *RSMP, p string, c *RSMPCommand, seen map[string]string) {
	v.uniqueName(seen, p+".name", c.Name)
	v.rsmpComponent(p, &c.Component)
	if !commandCodeRe.MatchString(c.CCI) {
		v.errorf(p+".cci", "%q: expected a command code ID such as M0002", c.CCI)
	}
	if !rsmpNameRe.MatchString(c.CO) {
		v.errorf(p+".co", "%q: expected the command (cO) the SXL gives, e.g. setPlan", c.CO)
	}
	if !rsmpNameRe.MatchString(c.Value) {
		v.errorf(p+".value", "%q: expected the name of the argument carrying the value, e.g. timeplan", c.Value)
	}
	args := map[string]bool{c.Value: true}
	if c.SecurityCode != "" {
		if !rsmpNameRe.MatchString(c.SecurityCode) || args[c.SecurityCode] {
			v.errorf(p+".security_code", "%q: expected the name of the argument carrying the security code, e.g. securityCode", c.SecurityCode)
		}
		args[c.SecurityCode] = true
	}
	for _, n := range sortedKeys(c.Arguments) {
		if !rsmpNameRe.MatchString(n) || args[n] {
			v.errorf(p+".arguments."+n, "argument %q: expected a name of the SXL, other than the value's and the security code's", n)
		}
	}
	readable := func(name string) bool {
		s := r.Status(name)
		return s != nil && s.Type != TypeString
	}
	// The command itself cannot be read: Write.Readback must name a
	// status point (the write check reports it missing).
	v.write(p+".write", &c.Write, c.Name, readable)
	if rel := c.Release; rel != nil {
		if err := c.Write.Check(rel.Value, ""); err != nil {
			v.errorf(p+".release.value", "the release value is not writable: %v", err)
		}
		for _, n := range sortedKeys(rel.Arguments) {
			if _, ok := c.Arguments[n]; !ok {
				v.errorf(p+".release.arguments."+n, "argument %q is not one of the command's arguments (expected to override one)", n)
			}
		}
		if s := r.Status(rel.Readback); s == nil || s.Type != TypeString {
			v.errorf(p+".release.readback", "%q: expected a status point of type string (e.g. S0014's source)", rel.Readback)
		}
		if rel.Equals == "" {
			v.errorf(p+".release.equals", "required: the read-back value that shows the release (e.g. calendar_clock)")
		}
	}
}

// rsmpComponent defaults an empty component to "main" and checks it.
func (v *validator) rsmpComponent(p string, c *string) {
	if *c == "" {
		*c = MainComponent
	}
	if len(*c) > 64 {
		v.errorf(p+".component", "%d characters: expected \"main\" or a component ID of at most 64", len(*c))
	}
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
