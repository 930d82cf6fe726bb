package ctl

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/internal/yamlconf"
)

// validate is `ponte-ctl validate FILE...`: each file is a site config,
// checked as ponte-edge --check does (with every profile its devices name,
// found by name in the profiles folder), or a profile, checked by path.
// Every problem is printed once as file:line: field: problem; a count and
// what to do next end the output.
func validate(env Env, args []string) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	profiles := fs.String("profiles", "", "firmware profile `DIR` (overrides the site configs' profiles)")
	secrets := fs.Bool("secrets", false, "also read the uplink password and TLS files the site config names (on the gateway itself)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return ExitUsage
	}
	if len(files) == 0 {
		fmt.Fprintln(env.Stderr, "ponte-ctl validate: expected one or more site configs or profiles (ponte-ctl validate site.yaml)")
		return ExitUsage
	}
	problems, bad := 0, 0
	unknownProfile := ""
	for _, f := range files {
		var lines []string
		if isProfileFile(f) {
			lines = validateProfileFile(env.Stdout, f)
		} else {
			lines = validateSiteFile(env.Stdout, env.Stderr, f, site.Options{ProfilesDir: *profiles, Offline: !*secrets})
		}
		for _, l := range lines {
			fmt.Fprintln(env.Stderr, l)
			if strings.Contains(l, "unknown profile") && unknownProfile == "" {
				unknownProfile = l
			}
		}
		if len(lines) > 0 {
			bad++
			problems += len(lines)
		}
	}
	if bad == 0 {
		return ExitOK
	}
	next := fmt.Sprintf("correct each at the line shown, then run ponte-ctl validate %s again", strings.Join(files, " "))
	if unknownProfile != "" {
		next += "; profiles are found by name in the site config's profiles folder, or give --profiles DIR"
	}
	fmt.Fprintf(env.Stderr, "%d %s in %d of %d %s: %s\n", problems, plural(problems, "error", "errors"),
		bad, len(files), plural(len(files), "file", "files"), next)
	return ExitFail
}

// validateSiteFile checks the site config at path, printing what it found
// fine to out (and secret warnings to warn), and returns its problems,
// one line each.
func validateSiteFile(out, warn io.Writer, path string, opt site.Options) []string {
	s, err := agent.Load(path, opt)
	if err != nil {
		return problemLines(err)
	}
	fmt.Fprintf(out, "%s: ok (gateway %s, %d %s)\n", path, s.Gateway.ID, len(s.Devices), plural(len(s.Devices), "device", "devices"))
	seen := map[string]bool{}
	for _, d := range s.Devices {
		p := d.LoadedProfile()
		if p == nil || seen[d.Profile] {
			continue
		}
		seen[d.Profile] = true
		fmt.Fprintf(out, "  profile %s: ok (%s)\n", p.File, describeProfile(p))
	}
	for _, w := range s.SecretWarnings() {
		fmt.Fprintf(warn, "warning: %s (fix: %s)\n", w, w.Fix())
	}
	return nil
}

// validateProfileFile checks the profile at path, printing it to out when
// fine, and returns its problems, one line each.
func validateProfileFile(out io.Writer, path string) []string {
	p, err := profile.Load(path)
	if err != nil {
		return problemLines(err)
	}
	fmt.Fprintf(out, "%s: ok (%s)\n", path, describeProfile(p))
	return nil
}

func describeProfile(p *profile.Profile) string {
	return fmt.Sprintf("%s %s, %s, %d points", p.Manufacturer, p.Model, p.Kind, pointCount(p))
}

// problemLines is err as one line per problem. A site config's profile
// that does not load comes as one problem holding the profile's own
// errors; they are split out, each at its line in the profile.
func problemLines(err error) []string {
	errs := []error{err}
	if list, ok := err.(interface{ Unwrap() []error }); ok {
		errs = list.Unwrap()
	}
	var out []string
	for _, e := range errs {
		var fe *yamlconf.FieldError
		if errors.As(e, &fe) {
			if head, rest, ok := strings.Cut(fe.Msg, " does not load: "); ok {
				short := *fe
				short.Msg = head + " does not load (its errors follow)"
				out = append(out, short.Error())
				out = append(out, errorLines(errors.New(rest))...)
				continue
			}
		}
		out = append(out, errorLines(e)...)
	}
	return out
}

// isProfileFile reports whether the YAML file at path is a profile (it has
// a kind or model and no gateway or devices) rather than a site config.
// A file that does not parse is taken for a site config, whose loader
// reports the syntax error at its line.
func isProfileFile(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return filepath.Base(filepath.Dir(path)) == "firmware-profiles"
	}
	var top map[string]yaml.Node
	if yaml.Unmarshal(data, &top) != nil {
		return false
	}
	_, kind := top["kind"]
	_, model := top["model"]
	_, gw := top["gateway"]
	_, devs := top["devices"]
	return (kind || model) && !gw && !devs
}

// parseInterleaved parses fs from args with flags and arguments in any
// order ("validate site.yaml --profiles dir"), returning the arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}
