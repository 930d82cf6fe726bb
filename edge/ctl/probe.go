package ctl

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/edge/source/modbus"
	"github.com/ponte-city/ponte/edge/source/mqtt"
	"github.com/ponte-city/ponte/edge/transport"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// probeResult is one point as probe prints it.
type probeResult struct {
	Reading wire.Reading
	// Raw is the point's raw data: register bytes for Modbus, the frame
	// for serial, the payload for MQTT.
	Raw    []byte
	binary bool
}

// probeLine is one point in --json output.
type probeLine struct {
	Point   string `json:"point"`
	Value   any    `json:"value"`
	Unit    string `json:"unit"`
	Raw     string `json:"raw"`
	Quality string `json:"quality"`
	Reason  string `json:"reason,omitempty"`
}

func probe(ctx context.Context, env Env, args []string) int {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	var (
		profPath = fs.String("profile", "", "device profile `FILE`")
		mb       = fs.String("modbus", "", "Modbus address: tcp://HOST:PORT or rtu:///dev/ttyX?baud=9600&parity=E")
		unit     = fs.Uint("unit", 1, "Modbus unit ID (1-247)")
		ser      = fs.String("serial", "", "serial device `PATH` of a line device")
		baud     = fs.Int("baud", 0, "baud rate of --serial (default: the profile's)")
		mq       = fs.String("mqtt", "", "MQTT broker `URL` the device publishes to")
		id       = fs.String("id", "", "device identity in MQTT payloads (e.g. DevEUI)")
		timeout  = fs.Duration("timeout", 5*time.Second, "Modbus: wait this long for each reply; serial, MQTT: for the device's data")
		asJSON   = fs.Bool("json", false, "print one JSON object per point")
	)
	if err := fs.Parse(args); err != nil {
		return ExitUsage
	}
	dev, err := probeDevice(*profPath, *mb, uint8(*unit), *unit, *ser, *baud, *mq, *id, *timeout)
	if err != nil {
		fmt.Fprintf(env.Stderr, "ponte-ctl probe: %v\n", err)
		return ExitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, probeDeadline(dev, *timeout))
	defer cancel()
	results, perr := probeRead(ctx, env, dev)
	results = latestPerPoint(results)
	var notes []string
	if len(results) > 0 {
		if *asJSON {
			printJSON(env.Stdout, results)
		} else {
			notes = printTableOnce(env.Stdout, results)
		}
	}
	if perr != nil {
		if !coveredBy(perr, notes) {
			fmt.Fprintf(env.Stderr, "ponte-ctl probe: %s: %v\n", dev.Address, perr)
		}
		hints := probeHints(perr) // what the MQTT probe saw and skipped
		if len(hints) == 0 {
			hints = []string{nextStep(dev, perr)}
		}
		for _, h := range hints {
			fmt.Fprintf(env.Stderr, "next: %s\n", h)
		}
		return ExitFail
	}
	for _, r := range results {
		if !r.Reading.Quality.Good() {
			return ExitFail
		}
	}
	return ExitOK
}

func probeDevice(profPath, mb string, unit8 uint8, unit uint, ser string, baud int, mq, id string, timeout time.Duration) (source.Device, error) {
	if profPath == "" {
		return source.Device{}, errors.New("--profile is required")
	}
	set := 0
	for _, s := range []string{mb, ser, mq} {
		if s != "" {
			set++
		}
	}
	if set != 1 {
		return source.Device{}, errors.New("give exactly one of --modbus, --serial and --mqtt")
	}
	p, err := profile.Load(profPath)
	if err != nil {
		return source.Device{}, err
	}
	dev := source.Device{Name: "probe", Profile: p, Interval: time.Second, Timeout: timeout}
	want := profile.KindModbus
	switch {
	case mb != "":
		if unit > 247 {
			return source.Device{}, fmt.Errorf("--unit %d: expected 0 to 247", unit)
		}
		if !strings.HasPrefix(mb, "tcp://") && !strings.HasPrefix(mb, "rtu://") {
			return source.Device{}, fmt.Errorf("--modbus %q: expected tcp://HOST:PORT or rtu:///dev/ttyX", mb)
		}
		// --timeout bounds each request, as the agent's device timeout
		// does: a controller the agent reads fine must probe fine too.
		dev.Address, dev.Unit = mb, unit8
	case ser != "":
		want = profile.KindSerial
		dev.Address = "serial://" + ser
		if baud > 0 {
			dev.Address += fmt.Sprintf("?baud=%d", baud)
		}
	case mq != "":
		want = profile.KindMQTT
		dev.Address, dev.ID = mq, id
	}
	if p.Kind != want {
		return source.Device{}, fmt.Errorf("%s is a %s profile; this address needs a %s profile", profPath, p.Kind, want)
	}
	return dev, nil
}

// probeDeadline is how long the whole probe may take. For Modbus,
// timeout bounds each request (the device's Timeout), so the probe gets
// one timeout per request the profile's points need, pauses included; for
// serial and MQTT it is the wait for the device's data.
func probeDeadline(dev source.Device, timeout time.Duration) time.Duration {
	if dev.Profile.Kind != profile.KindModbus {
		return timeout
	}
	n := time.Duration(len(modbus.Plan(dev.Profile.Modbus, "")))
	return n*(timeout+dev.Profile.Modbus.Pause.D()) + timeout
}

// probeHints says what to do next after a failed probe, where the error
// tells: an MQTT device that sent nothing usable in time.
func probeHints(err error) []string {
	var nm *mqtt.NoMessageError
	if !errors.As(err, &nm) {
		return nil
	}
	hints := []string{"trigger an uplink on the device (most LoRaWAN sensors send one on a button or magnet; " +
		"on their own they report every 10-15 minutes) or raise --timeout, e.g. --timeout 15m"}
	if nm.Skipped[mqtt.SkipOtherDevice] > 0 {
		hints = append(hints, "check --id: the uplinks that came were other devices' ("+strings.Join(nm.OtherIDs, ", ")+")")
	}
	if nm.Skipped[mqtt.SkipEmpty] > 0 {
		hints = append(hints, "the device's uplinks carried no application payload (MAC-only): trigger a data uplink")
	}
	if nm.Skipped[mqtt.SkipMalformed] > 0 {
		hints = append(hints, "some messages on the topic are not JSON objects: check the profile's topic and format")
	}
	return hints
}

// probeRead reads dev once through its profile kind's transport.
func probeRead(ctx context.Context, env Env, dev source.Device) ([]probeResult, error) {
	t, err := transport.For(dev.Profile.Kind)
	if err != nil {
		return nil, err
	}
	rs, err := t.Probe(ctx, dev, env.Log)
	out := make([]probeResult, 0, len(rs))
	for _, r := range rs {
		out = append(out, probeResult{Reading: r.Reading, Raw: r.Raw, binary: t.BinaryRaw})
	}
	return out, err
}

func (r probeResult) rawText() string {
	if r.binary {
		return strings.ToUpper(hex.EncodeToString(r.Raw))
	}
	return strings.TrimRight(string(r.Raw), "\r\n")
}

func printTable(w io.Writer, results []probeResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POINT\tVALUE\tUNIT\tQUALITY\tRAW")
	for _, r := range results {
		val := r.Reading.Value.String()
		q := r.Reading.Quality.String()
		if !r.Reading.Quality.Good() {
			val = "-"
			q += ": " + r.Reading.Reason
		}
		raw := r.rawText()
		if len(raw) > 60 {
			raw = raw[:57] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Reading.Point, val, r.Reading.Unit, q, raw)
	}
	tw.Flush()
}

func printJSON(w io.Writer, results []probeResult) {
	enc := json.NewEncoder(w)
	for _, r := range results {
		l := probeLine{Point: r.Reading.Point, Unit: r.Reading.Unit, Raw: r.rawText(), Quality: r.Reading.Quality.String(), Reason: r.Reading.Reason}
		if r.Reading.Quality.Good() {
			l.Value = r.Reading.Value.Any()
		}
		_ = enc.Encode(l)
	}
}

// latestPerPoint keeps each point's last reading, in the order points were
// first seen: a free-running device may send a record twice before every
// record has been seen once, and a technician wants one line per point.
func latestPerPoint(results []probeResult) []probeResult {
	idx := make(map[string]int, len(results))
	out := results[:0:0]
	for _, r := range results {
		if i, ok := idx[r.Reading.Point]; ok {
			out[i] = r
			continue
		}
		idx[r.Reading.Point] = len(out)
		out = append(out, r)
	}
	return out
}
