package ctl

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/edge/transport"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/site"
)

// initDevice is one --device: the fields of a site config device that
// init writes. Lon and Lat are nil when not given (the gateway's
// --location then applies).
type initDevice struct {
	Name, Profile, Address, ID, Area, Entity, Interval string
	Unit                                               int
	Lon, Lat                                           *float64
}

// deviceKeys are the keys of a --device spec, in the order init writes them.
var deviceKeys = []string{"name", "profile", "address", "unit", "id", "interval", "lon", "lat", "area", "entity"}

// deviceFlags collects repeated --device specs.
type deviceFlags []initDevice

func (d *deviceFlags) String() string { return fmt.Sprintf("%d devices", len(*d)) }

func (d *deviceFlags) Set(spec string) error {
	dev, err := parseDeviceSpec(spec)
	if err != nil {
		return err
	}
	*d = append(*d, dev)
	return nil
}

// parseDeviceSpec parses "name=N,profile=P,address=A,unit=3,lon=X,lat=Y,area=A".
// A comma not followed by a known key belongs to the value before it, so
// an area may read "Municipio I, Murat".
func parseDeviceSpec(spec string) (initDevice, error) {
	var parts []string
	for _, p := range strings.Split(spec, ",") {
		k, _, ok := strings.Cut(p, "=")
		if len(parts) > 0 && (!ok || !slices.Contains(deviceKeys, strings.TrimSpace(k))) {
			parts[len(parts)-1] += "," + p
			continue
		}
		parts = append(parts, p)
	}
	var d initDevice
	seen := map[string]bool{}
	for _, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || !slices.Contains(deviceKeys, k) {
			return d, fmt.Errorf("%q: expected key=value with a key of %s", p, strings.Join(deviceKeys, ", "))
		}
		if seen[k] {
			return d, fmt.Errorf("%s given twice", k)
		}
		seen[k] = true
		if err := d.set(k, v); err != nil {
			return d, err
		}
	}
	for _, k := range []string{"name", "profile"} {
		if !seen[k] {
			return d, fmt.Errorf("%s= is required (e.g. name=meter-1,profile=eastron-sdm630-v2,address=tcp://192.168.1.20:502,unit=1)", k)
		}
	}
	if (d.Lon == nil) != (d.Lat == nil) {
		return d, fmt.Errorf("device %s: give lon= and lat= together", d.Name)
	}
	return d, nil
}

// set sets the field of key k from the text v.
func (d *initDevice) set(k, v string) error {
	num := func() (float64, error) {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0, fmt.Errorf("%s=%q: expected a number", k, v)
		}
		return f, nil
	}
	switch k {
	case "name":
		d.Name = v
	case "profile":
		d.Profile = strings.TrimSuffix(v, ".yaml")
	case "address":
		d.Address = v
	case "id":
		d.ID = v
	case "interval":
		d.Interval = v
	case "area":
		d.Area = v
	case "entity":
		d.Entity = v
	case "unit":
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("unit=%q: expected a whole number (a Modbus unit ID, 1 to 247)", v)
		}
		d.Unit = n
	case "lon", "lat":
		f, err := num()
		if err != nil {
			return err
		}
		if k == "lon" {
			d.Lon = &f
		} else {
			d.Lat = &f
		}
	}
	return nil
}

// initConfig is what init writes.
type initConfig struct {
	Gateway, Broker, PasswordFile string
	// Lon, Lat are the gateway's location, nil when not given.
	Lon, Lat *float64
	Devices  []initDevice
}

// initSite is `ponte-ctl init`.
func initSite(env Env, args []string) int {
	fs := flag.NewFlagSet("init", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var (
		cfg      initConfig
		devs     deviceFlags
		location string
	)
	out := fs.String("out", "site.yaml", "site config `FILE` to write")
	force := fs.Bool("force", false, "overwrite an existing --out file")
	ask := fs.Bool("ask", false, "ask for what is missing even when stdin is not a terminal")
	profiles := fs.String("profiles", site.DefaultProfilesDir, "firmware profile `DIR` to check the devices' profiles against")
	fs.StringVar(&cfg.Gateway, "gateway", "", "gateway `ID` (lower case letters, digits and dashes)")
	fs.StringVar(&cfg.Broker, "broker", "", "uplink broker `URL`, e.g. ssl://mqtt.example.org:8883")
	fs.StringVar(&cfg.PasswordFile, "password-file", "", "`FILE` holding the uplink password (relative: next to the site config); the password itself is never written")
	fs.StringVar(&location, "location", "", "the gateway's position `LON,LAT` (WGS84 degrees), for devices given without lon= and lat=")
	fs.Var(&devs, "device", "a device, repeatable: `name=N,profile=P,address=A[,unit=N][,id=ID][,interval=D][,lon=X,lat=Y][,area=A][,entity=E]`")
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "ponte-ctl init: unexpected argument %q (devices are given with --device name=...,profile=...)\n", fs.Arg(0))
		return ExitUsage
	}
	if location != "" {
		lon, lat, err := parseLonLat(location)
		if err != nil {
			fmt.Fprintf(env.Stderr, "ponte-ctl init: --location: %v\n", err)
			return ExitUsage
		}
		cfg.Lon, cfg.Lat = &lon, &lat
	}
	cfg.Devices = devs
	if _, err := os.Stat(*out); err == nil && !*force {
		fmt.Fprintf(env.Stderr, "ponte-ctl init: %s exists; give --force to overwrite it, or --out another file\n", *out)
		return ExitFail
	}
	if missing := cfg.missing(); len(missing) > 0 {
		if !*ask && !isTerminal(env.Stdin) {
			fmt.Fprintf(env.Stderr, "ponte-ctl init: missing %s; stdin is not a terminal, so give them as flags (or --ask to be asked)\n", strings.Join(missing, ", "))
			return ExitUsage
		}
		p := &prompter{in: bufio.NewReader(orEmpty(env.Stdin)), out: env.Stdout, profiles: *profiles}
		if err := p.fill(&cfg); err != nil {
			fmt.Fprintf(env.Stderr, "ponte-ctl init: %v\n", err)
			return ExitUsage
		}
	}
	data := cfg.yaml()
	abs, _ := filepath.Abs(*out)
	s, err := agent.Parse(*out, data, site.Options{Dir: filepath.Dir(abs), ProfilesDir: *profiles, Offline: true})
	if err != nil {
		lines := errorLines(err)
		fmt.Fprintf(env.Stderr, "ponte-ctl init: the site config would not validate, so %s was not written:\n", *out)
		for _, l := range lines {
			fmt.Fprintln(env.Stderr, "  "+l)
		}
		fmt.Fprintf(env.Stderr, "%d %s; devices[N] is the (N+1)th device given; correct it and run ponte-ctl init again (profiles are looked up in %s; --profiles DIR for another folder)\n",
			len(lines), plural(len(lines), "error", "errors"), *profiles)
		return ExitFail
	}
	if err := writePrivate(*out, data, *force); err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl init: %v\n", err)
		return ExitFail
	}
	fmt.Fprintf(env.Stdout, "%s: written (gateway %s, %d %s); next: ponte-ctl test %s\n",
		*out, s.Gateway.ID, len(s.Devices), plural(len(s.Devices), "device", "devices"), *out)
	if cfg.PasswordFile != "" {
		fmt.Fprintf(env.Stdout, "the uplink password goes in %s (mode 0600), which the site config names\n", s.Uplink.PasswordFile)
	}
	return ExitOK
}

// missing names the required values cfg lacks, as flags.
func (c *initConfig) missing() []string {
	var m []string
	if c.Gateway == "" {
		m = append(m, "--gateway")
	}
	if c.Broker == "" {
		m = append(m, "--broker")
	}
	if len(c.Devices) == 0 {
		m = append(m, "--device")
	}
	return m
}

// yaml renders the site config, with comments saying how to check it.
func (c *initConfig) yaml() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Site config of gateway %s, written by ponte-ctl init.\n", c.Gateway)
	b.WriteString("# Check it with `ponte-ctl validate FILE`, read its devices with `ponte-ctl test FILE`.\n")
	fmt.Fprintf(&b, "gateway:\n  id: %s\n", yamlText(c.Gateway))
	if c.Lon != nil {
		fmt.Fprintf(&b, "  # located at lon %s, lat %s (the devices without their own location take it)\n", num(*c.Lon), num(*c.Lat))
	}
	fmt.Fprintf(&b, "\nuplink:\n  broker: %s\n", yamlText(c.Broker))
	if c.PasswordFile != "" {
		fmt.Fprintf(&b, "  password_file: %s   # holds the gateway's password, mode 0600\n", yamlText(c.PasswordFile))
	}
	b.WriteString("\ndevices:\n")
	for _, d := range c.Devices {
		fmt.Fprintf(&b, "  - name: %s\n    profile: %s\n", yamlText(d.Name), yamlText(d.Profile))
		field := func(k, v string) {
			if v != "" {
				fmt.Fprintf(&b, "    %s: %s\n", k, yamlText(v))
			}
		}
		field("address", d.Address)
		if d.Unit != 0 {
			fmt.Fprintf(&b, "    unit: %d\n", d.Unit)
		}
		field("id", d.ID)
		field("interval", d.Interval)
		lon, lat := d.Lon, d.Lat
		if lon == nil {
			lon, lat = c.Lon, c.Lat
		}
		if lon != nil {
			fmt.Fprintf(&b, "    location: {lon: %s, lat: %s}\n", num(*lon), num(*lat))
		}
		field("area", d.Area)
		field("entity", d.Entity)
	}
	return []byte(b.String())
}

// yamlText is s as a YAML scalar, quoted where YAML needs it.
func yamlText(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(string(out), "\n")
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// parseLonLat parses "LON,LAT".
func parseLonLat(s string) (lon, lat float64, err error) {
	a, b, ok := strings.Cut(s, ",")
	if ok {
		lon, err = strconv.ParseFloat(strings.TrimSpace(a), 64)
		if err == nil {
			lat, err = strconv.ParseFloat(strings.TrimSpace(b), 64)
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("%q: expected LON,LAT in degrees, e.g. 11.2558,43.7696", s)
	}
	return lon, lat, nil
}

// writePrivate writes data to path with mode 0600, whole or not at all:
// through a temporary file in the same folder, renamed over path when
// force is set, else linked to it (which fails if path appeared meanwhile).
func writePrivate(path string, data []byte, force bool) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ponte-ctl-init-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if force {
		err = os.Rename(tmp.Name(), path)
	} else {
		err = os.Link(tmp.Name(), path)
	}
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; give --force to overwrite it", path)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// isTerminal reports whether r is a terminal a person types on.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func orEmpty(r io.Reader) io.Reader {
	if r == nil {
		return strings.NewReader("")
	}
	return r
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// prompter asks for what init's flags left out, each question with its
// default in brackets; an invalid answer is asked again.
type prompter struct {
	in       *bufio.Reader
	out      io.Writer
	profiles string
}

// errNoAnswer: stdin ended before every question was answered.
var errNoAnswer = errors.New("stdin ended before every question was answered; give the values as flags (see ponte-ctl help)")

// ask prints question with its default and returns the answer (the
// default when the answer is empty), or errNoAnswer at the end of input.
func (p *prompter) ask(question, def string) (string, error) {
	if def != "" {
		fmt.Fprintf(p.out, "%s [%s]: ", question, def)
	} else {
		fmt.Fprintf(p.out, "%s: ", question)
	}
	line, err := p.in.ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		fmt.Fprintln(p.out)
		return "", errNoAnswer
	}
	if line = strings.TrimSpace(line); line == "" {
		return def, nil
	}
	return line, nil
}

// askValid asks until check accepts the answer (an empty answer with no
// default is refused when required).
func (p *prompter) askValid(question, def string, required bool, check func(string) error) (string, error) {
	for {
		a, err := p.ask(question, def)
		if err != nil {
			return "", err
		}
		if a == "" && required {
			fmt.Fprintln(p.out, "  required")
			continue
		}
		if a != "" && check != nil {
			if err := check(a); err != nil {
				fmt.Fprintf(p.out, "  %v\n", err)
				continue
			}
		}
		return a, nil
	}
}

// fill asks for every required value cfg lacks, and for devices when no
// --device was given.
func (p *prompter) fill(cfg *initConfig) error {
	var err error
	if cfg.Gateway == "" {
		if cfg.Gateway, err = p.askValid("Gateway ID", "", true, nil); err != nil {
			return err
		}
	}
	if cfg.Broker == "" {
		if cfg.Broker, err = p.askValid("Uplink broker URL (e.g. ssl://mqtt.example.org:8883)", "", true, nil); err != nil {
			return err
		}
		if cfg.PasswordFile == "" {
			if cfg.PasswordFile, err = p.ask("Uplink password file (\"-\": none, e.g. with mutual TLS)", "uplink.password"); err != nil {
				return err
			}
			if cfg.PasswordFile == "-" {
				cfg.PasswordFile = ""
			}
		}
	}
	if cfg.Lon == nil && len(cfg.Devices) == 0 {
		loc, err := p.askValid("Gateway location LON,LAT (empty: give one per device)", "", false, func(s string) error {
			_, _, err := parseLonLat(s)
			return err
		})
		if err != nil {
			return err
		}
		if loc != "" {
			lon, lat, _ := parseLonLat(loc)
			cfg.Lon, cfg.Lat = &lon, &lat
		}
	}
	if len(cfg.Devices) > 0 {
		return nil
	}
	for {
		d, err := p.device(len(cfg.Devices)+1, cfg.Lon != nil)
		if err != nil {
			return err
		}
		if d.Name == "" {
			if len(cfg.Devices) == 0 {
				fmt.Fprintln(p.out, "  a gateway needs at least one device")
				continue
			}
			return nil
		}
		cfg.Devices = append(cfg.Devices, d)
	}
}

// device asks for the n-th device; an empty name ends the list.
func (p *prompter) device(n int, haveLocation bool) (initDevice, error) {
	var d initDevice
	var err error
	if d.Name, err = p.ask(fmt.Sprintf("Device %d name (empty: no more devices)", n), ""); err != nil || d.Name == "" {
		return d, err
	}
	var prof *profile.Profile
	names := profileNames(p.profiles)
	d.Profile, err = p.askValid(fmt.Sprintf("  profile (in %s: %s)", p.profiles, strings.Join(names, ", ")), "", true, func(s string) error {
		pr, lerr := profile.Load(filepath.Join(p.profiles, strings.TrimSuffix(s, ".yaml")+".yaml"))
		if lerr != nil {
			return fmt.Errorf("%v (expected one of %s)", lerr, strings.Join(names, ", "))
		}
		prof = pr
		return nil
	})
	if err != nil {
		return d, err
	}
	d.Profile = strings.TrimSuffix(d.Profile, ".yaml")
	expect := ""
	if t, err := transport.For(prof.Kind); err == nil {
		expect = " (" + t.Expect + ")"
	}
	if d.Address, err = p.askValid("  address"+expect, "", true, nil); err != nil {
		return d, err
	}
	switch prof.Kind {
	case profile.KindModbus:
		u, err := p.askValid("  Modbus unit ID", "1", true, func(s string) error { return d.set("unit", s) })
		if err != nil {
			return d, err
		}
		_ = d.set("unit", u)
	case profile.KindMQTT:
		if d.ID, err = p.ask("  device ID in its payloads (e.g. the DevEUI)", ""); err != nil {
			return d, err
		}
	}
	locQ, required := "  location LON,LAT", true
	if haveLocation {
		locQ, required = "  location LON,LAT (empty: the gateway's)", false
	}
	loc, err := p.askValid(locQ, "", required, func(s string) error { _, _, err := parseLonLat(s); return err })
	if err != nil {
		return d, err
	}
	if loc != "" {
		lon, lat, _ := parseLonLat(loc)
		d.Lon, d.Lat = &lon, &lat
	}
	if d.Area, err = p.ask("  area (district or zone; empty: none)", ""); err != nil {
		return d, err
	}
	return d, nil
}

// profileNames lists the profile names in dir, as site configs name them.
func profileNames(dir string) []string {
	paths, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	names := make([]string, 0, len(paths))
	for _, p := range paths {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".yaml"))
	}
	return names
}
