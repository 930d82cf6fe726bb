package serial

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

func TestConfigValidate(t *testing.T) {
	good := func() source.Device {
		return source.Device{Name: "wx1", Profile: weatherProfile(), Address: "serial:///dev/ttyUSB0?baud=4800"}
	}
	with := func(mod func(*source.Device)) []source.Device {
		d := good()
		mod(&d)
		return []source.Device{d}
	}
	serialWith := func(mod func(*profile.Serial)) []source.Device {
		return with(func(d *source.Device) { mod(d.Profile.Serial) })
	}
	cases := []struct {
		name string
		cfg  Config
		want string // "" = valid
	}{
		{name: "valid", cfg: Config{Devices: []source.Device{good()}}},
		{name: "no devices is valid", cfg: Config{}},
		{name: "no name", cfg: Config{Devices: with(func(d *source.Device) { d.Name = "" })}, want: "(unnamed): no name"},
		{name: "duplicate name", cfg: Config{Devices: []source.Device{good(), good()}}, want: `name "wx1" used twice`},
		{name: "modbus profile", cfg: Config{Devices: with(func(d *source.Device) { d.Profile = &profile.Profile{Kind: profile.KindModbus} })}, want: "wx1: profile is not a serial profile"},
		{name: "rtu address", cfg: Config{Devices: with(func(d *source.Device) { d.Address = "rtu:///dev/ttyUSB0" })}, want: "wx1: address"},
		{name: "bad address parameter", cfg: Config{Devices: with(func(d *source.Device) { d.Address = "serial:///dev/ttyUSB0?baud=fast" })}, want: `baud="fast"`},
		{name: "bad mode", cfg: Config{Devices: serialWith(func(s *profile.Serial) { s.Mode = "push" })}, want: `mode "push"`},
		{name: "request without command", cfg: Config{Devices: serialWith(func(s *profile.Serial) { s.Mode = profile.ModeRequestResponse })}, want: "needs a request command"},
		{name: "no framing", cfg: Config{Devices: serialWith(func(s *profile.Serial) { s.Framing = profile.Framing{} })}, want: "no terminator"},
		{name: "bad checksum kind", cfg: Config{Devices: serialWith(func(s *profile.Serial) { s.Checksum.Kind = "crc16" })}, want: `checksum kind "crc16"`},
		{name: "bad record", cfg: Config{Devices: serialWith(func(s *profile.Serial) { s.Records[0].Fields[0].Group = "nope" })}, want: `group "nope"`},
		{name: "negative backoff", cfg: Config{BackoffBase: -time.Second}, want: "negative"},
		{name: "backoff max below base", cfg: Config{BackoffBase: time.Minute, BackoffMax: time.Second}, want: "below backoff base"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := New(c.cfg); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
			if _, err := New(c.cfg); err == nil {
				t.Fatal("New accepted a config Validate rejects")
			}
		})
	}
}

func TestDeviceDefaults(t *testing.T) {
	cases := []struct {
		name                       string
		dev                        source.Device
		interval, timeout, silence time.Duration
		points                     int
	}{
		{name: "free running, no interval", dev: source.Device{Name: "a", Profile: weatherProfile(), Address: "serial:///dev/x"},
			silence: DefaultSilence, points: 9},
		{name: "free running", dev: source.Device{Name: "a", Profile: vehicleProfile(), Address: "serial:///dev/x", Interval: 2 * time.Second},
			silence: 6 * time.Second, points: 4},
		{name: "request/response, profile timeout", dev: source.Device{Name: "a", Profile: intervalProfile(), Address: "serial:///dev/x"},
			interval: DefaultPollInterval, timeout: 400 * time.Millisecond, points: 3},
		{name: "request/response, device timeout wins", dev: source.Device{Name: "a", Profile: intervalProfile(), Address: "serial:///dev/x", Interval: time.Second, Timeout: 2 * time.Second},
			interval: time.Second, timeout: 2 * time.Second, points: 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := newDevice(c.dev, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			if d.interval != c.interval || d.timeout != c.timeout || d.silence != c.silence {
				t.Errorf("interval %s timeout %s silence %s, want %s %s %s", d.interval, d.timeout, d.silence, c.interval, c.timeout, c.silence)
			}
			if len(d.points) != c.points {
				t.Errorf("known points %v, want %d (from the examples)", d.points, c.points)
			}
		})
	}
}

func TestProbeRequestResponse(t *testing.T) {
	a, b := testenv.PtyPair(t)
	peer := openPeer(t, a)
	var answer atomic.Bool
	var polls atomic.Int64
	answer.Store(true)
	go responder(peer, &answer, &polls)

	dev := source.Device{Name: "loop7", Profile: intervalProfile(), Address: "serial://" + b}
	res, err := Probe(context.Background(), dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Split(strings.TrimSpace(string(intervalReply(1))), "\r\n")
	if len(res) != 9 {
		t.Fatalf("got %d results, want 9 (3 lanes x 3 points)", len(res))
	}
	for i, r := range res {
		if string(r.Raw) != want[i/3] || r.Record != "interval" || r.Reading.Quality != wire.QualityGood || r.Reading.Device != "loop7" {
			t.Errorf("result %d: %s %s from %q (%s), want good from %q", i, r.Reading.Point, r.Reading.Quality, r.Raw, r.Record, want[i/3])
		}
	}
}

func TestProbeIncomplete(t *testing.T) {
	a, b := testenv.PtyPair(t)
	peer := openPeer(t, a)
	dev := source.Device{Name: "wx1", Profile: weatherProfile(), Address: "serial://" + b, Timeout: 100 * time.Millisecond}
	mda := "$WIMDA,29.9139,I,1.0130,B,14.6,C,,,71.3,,9.4,C,284.0,T,,M,6.6,N,3.4,M*7F\r\n"
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// The station sends only its MDA sentence, and a corrupted one.
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
				peer.Write([]byte(mda + "$WIMWV,284,R,3.4,M,A*38\r\n"))
			}
		}
	}()
	res, err := Probe(context.Background(), dev, nil)
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), ": mwv (") || !strings.Contains(err.Error(), "checksum") {
		t.Fatalf("error %v, want ErrIncomplete naming record mwv and the checksum failures", err)
	}
	if len(res) == 0 || res[0].Record != "mda" || string(res[0].Raw) != strings.TrimSpace(mda) {
		t.Fatalf("results %v, want the MDA readings read meanwhile", res)
	}
}
