package site

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/secret"
	"github.com/ponte-city/ponte/internal/yamlconf"
)

// Options adjust how a site config is read.
type Options struct {
	// Dir is the directory relative paths in the config are taken from
	// (default: the config file's directory).
	Dir string
	// ProfilesDir overrides the config's profiles directory (e.g. a
	// checkout's firmware-profiles in tests and on a technician's laptop).
	ProfilesDir string
	// Offline skips the checks that need the gateway's own files (the
	// password file and the TLS files), to validate a config away from
	// its box. The profiles are still loaded.
	Offline bool
	// Check, if set, runs after this package's checks with the decoded
	// site: the checks that need more than data (the edge agent's
	// transports: a device's address fits its source, the buffer's own
	// limits). Problems it reports through c join the others, each at its
	// line.
	Check func(s *Site, c *Checker)

	// loaded are the profiles already loaded by file, shared by the site
	// configs of one LoadInventory: at 1,000 gateways of one meter
	// model, each config parsed the same profile again (a third of
	// ingest's start). Only one call shares them, so a profile edited
	// since is read again at the next load.
	loaded map[string]*profile.Profile
}

// Checker reports the problems of one site config at their lines; it is
// handed to Options.Check.
type Checker struct{ v *validator }

// Errorf reports a problem with the field at path ("devices[2].address").
func (c *Checker) Errorf(path, format string, args ...any) { c.v.errorf(path, format, args...) }

// Has reports whether the file sets the field at path.
func (c *Checker) Has(path string) bool { return c.v.doc.Has(path) }

// Line is the line of the field at path (0 when the file does not set it).
func (c *Checker) Line(path string) int { return c.v.doc.Line(path) }

// Path resolves p against the config's directory, or returns def when p
// is empty.
func (c *Checker) Path(p, def string) string { return c.v.path(p, def) }

// Count is the number of problems reported so far.
func (c *Checker) Count() int { return len(c.v.errs) }

// Offline reports whether the gateway's own files are left unread.
func (c *Checker) Offline() bool { return c.v.offline }

// DeviceOK reports whether devices[i] passed this package's checks, so a
// further check can leave a device already reported alone.
func (c *Checker) DeviceOK(i int) bool { return c.v.deviceOK(i) }

// Load reads and validates the site config at path.
func Load(path string, opt Options) (*Site, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read site config: %w", err)
	}
	if opt.Dir == "" {
		opt.Dir = filepath.Dir(path)
	}
	s, err := Parse(path, data, opt)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Parse decodes and validates a site config read from the file called
// name, loading the profiles its devices use. Every problem found is
// reported, each as a *yamlconf.FieldError naming the file, line and
// field (profile errors name the profile file), joined with errors.Join.
func Parse(name string, data []byte, opt Options) (*Site, error) {
	s := &Site{}
	doc, err := yamlconf.Decode(name, data, s)
	if err != nil {
		return nil, err
	}
	if opt.Dir == "" {
		opt.Dir = filepath.Dir(name)
	}
	s.File = name
	v := &validator{doc: doc, dir: opt.Dir, offline: opt.Offline, profiles: map[string]*profile.Profile{}, profileErr: map[string]bool{}, loaded: opt.loaded}
	s.Profiles = v.path(s.Profiles, DefaultProfilesDir)
	if opt.ProfilesDir != "" {
		s.Profiles = opt.ProfilesDir
	}
	v.profilesDir = s.Profiles
	v.site(s)
	if opt.Check != nil {
		opt.Check(s, &Checker{v: v})
	}
	s.secretWarnings = v.secretWarnings
	if len(v.errs) > 0 {
		// In file order, whichever check found them.
		slices.SortStableFunc(v.errs, func(a, b error) int { return cmp.Compare(line(a), line(b)) })
		return nil, errors.Join(v.errs...)
	}
	return s, nil
}

// validator collects every problem of one site config.
type validator struct {
	doc         *yamlconf.Doc
	dir         string
	offline     bool
	profilesDir string
	profiles    map[string]*profile.Profile
	profileErr  map[string]bool
	loaded      map[string]*profile.Profile // Options.loaded (nil: none)
	errs        []error
	// devs are the devices checked (for deviceOK).
	devs []Device
	// secretWarnings are the files holding secrets others may read.
	secretWarnings []secret.Warning
}

func (v *validator) errorf(path, format string, args ...any) {
	v.errs = append(v.errs, v.doc.Errorf(path, format, args...))
}

// path resolves p against the config's directory, or returns def.
func (v *validator) path(p, def string) string {
	if p == "" {
		return def
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.dir, p)
}

func (v *validator) site(s *Site) {
	v.gateway(&s.Gateway)
	v.uplink(&s.Uplink)
	v.buffer(&s.Buffer)
	v.http(&s.HTTP)
	v.devices(s)
}

// profile loads the named profile once; a profile that fails to load is
// reported once, with its own file and line.
func (v *validator) profile(path, name string) *profile.Profile {
	if p, ok := v.profiles[name]; ok {
		return p
	}
	if v.profileErr[name] {
		return nil
	}
	if name == "" {
		v.errorf(path, "required (expected a profile name, the file name without .yaml in %s)", v.profilesDir)
		return nil
	}
	if strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") || strings.HasSuffix(name, ".yaml") {
		v.errorf(path, "profile %q: expected a file name without directory or .yaml, as in %s", name, v.profilesDir)
		return nil
	}
	file := filepath.Join(v.profilesDir, name+".yaml")
	if p, ok := v.loaded[file]; ok {
		v.profiles[name] = p
		return p
	}
	if _, err := os.Stat(file); err != nil {
		v.profileErr[name] = true
		v.errorf(path, "unknown profile %q (no %s.yaml in %s)", name, name, v.profilesDir)
		return nil
	}
	p, err := profile.Load(file)
	if err != nil {
		v.profileErr[name] = true
		v.errorf(path, "profile %q does not load: %v", name, err)
		return nil
	}
	v.profiles[name] = p
	if v.loaded != nil {
		v.loaded[file] = p
	}
	return p
}

// line is the line a problem was found at (0 when unknown: first).
func line(err error) int {
	var fe *yamlconf.FieldError
	if errors.As(err, &fe) {
		return fe.Line
	}
	return 0
}
