package sim

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
)

// Options is what ponte-sim runs: one profile served on any mix of
// transports that fit its kind.
type Options struct {
	// Profile is the profile file to serve.
	Profile string
	// ModbusTCP is the listen address for Modbus TCP (e.g. 127.0.0.1:5020),
	// or several, comma-separated: every address serves the same units, as
	// many gateways of one model would (benchmarks simulate 1,000 devices
	// behind ten addresses with one process).
	ModbusTCP string
	// ModbusRTU is the serial device for Modbus RTU (e.g. /dev/pts/3).
	ModbusRTU string
	// Baud, Parity, DataBits and StopBits set the serial line (0 / "" take
	// the profile's serial settings, then 9600 8N1).
	Baud     int
	Parity   string
	DataBits int
	StopBits int
	// PaceLine makes Modbus RTU replies arrive when they would on a real
	// line of those settings (see ModbusServer.PaceLine), instead of at
	// the pseudo-terminal's memory speed: for measuring a bus at its
	// baud-rate limit.
	PaceLine bool
	// Units are the Modbus unit IDs served, each its own device with seed
	// Seed+unit.
	Units []uint8
	// Serial is the serial device a line-format device talks on.
	Serial string
	// MQTT is the broker URL (tcp://host:port) MQTT devices publish to.
	MQTT string
	// MQTTIDs are the identities of the MQTT devices, one device each.
	MQTTIDs []string
	// RSMP is the listen address of a simulated RSMP site (an rsmp
	// profile: a traffic light controller, see rsmp.go).
	RSMP string
	// RSMPSite is the site's ID; RSMPSecurityCode its security code 2.
	RSMPSite         string
	RSMPSecurityCode string
	// Interval is how often serial and MQTT devices send (free running).
	Interval time.Duration
	// Update is how often Modbus registers follow their patterns.
	Update time.Duration
	// Seed makes the values reproducible.
	Seed int64
	// Faults are the faults set at start, keyed by unit number, MQTT id, or
	// "serial".
	Faults map[string]Fault
	// Control is an optional loopback address for the control API.
	Control string
	// TimeScale runs the simulated clock faster than the real one (1 =
	// real time; 1440 shows a day in a minute).
	TimeScale float64
	// Zone is the time zone whose hour of the day shapes the values (rush
	// hours, full car parks, lit streets): an IANA name, default
	// DefaultZone, "Local" for the machine's.
	Zone string
	// Debug logs every request and frame.
	Debug bool
	// Burn, when above 0, serves nothing: the process runs Burn threads
	// of synthetic CPU load instead (see Burn), alone.
	Burn int
}

// maxBurn bounds --burn: a synthetic load, not a fork bomb.
const maxBurn = 1024

// ParseArgs parses ponte-sim's command line; usage and errors go to out.
func ParseArgs(args []string, out io.Writer) (Options, error) {
	o := Options{Faults: map[string]Fault{}}
	fs := flag.NewFlagSet("ponte-sim", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.Profile, "profile", "", "device profile `file` to serve (required)")
	fs.StringVar(&o.ModbusTCP, "modbus-tcp", "", "serve Modbus TCP on `addr` (e.g. 127.0.0.1:5020; comma-separated for several, each serving every unit)")
	fs.StringVar(&o.ModbusRTU, "modbus-rtu", "", "serve Modbus RTU on serial `device` (e.g. /dev/pts/3)")
	fs.IntVar(&o.Baud, "baud", 0, "serial baud rate (default: the profile's, else 9600)")
	fs.StringVar(&o.Parity, "parity", "", "serial parity N, E or O (default: the profile's, else N)")
	fs.IntVar(&o.DataBits, "data-bits", 0, "serial data bits (default 8)")
	fs.IntVar(&o.StopBits, "stop-bits", 0, "serial stop bits (default 1)")
	fs.BoolVar(&o.PaceLine, "pace-line", false, "answer Modbus RTU requests when a real line of the baud rate would deliver the reply (a pty is memory speed)")
	units := fs.String("units", "1", "Modbus unit `ids`, e.g. 1,2,3 or 1-100")
	fs.StringVar(&o.Serial, "serial", "", "run a line-format device on serial `device`")
	fs.StringVar(&o.MQTT, "mqtt", "", "publish to the MQTT broker at `url` (tcp://host:port)")
	ids := fs.String("mqtt-ids", "", "comma-separated MQTT device `ids` (DevEUIs for LoRaWAN formats; default one device)")
	fs.StringVar(&o.RSMP, "rsmp", "", "serve an RSMP site (traffic light controller, rsmp profile) on `addr` (e.g. 127.0.0.1:12111)")
	fs.StringVar(&o.RSMPSite, "rsmp-site", "RN+SI0001", "the RSMP site's `id` (sId)")
	fs.StringVar(&o.RSMPSecurityCode, "rsmp-security-code", "", "the RSMP site's security `code` 2 (M0002); default: the PONTE_SIM_RSMP_SECURITY_CODE environment variable")
	fs.DurationVar(&o.Interval, "interval", 5*time.Second, "how often serial and MQTT devices send")
	fs.DurationVar(&o.Update, "update", time.Second, "how often Modbus values follow their patterns")
	fs.Int64Var(&o.Seed, "seed", 1, "seed for reproducible values")
	fs.Func("fault", "set a fault at start: `UNIT=KIND` (UNIT a unit number, an MQTT id or serial; KIND exception, timeout, garbage, drop); repeatable", func(s string) error {
		k, v, ok := strings.Cut(s, "=")
		if !ok || k == "" {
			return fmt.Errorf("expected UNIT=KIND, got %q", s)
		}
		f, err := ParseFault(v)
		if err != nil {
			return err
		}
		o.Faults[k] = f
		return nil
	})
	fs.StringVar(&o.Control, "control", "", "serve the control API on loopback `addr` (POST /fault, POST /value, GET /status)")
	fs.Float64Var(&o.TimeScale, "time-scale", 1, "simulated clock speed (1440: a day per minute; MQTT messages still carry the real time)")
	fs.StringVar(&o.Zone, "zone", DefaultZone, "time `zone` whose hour of the day shapes the values (IANA name, or Local)")
	fs.BoolVar(&o.Debug, "debug", false, "log at debug level")
	fs.IntVar(&o.Burn, "burn", 0, "serve nothing: run `N` CPU-bound threads (a run queue of about N) until stopped, a synthetic load for starvation benchmarks")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var err error
	if o.Units, err = ParseUnits(*units); err != nil {
		return o, fmt.Errorf("--units: %w", err)
	}
	if *ids != "" {
		o.MQTTIDs = strings.Split(*ids, ",")
	}
	return o, o.Validate()
}

// ParseUnits parses unit IDs: a comma-separated list of IDs and ranges
// ("1,2,5-8"), each 1 to 247, without duplicates.
func ParseUnits(s string) ([]uint8, error) {
	var out []uint8
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			return nil, fmt.Errorf("%q: expected a unit id or a range like 1-10", part)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a {
				return nil, fmt.Errorf("%q: expected a range like 1-10", part)
			}
		}
		for id := a; id <= b; id++ {
			if id < 1 || id > 247 {
				return nil, fmt.Errorf("unit %d: expected 1 to 247", id)
			}
			if seen[id] {
				return nil, fmt.Errorf("unit %d given twice", id)
			}
			seen[id] = true
			out = append(out, uint8(id))
		}
	}
	return out, nil
}

// simTransport is one of the simulator's transports: the flags that ask
// for it, whether they were given, and the profile kind it serves.
type simTransport struct {
	flags string
	given bool
	kind  profile.Kind
}

// transports lists the simulator's transports, one per profile kind, with
// whether o asks for each.
func transports(o Options) []simTransport {
	return []simTransport{
		{"--modbus-tcp/--modbus-rtu", o.ModbusTCP != "" || o.ModbusRTU != "", profile.KindModbus},
		{"--serial", o.Serial != "", profile.KindSerial},
		{"--mqtt", o.MQTT != "", profile.KindMQTT},
		{"--rsmp", o.RSMP != "", profile.KindRSMP},
	}
}

// Validate checks the options, reporting every problem.
func (o Options) Validate() error {
	if o.Burn != 0 {
		switch {
		case o.Burn < 0 || o.Burn > maxBurn:
			return fmt.Errorf("--burn %d: expected 1 to %d threads", o.Burn, maxBurn)
		case o.Profile != "" || slices.ContainsFunc(transports(o), func(t simTransport) bool { return t.given }):
			return errors.New("--burn runs alone: no --profile nor anything to serve with it")
		}
		return nil
	}
	var errs []error
	if o.Profile == "" {
		errs = append(errs, errors.New("--profile: required"))
	}
	if !slices.ContainsFunc(transports(o), func(t simTransport) bool { return t.given }) {
		errs = append(errs, errors.New("nothing to serve: give --modbus-tcp, --modbus-rtu, --serial, --mqtt or --rsmp"))
	}
	if (o.ModbusTCP != "" || o.ModbusRTU != "") && len(o.Units) == 0 {
		errs = append(errs, errors.New("--units: at least one unit id"))
	}
	if o.Parity != "" && o.Parity != "N" && o.Parity != "E" && o.Parity != "O" {
		errs = append(errs, fmt.Errorf("--parity %q: expected N, E or O", o.Parity))
	}
	if o.Interval <= 0 {
		errs = append(errs, fmt.Errorf("--interval %v: expected a positive duration", o.Interval))
	}
	if o.Update <= 0 {
		errs = append(errs, fmt.Errorf("--update %v: expected a positive duration", o.Update))
	}
	if o.TimeScale <= 0 {
		errs = append(errs, fmt.Errorf("--time-scale %g: expected a positive factor", o.TimeScale))
	}
	if _, err := zone(o.Zone); err != nil {
		errs = append(errs, fmt.Errorf("--zone %q: %v (expected an IANA time zone such as Europe/Rome, or Local)", o.Zone, err))
	}
	for _, id := range o.MQTTIDs {
		if id == "" || strings.ContainsAny(id, "/+#") {
			errs = append(errs, fmt.Errorf("--mqtt-ids: %q: expected a non-empty id without / + #", id))
		}
	}
	if o.Control != "" {
		if err := checkLoopback(o.Control); err != nil {
			errs = append(errs, fmt.Errorf("--control: %w", err))
		}
	}
	return errors.Join(errs...)
}

// checkLoopback refuses control addresses reachable from the network: the
// control API has no authentication.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q: expected a loopback address such as 127.0.0.1:8090 (the control API has no authentication)", addr)
	}
	return nil
}

// tcpAddrs returns the Modbus TCP listen addresses, none if not asked for.
func (o Options) tcpAddrs() []string {
	if o.ModbusTCP == "" {
		return nil
	}
	return strings.Split(o.ModbusTCP, ",")
}
