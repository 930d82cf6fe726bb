package ctl

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/edge/source/modbus"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/site"
)

// Scan decisions (ponte-ctl scan):
//
//   - A unit is present when it answers anything to a read of holding
//     register 0: data, or a Modbus exception (a meter without holding
//     register 0 answers exception 2, which proves it is there). Exceptions
//     0x0A and 0x0B are a TCP gateway saying the unit behind it is absent,
//     and silence is absence.
//   - One TCP host only. Sweeping a network disturbs other operators'
//     devices and looks like an attack to the city's network team, so a
//     CIDR or an address range is refused with a message, not scanned.
//   - --baud auto / --parity auto try the common settings (9600, 19200,
//     38400, 115200 x N, E, O) one after the other and stop at the first
//     where a unit answers: all units on one RS-485 line share its setting.
//   - A profile is suggested for a unit when every one of its identify
//     checks (modbus.identify) reads as expected; profiles without
//     identify are never suggested.

// scanBauds and scanParities are what --baud auto and --parity auto try,
// the most common first.
var (
	scanBauds    = []int{9600, 19200, 38400, 115200}
	scanParities = []string{"E", "N", "O"}
)

// scanProbePoint is what scan reads from each unit: holding register 0.
var scanProbePoint = profile.ModbusPoint{Name: "probe", Table: profile.TableHolding, Address: 0, Type: profile.TypeUint16}

// scanHit is one unit that answered, with the profiles it fits.
type scanHit struct {
	Address string
	Unit    uint8
	Fits    []string
}

type scanOpts struct {
	addrs    []string // one address per line setting to try
	units    []uint8
	timeout  time.Duration
	profiles map[string]*profile.Profile
}

func scan(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("scan", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var (
		rtu      = fs.String("rtu", "", "serial `PATH` of the RS-485 line, e.g. /dev/ttyUSB0")
		tcp      = fs.String("tcp", "", "one Modbus TCP `HOST:PORT` (port default 502); never a network range")
		baud     = fs.String("baud", "9600", "baud rate of --rtu, or auto: try 9600, 19200, 38400, 115200")
		parity   = fs.String("parity", "E", "parity of --rtu: N, E, O, or auto: try each")
		units    = fs.String("units", "1-247", "unit IDs to try: 1-247, 5, 1-10,20")
		timeout  = fs.Duration("timeout", 300*time.Millisecond, "wait this long for each unit's reply")
		profDir  = fs.String("profiles", site.DefaultProfilesDir, "firmware profile `DIR` whose identify registers suggest a profile")
		profFile = fs.String("profile", "", "check only this profile `FILE` for suggestions")
	)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	opts, err := scanOptions(*rtu, *tcp, *baud, *parity, *units, *timeout)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl scan: %v\n", err)
		return ExitUsage
	}
	opts.profiles, err = scanProfiles(*profDir, *profFile)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl scan: %v\n  next: fix the profile (ponte-ctl profile validate) or pass --profiles DIR\n", err)
		return ExitFail
	}
	if len(opts.profiles) == 0 {
		fmt.Fprintf(env.Stderr, "ponte-ctl scan: no profile with identify registers in %s: units are listed without a suggestion\n", *profDir)
	}
	if *rtu != "" {
		if _, err := os.Stat(*rtu); err != nil {
			fmt.Fprintf(env.Stderr, "ponte-ctl scan: %v\n  next: check the adapter is plugged in (ls /dev/ttyUSB* /dev/serial/by-id/)\n", err)
			return ExitFail
		}
	}
	if *tcp != "" {
		host := strings.TrimPrefix(opts.addrs[0], "tcp://")
		conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", host)
		if err != nil {
			fmt.Fprintf(env.Stderr, "ponte-ctl scan: %v\n  next: check the host and port (Modbus TCP is usually 502) and that this laptop reaches it\n", err)
			return ExitFail
		}
		conn.Close()
	}
	hits, setting, err := runScan(ctx, env.Stderr, opts)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl scan: %v\n", err)
		return ExitFail
	}
	if len(hits) == 0 {
		fmt.Fprintf(env.Stderr, "ponte-ctl scan: no unit answered on %s\n  next: %s\n", strings.Join(opts.addrs, ", "), scanNoneHint(*rtu != ""))
		return ExitFail
	}
	if len(opts.addrs) > 1 {
		fmt.Fprintf(env.Stderr, "scan: units answer at %s\n", setting)
	}
	printHits(env.Stdout, hits, opts.profiles)
	return ExitOK
}

func scanNoneHint(rtu bool) string {
	if rtu {
		return "check the A/B wiring and termination, the line settings (--baud auto --parity auto tries the common ones) and --units; or raise --timeout"
	}
	return "check --units (a gateway may number its units from 1 or from 0) or raise --timeout"
}

// scanOptions checks the flags and builds the addresses to try.
func scanOptions(rtu, tcp, baud, parity, units string, timeout time.Duration) (scanOpts, error) {
	var o scanOpts
	if (rtu == "") == (tcp == "") {
		return o, errors.New("give exactly one of --rtu PATH and --tcp HOST:PORT")
	}
	if timeout <= 0 {
		return o, fmt.Errorf("--timeout %s: expected a positive duration, e.g. 300ms", timeout)
	}
	o.timeout = timeout
	lo := 1
	if tcp != "" {
		lo = 0 // a TCP device may answer on unit 0 or 255
		addr, err := scanTCPAddress(tcp)
		if err != nil {
			return o, err
		}
		o.addrs = []string{addr}
	} else {
		bauds, err := scanBaudList(baud)
		if err != nil {
			return o, err
		}
		parities, err := scanParityList(parity)
		if err != nil {
			return o, err
		}
		for _, b := range bauds {
			for _, p := range parities {
				o.addrs = append(o.addrs, fmt.Sprintf("rtu://%s?baud=%d&parity=%s", rtu, b, p))
			}
		}
		if _, err := source.ParseSerialURL(o.addrs[0], source.SerialLine{}); err != nil {
			return o, err
		}
	}
	us, err := parseUnits(units, lo)
	if err != nil {
		return o, err
	}
	o.units = us
	return o, nil
}

// rangeLike matches what names several hosts: an IPv4 address with a
// range in its last part (10.0.0.1-20), or wildcards and lists.
var rangeLike = regexp.MustCompile(`^\d+\.\d+\.\d+\.\d+-\d+|[*,]|^\d+\.\d+\.\d+\.\d+\.\.`)

// scanTCPAddress checks that tcp names one host, and returns its
// tcp://host:port address (port default 502).
func scanTCPAddress(tcp string) (string, error) {
	hostport := strings.TrimPrefix(tcp, "tcp://")
	refuse := fmt.Errorf("--tcp %q: scan reads one host, never a network range "+
		"(sweeping a network disturbs other operators' devices and alarms the network team); give one host, e.g. --tcp 192.0.2.10:502", tcp)
	if strings.Contains(hostport, "/") || rangeLike.MatchString(hostport) {
		return "", refuse
	}
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		host, port = hostport, "502"
	}
	if strings.HasPrefix(host, "[") {
		host = strings.Trim(host, "[]")
	}
	if host == "" || strings.ContainsAny(host, " /*,") {
		return "", fmt.Errorf("--tcp %q: expected HOST or HOST:PORT", tcp)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", fmt.Errorf("--tcp %q: port %q (expected 1 to 65535)", tcp, port)
	}
	return "tcp://" + net.JoinHostPort(host, port), nil
}

func scanBaudList(s string) ([]int, error) {
	if s == "auto" {
		return scanBauds, nil
	}
	b, err := strconv.Atoi(s)
	if err != nil || b < 300 || b > 4000000 {
		return nil, fmt.Errorf("--baud %q: expected a rate such as 9600, or auto", s)
	}
	return []int{b}, nil
}

func scanParityList(s string) ([]string, error) {
	if s == "auto" {
		return scanParities, nil
	}
	p := strings.ToUpper(s)
	if p != "N" && p != "E" && p != "O" {
		return nil, fmt.Errorf("--parity %q: expected N, E, O or auto", s)
	}
	return []string{p}, nil
}

// parseUnits parses "1-247", "5" or "1-10,20" into sorted unique IDs from
// lo to 247 (RTU: 0 is broadcast and never answers; TCP also allows 0 and
// up to 255).
func parseUnits(s string, lo int) ([]uint8, error) {
	hi := 247
	if lo == 0 {
		hi = 255
	}
	seen := map[int]bool{}
	for _, part := range strings.Split(s, ",") {
		a, b, isRange := strings.Cut(strings.TrimSpace(part), "-")
		from, err1 := strconv.Atoi(a)
		to := from
		var err2 error
		if isRange {
			to, err2 = strconv.Atoi(b)
		}
		if err1 != nil || err2 != nil || from > to || from < lo || to > hi {
			return nil, fmt.Errorf("--units %q: expected unit IDs from %d to %d, e.g. 1-247 or 1-10,20", s, lo, hi)
		}
		for u := from; u <= to; u++ {
			seen[u] = true
		}
	}
	out := make([]uint8, 0, len(seen))
	for u := range seen {
		out = append(out, uint8(u))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// scanProfiles loads the profiles that declare identify registers: file
// alone when given, else every profile of dir (a missing dir is no
// profiles; a broken profile is an error).
func scanProfiles(dir, file string) (map[string]*profile.Profile, error) {
	all := map[string]*profile.Profile{}
	if file != "" {
		p, err := profile.Load(file)
		if err != nil {
			return nil, err
		}
		all[strings.TrimSuffix(file[strings.LastIndex(file, "/")+1:], ".yaml")] = p
	} else if _, err := os.Stat(dir); err == nil {
		ps, err := profile.LoadDir(dir)
		if err != nil {
			return nil, err
		}
		all = ps
	}
	out := map[string]*profile.Profile{}
	for name, p := range all {
		if p.Kind == profile.KindModbus && len(p.Modbus.Identify) > 0 {
			out[name] = p
		}
	}
	return out, nil
}

// runScan tries each address (line setting) in turn and returns the units
// that answered at the first setting where any did, with that setting.
func runScan(ctx context.Context, progress io.Writer, o scanOpts) ([]scanHit, string, error) {
	start := time.Now()
	tried, total := 0, len(o.units)*len(o.addrs)
	last := time.Time{}
	report := func(found int, final bool) {
		if now := time.Now(); final || now.Sub(last) >= time.Second {
			last = now
			fmt.Fprintf(progress, "scan: %d/%d units tried, %d found, %s elapsed\n", tried, total, found, time.Since(start).Round(100*time.Millisecond))
		}
	}
	for _, addr := range o.addrs {
		if len(o.addrs) > 1 {
			fmt.Fprintf(progress, "scan: trying %s\n", addr)
		}
		var hits []scanHit
		for _, u := range o.units {
			if ctx.Err() != nil {
				report(len(hits), true)
				return hits, addr, ctx.Err()
			}
			ok, err := scanUnit(ctx, addr, u, o.timeout)
			tried++
			if err != nil {
				return nil, addr, err
			}
			if ok {
				h := scanHit{Address: addr, Unit: u}
				h.Fits = identify(ctx, addr, u, o.timeout, o.profiles)
				hits = append(hits, h)
				fmt.Fprintf(progress, "scan: unit %d answers\n", u)
			}
			report(len(hits), false)
		}
		report(len(hits), true)
		if len(hits) > 0 {
			return hits, addr, nil
		}
	}
	return nil, "", nil
}

// scanUnit reports whether unit answers at addr. The error is for a
// problem with the address itself (a port that cannot be opened).
func scanUnit(ctx context.Context, addr string, unit uint8, timeout time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	p := &profile.Profile{Model: "scan", Kind: profile.KindModbus,
		Modbus: &profile.Modbus{Points: []profile.ModbusPoint{scanProbePoint}}}
	_, err := modbus.Probe(ctx, source.Device{Name: "scan", Profile: p, Address: addr, Unit: unit, Timeout: timeout}, nil)
	if err == nil {
		return true, nil
	}
	var ex *modbus.ExceptionError
	if errors.As(err, &ex) {
		// 0x0A and 0x0B: a gateway saying the unit behind it is absent.
		return ex.Code != 0x0A && ex.Code != 0x0B, nil
	}
	return false, nil
}

// identify returns the names of the profiles whose identify checks all
// hold for unit, sorted.
func identify(ctx context.Context, addr string, unit uint8, timeout time.Duration, profiles map[string]*profile.Profile) []string {
	var fits []string
	for name, p := range profiles {
		m := &profile.Modbus{Order: p.Modbus.Order, MaxRegisters: p.Modbus.MaxRegisters, OneRequestPerPoint: true,
			Pause: p.Modbus.Pause, HexAddresses: p.Modbus.HexAddresses}
		for i := range p.Modbus.Identify {
			m.Points = append(m.Points, p.Modbus.Identify[i].Point("id"+strconv.Itoa(i)))
		}
		ip := &profile.Profile{Model: p.Model, Kind: profile.KindModbus, Modbus: m}
		res, err := modbus.Probe(ctx, source.Device{Name: "identify", Profile: ip, Address: addr, Unit: unit, Timeout: timeout}, nil)
		if err != nil || len(res) != len(m.Points) {
			continue
		}
		ok := true
		for _, r := range res {
			i, _ := strconv.Atoi(strings.TrimPrefix(r.Reading.Point, "id"))
			if !r.Reading.Quality.Good() || !p.Modbus.Identify[i].Match(r.Reading.Value) {
				ok = false
				break
			}
		}
		if ok {
			fits = append(fits, name)
		}
	}
	sort.Strings(fits)
	return fits
}

func printHits(w io.Writer, hits []scanHit, profiles map[string]*profile.Profile) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UNIT\tADDRESS\tSUGGESTED PROFILE")
	for _, h := range hits {
		sugg := "-"
		if len(h.Fits) > 0 {
			parts := make([]string, len(h.Fits))
			for i, n := range h.Fits {
				p := profiles[n]
				parts[i] = fmt.Sprintf("%s (%s %s)", n, p.Manufacturer, p.Model)
			}
			sugg = strings.Join(parts, ", ")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", h.Unit, h.Address, sugg)
	}
	tw.Flush()
}
