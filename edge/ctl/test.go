package ctl

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/ponte-city/ponte/edge/agent"
	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/site"
)

// deviceTest is one device's outcome in `ponte-ctl test`, and its --json
// line.
type deviceTest struct {
	Device  string      `json:"device"`
	Profile string      `json:"profile"`
	Address string      `json:"address"`
	OK      bool        `json:"ok"`
	Good    int         `json:"good"`
	Bad     int         `json:"bad"`
	Error   string      `json:"error,omitempty"`
	Next    string      `json:"next,omitempty"`
	Points  []probeLine `json:"points"`
}

// testSite is `ponte-ctl test SITE.yaml`: like Telegraf's --test, it reads
// every device of the site config once, one after the other (devices may
// share an RS-485 line), and prints per device the table probe prints,
// then a summary. The status is ExitFail if a device could not be read.
func testSite(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	profiles := fs.String("profiles", "", "firmware profile `DIR` (overrides the site config's profiles)")
	timeout := fs.Duration("timeout", 10*time.Second, "give up on a device after this long (MQTT devices: wait this long for a message)")
	asJSON := fs.Bool("json", false, "print one JSON object per device")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return ExitUsage
	}
	if len(files) != 1 {
		fmt.Fprintln(env.Stderr, "ponte-ctl test: expected one site config (ponte-ctl test /etc/ponte/site.yaml)")
		return ExitUsage
	}
	s, err := agent.Load(files[0], site.Options{ProfilesDir: *profiles, Offline: true})
	if err != nil {
		lines := problemLines(err)
		for _, l := range lines {
			fmt.Fprintln(env.Stderr, l)
		}
		fmt.Fprintf(env.Stderr, "%d %s in the site config: correct each at the line shown (ponte-ctl validate %s), then test again\n",
			len(lines), plural(len(lines), "error", "errors"), files[0])
		return ExitFail
	}
	var failed []string
	enc := json.NewEncoder(env.Stdout)
	for i := range s.Devices {
		if ctx.Err() != nil {
			break
		}
		d := &s.Devices[i]
		r := testDevice(ctx, env, d, *timeout)
		if !r.line.OK {
			failed = append(failed, d.Name)
		}
		if *asJSON {
			_ = enc.Encode(r.line)
			continue
		}
		if i > 0 {
			fmt.Fprintln(env.Stdout)
		}
		r.print(env.Stdout)
	}
	if *asJSON {
		return exitIf(len(failed) > 0)
	}
	fmt.Fprintln(env.Stdout)
	n := len(s.Devices)
	if len(failed) == 0 {
		fmt.Fprintf(env.Stdout, "%d of %d %s read\n", n, n, plural(n, "device", "devices"))
		return ExitOK
	}
	fmt.Fprintf(env.Stdout, "%d of %d %s read; not read: %s (what to check is under each table); run ponte-ctl test %s again after a fix\n",
		n-len(failed), n, plural(n, "device", "devices"), strings.Join(failed, ", "), files[0])
	return ExitFail
}

func exitIf(fail bool) int {
	if fail {
		return ExitFail
	}
	return ExitOK
}

// testResult is one device read by test.
type testResult struct {
	line    deviceTest
	results []probeResult
	err     error
}

// testDevice reads d once within timeout.
func testDevice(ctx context.Context, env Env, d *site.Device, timeout time.Duration) testResult {
	dev := agent.SourceDevice(d)
	if dev.Interval == 0 {
		dev.Interval = time.Second // not polled: probe reads once
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	results, err := probeRead(ctx, env, dev)
	results = latestPerPoint(results)
	r := testResult{results: results, err: err,
		line: deviceTest{Device: d.Name, Profile: d.Profile, Address: d.Address, Points: make([]probeLine, 0, len(results))}}
	for _, res := range results {
		if res.Reading.Quality.Good() {
			r.line.Good++
		} else {
			r.line.Bad++
		}
		r.line.Points = append(r.line.Points, res.line())
	}
	r.line.OK = err == nil && r.line.Good > 0
	if !r.line.OK {
		if err == nil {
			err = errors.New(firstReason(results))
		}
		r.line.Error = err.Error()
		r.line.Next = nextStep(dev, err)
	}
	return r
}

// print writes the device's heading, its table with each failure once
// under it, and what to do next when it could not be read.
func (r testResult) print(w io.Writer) {
	l := r.line
	fmt.Fprintf(w, "%s (%s at %s): %d good, %d bad\n", l.Device, l.Profile, l.Address, l.Good, l.Bad)
	notes := printTableOnce(w, r.results)
	if r.err != nil && !coveredBy(r.err, notes) {
		fmt.Fprintf(w, "error: %v\n", r.err)
	}
	if l.Next != "" {
		fmt.Fprintf(w, "next: %s\n", l.Next)
	}
}

// printTableOnce prints probe's table with each failure reason once: a
// row that failed shows its quality and a note number, and the notes
// follow the table ("[1] read input 0+18 unit 3 on ...: connection
// refused"), so a device that does not answer shows its error once, not
// on every point. It returns the reasons noted.
func printTableOnce(w io.Writer, results []probeResult) []string {
	if len(results) == 0 {
		return nil
	}
	var notes []string
	index := map[string]int{}
	rows := make([]probeResult, len(results))
	for i, r := range results {
		rows[i] = r
		if r.Reading.Quality.Good() || r.Reading.Reason == "" {
			continue
		}
		n, ok := index[r.Reading.Reason]
		if !ok {
			notes = append(notes, r.Reading.Reason)
			n = len(notes)
			index[r.Reading.Reason] = n
		}
		rows[i].Reading.Reason = fmt.Sprintf("[%d]", n)
	}
	printTable(w, rows)
	for i, n := range notes {
		prefix := fmt.Sprintf("[%d]", i+1)
		if len(notes) == 1 && len(results) > 1 && allBad(results) {
			prefix += " every point:"
		}
		fmt.Fprintf(w, "%s %s\n", prefix, n)
	}
	return notes
}

func allBad(results []probeResult) bool {
	for _, r := range results {
		if r.Reading.Quality.Good() {
			return false
		}
	}
	return true
}

// coveredBy reports whether err says no more than one of the notes
// printed already (the probe's error wraps the reason of its last read).
func coveredBy(err error, notes []string) bool {
	for _, n := range notes {
		if strings.HasSuffix(err.Error(), n) {
			return true
		}
	}
	return false
}

func firstReason(results []probeResult) string {
	for _, r := range results {
		if !r.Reading.Quality.Good() && r.Reading.Reason != "" {
			return r.Reading.Reason
		}
	}
	return "no point was read"
}

// line is r as probe's --json line.
func (r probeResult) line() probeLine {
	l := probeLine{Point: r.Reading.Point, Unit: r.Reading.Unit, Raw: r.rawText(), Quality: r.Reading.Quality.String(), Reason: r.Reading.Reason}
	if r.Reading.Quality.Good() {
		l.Value = r.Reading.Value.Any()
	}
	return l
}

// nextStep says what the technician checks when d could not be read
// because of err (for probe and test alike).
func nextStep(d source.Device, err error) string {
	msg := err.Error()
	switch {
	case errors.Is(err, os.ErrNotExist) || strings.Contains(msg, "no such file"):
		return "the serial port does not exist: check the cable is plugged in and the path in the address (ls /dev/ttyUSB* /dev/ttyS*)"
	case errors.Is(err, os.ErrPermission) || strings.Contains(msg, "permission denied"):
		return "no access to the serial port: run as the ponte user or add yours to the dialout group"
	case strings.Contains(msg, "connection refused"):
		return "nothing answers at " + d.Address + ": check the device's IP address and port, and that it is powered"
	case strings.Contains(msg, "no route") || strings.Contains(msg, "unreachable") || strings.Contains(msg, "no such host"):
		return "the network does not reach " + d.Address + ": check the cabinet LAN cable, the address and the gateway's IP settings"
	}
	switch d.Profile.Kind {
	case profile.KindMQTT:
		next := "no usable message from the device: trigger an uplink on it (LoRaWAN devices report every 10-15 minutes) or raise --timeout"
		if d.ID != "" {
			next += ", and check its id " + d.ID
		}
		return next
	case profile.KindSerial:
		return "no record from the device: check the wiring (TX/RX), the baud rate in the address, or raise --timeout"
	case profile.KindRSMP:
		if strings.Contains(msg, "refused") {
			return "the controller and the site config disagree (site ID, SXL or RSMP version, as said above): correct the address's site= or the controller's RSMP settings"
		}
		return "the controller does not answer as an RSMP site at " + d.Address + ": check that its RSMP socket server is enabled on that port"
	}
	if strings.HasPrefix(d.Address, "rtu:") {
		return fmt.Sprintf("unit %d does not answer: check the RS-485 wiring (A/B), termination, baud rate and parity in the address, and the unit ID", d.Unit)
	}
	return fmt.Sprintf("unit %d does not answer: check the unit ID and that the device serves Modbus TCP at %s", d.Unit, d.Address)
}
