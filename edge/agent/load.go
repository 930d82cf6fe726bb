package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/secret"
	"github.com/ponte-city/ponte/internal/yamlconf"
)

// LoadOptions adjust how a site config is read.
type LoadOptions struct {
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
}

// Load reads and validates the site config at path.
func Load(path string, opt LoadOptions) (*Site, error) {
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
func Parse(name string, data []byte, opt LoadOptions) (*Site, error) {
	s := &Site{}
	doc, err := yamlconf.Decode(name, data, s)
	if err != nil {
		return nil, err
	}
	if opt.Dir == "" {
		opt.Dir = filepath.Dir(name)
	}
	s.File = name
	v := &validator{doc: doc, dir: opt.Dir, offline: opt.Offline, profiles: map[string]*profile.Profile{}, profileErr: map[string]bool{}}
	s.Profiles = v.path(s.Profiles, DefaultProfilesDir)
	if opt.ProfilesDir != "" {
		s.Profiles = opt.ProfilesDir
	}
	v.profilesDir = s.Profiles
	v.site(s)
	s.secretWarnings = v.secretWarnings
	if len(v.errs) > 0 {
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
	errs        []error
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
	return p
}
