package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strconv"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/edge/source/modbus"
	"github.com/ponte-city/ponte/edge/source/mqtt"
	"github.com/ponte-city/ponte/edge/source/rsmp"
	"github.com/ponte-city/ponte/edge/source/serial"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/wire"
)

// ErrNoFit is returned by Transport.CheckAddress for an address whose
// scheme is not one of the transport's; the caller names the device and
// shows Transport.Expect.
var ErrNoFit = errors.New("address scheme does not fit the profile kind")

// Transport is one profile kind's way to its devices. The entries are
// read-only; get one with For or All.
type Transport struct {
	// Kind is the profile kind whose devices this transport reads.
	Kind profile.Kind
	// Schemes are the address schemes the kind's devices take (lower
	// case, as net/url returns them).
	Schemes []string
	// Expect is the hint shown when an address does not fit.
	Expect string
	// BinaryRaw says that probe's raw data are bytes (printed in hex),
	// not text.
	BinaryRaw bool

	check    func(u *url.URL, raw string) (Port, error)
	validate func(devs []source.Device) error
	build    func(devs []source.Device, env Env) (source.Source, error)
	probe    func(ctx context.Context, dev source.Device, log *slog.Logger) ([]Result, error)
	points   func(p *profile.Profile) int
}

// Env is what a source is built with besides its devices.
type Env struct {
	// Logger receives the source's logs; nil discards.
	Logger *slog.Logger
	// Metrics are the per-device metrics every source shares; nil: none.
	Metrics *source.Metrics
	// MQTTMetrics are the mqtt source's broker metrics; nil: unregistered.
	MQTTMetrics *mqtt.Metrics
	// ClientID is the MQTT client ID the mqtt source connects to the
	// devices' brokers with (mqtt.Config.ClientID).
	ClientID string
}

// Result is one point read by Probe: its reading and its raw data
// (register bytes for Modbus, the frame for serial, the payload for MQTT).
type Result struct {
	Reading wire.Reading
	Raw     []byte
}

// Port is the serial port an address takes.
type Port struct {
	// Path is the port's device path; "" for a network address.
	Path string
	// Shared says that other devices of the same kind may use the port
	// too (Modbus RTU units on one bus); a serial line device has its
	// port to itself.
	Shared bool
}

// table holds one entry per profile kind, in the order the agent builds
// its sources.
var table = [...]Transport{
	{
		Kind:      profile.KindModbus,
		Schemes:   []string{"tcp", "rtu"},
		Expect:    "tcp://host:port or rtu:///dev/PATH?baud=9600&parity=E",
		BinaryRaw: true,
		check: func(u *url.URL, raw string) (Port, error) {
			if u.Scheme == "rtu" {
				return serialPort(raw, true)
			}
			host, port, err := net.SplitHostPort(u.Host)
			if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
				return Port{}, fmt.Errorf("%q: expected tcp://host:port with a port from 1 to 65535", raw)
			}
			return Port{}, nil
		},
		validate: func(devs []source.Device) error {
			c := modbus.Config{Devices: devs}
			return c.Validate()
		},
		build: func(devs []source.Device, env Env) (source.Source, error) {
			return modbus.New(modbus.Config{Devices: devs, Logger: env.Logger, Metrics: env.Metrics})
		},
		probe: func(ctx context.Context, dev source.Device, log *slog.Logger) ([]Result, error) {
			return results(modbus.Probe(ctx, dev, log))
		},
		points: func(p *profile.Profile) int { return len(p.Modbus.Points) },
	},
	{
		Kind:    profile.KindSerial,
		Schemes: []string{"serial"},
		Expect:  "serial:///dev/PATH?baud=9600",
		check: func(u *url.URL, raw string) (Port, error) {
			return serialPort(raw, false)
		},
		validate: func(devs []source.Device) error {
			return serial.Config{Devices: devs}.Validate()
		},
		build: func(devs []source.Device, env Env) (source.Source, error) {
			return serial.New(serial.Config{Devices: devs, Logger: env.Logger, Metrics: env.Metrics})
		},
		probe: func(ctx context.Context, dev source.Device, log *slog.Logger) ([]Result, error) {
			rs, err := serial.Probe(ctx, dev, log)
			out := make([]Result, 0, len(rs))
			for _, r := range rs {
				out = append(out, Result{Reading: r.Reading, Raw: r.Raw})
			}
			return out, err
		},
		points: func(p *profile.Profile) int {
			n := 0
			for _, r := range p.Serial.Records {
				n += len(r.Fields)
			}
			return n
		},
	},
	{
		Kind:    profile.KindMQTT,
		Schemes: []string{"tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss"},
		Expect:  "the broker URL, e.g. mqtt://127.0.0.1:1883 or mqtts://host:8883",
		check: func(u *url.URL, raw string) (Port, error) {
			// A plain tcp:// broker is left to the mqtt source's own
			// check (Validate), as the agent always did.
			if u.Scheme == "tcp" {
				return Port{}, nil
			}
			if msg := site.CheckBroker(raw); msg != "" {
				return Port{}, errors.New(msg)
			}
			return Port{}, nil
		},
		validate: func(devs []source.Device) error {
			c := mqtt.Config{Devices: devs}
			return c.Validate()
		},
		build: func(devs []source.Device, env Env) (source.Source, error) {
			return mqtt.New(mqtt.Config{Devices: devs, Logger: env.Logger, Metrics: env.Metrics,
				BrokerMetrics: env.MQTTMetrics, ClientID: env.ClientID})
		},
		probe: func(ctx context.Context, dev source.Device, log *slog.Logger) ([]Result, error) {
			return results(mqtt.Probe(ctx, dev, log))
		},
		points: func(p *profile.Profile) int { return len(p.MQTT.Fields) },
	},
	{
		Kind:    profile.KindRSMP,
		Schemes: []string{"rsmp"},
		Expect:  "rsmp://host:port?site=SITE_ID (the controller's RSMP socket server)",
		check: func(u *url.URL, raw string) (Port, error) {
			_, err := rsmp.ParseAddress(raw)
			return Port{}, err
		},
		validate: func(devs []source.Device) error {
			return rsmp.Config{Devices: devs}.Validate()
		},
		build: func(devs []source.Device, env Env) (source.Source, error) {
			return rsmp.New(rsmp.Config{Devices: devs, Logger: env.Logger, Metrics: env.Metrics})
		},
		probe: func(ctx context.Context, dev source.Device, log *slog.Logger) ([]Result, error) {
			return results(rsmp.Probe(ctx, dev, log))
		},
		points: func(p *profile.Profile) int { return len(p.RSMP.Statuses) + len(p.RSMP.Commands) },
	},
}

// For returns the transport of profile kind k, or an error naming a kind
// that has none.
func For(k profile.Kind) (*Transport, error) {
	for i := range table {
		if table[i].Kind == k {
			return &table[i], nil
		}
	}
	return nil, fmt.Errorf("profile kind %q has no source", k)
}

// All returns every transport, in the order the agent builds its sources.
func All() []*Transport {
	out := make([]*Transport, len(table))
	for i := range table {
		out[i] = &table[i]
	}
	return out
}

// CheckAddress checks a device address of this transport's kind and
// returns the serial port it takes (a zero Port for a network address).
// An address of another scheme is ErrNoFit; other errors are the
// address's problem, to be shown as they are.
func (t *Transport) CheckAddress(raw string) (Port, error) {
	u, err := url.Parse(raw)
	if err != nil || !slices.Contains(t.Schemes, u.Scheme) {
		return Port{}, ErrNoFit
	}
	return t.check(u, raw)
}

// Validate runs the source package's own checks on devs, devices of this
// kind; no devices is nothing to check.
func (t *Transport) Validate(devs []source.Device) error {
	if len(devs) == 0 {
		return nil
	}
	return t.validate(devs)
}

// New builds the source reading devs, devices of this kind, validating
// them first. Nothing is opened until the source runs.
func (t *Transport) New(devs []source.Device, env Env) (source.Source, error) {
	return t.build(devs, env)
}

// Probe reads dev once, as ponte-ctl probe does at the roadside, and
// returns a Result per point; the error says why the device could not be
// read (the results read before it, bad ones included, come with it).
func (t *Transport) Probe(ctx context.Context, dev source.Device, log *slog.Logger) ([]Result, error) {
	return t.probe(ctx, dev, log)
}

// Points is the number of points a profile of this kind defines.
func (t *Transport) Points(p *profile.Profile) int {
	return t.points(p)
}

// serialPort parses a serial address (rtu:// or serial://) for the port
// it takes.
func serialPort(raw string, shared bool) (Port, error) {
	line, err := source.ParseSerialURL(raw, source.SerialLine{})
	if err != nil {
		return Port{}, err
	}
	return Port{Path: line.Path, Shared: shared}, nil
}

// results converts a source package's probe results, which carry a
// reading and its raw data as Result does.
func results[R ~struct {
	Reading wire.Reading
	Raw     []byte
}](rs []R, err error) ([]Result, error) {
	out := make([]Result, 0, len(rs))
	for _, r := range rs {
		out = append(out, Result(r))
	}
	return out, err
}
