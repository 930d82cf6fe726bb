package sim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/tarm/serial"
	"golang.org/x/sync/errgroup"
)

// DefaultZone is where Ponte's devices stand: their values follow the
// hour of the day in Italy, whatever the machine's zone.
const DefaultZone = "Europe/Rome"

// zone loads an IANA time zone; "" is DefaultZone, "Local" the machine's.
func zone(name string) (*time.Location, error) {
	if name == "" {
		name = DefaultZone
	}
	return time.LoadLocation(name)
}

// Clock is the simulated clock: it starts at the real time and runs Scale
// times faster, in the time zone whose hour of the day shapes the values.
type Clock struct {
	start time.Time
	scale float64
	loc   *time.Location
}

// NewClock starts a clock now in loc (nil: the machine's zone); a scale of
// 0 or 1 is real time.
func NewClock(scale float64, loc *time.Location) *Clock {
	if scale <= 0 {
		scale = 1
	}
	if loc == nil {
		loc = time.Local
	}
	return &Clock{start: time.Now(), scale: scale, loc: loc}
}

// Now returns the simulated time, in the clock's zone.
func (c *Clock) Now() time.Time {
	if c.scale == 1 {
		return time.Now().In(c.loc)
	}
	return c.start.Add(time.Duration(float64(time.Since(c.start)) * c.scale)).In(c.loc)
}

// Accelerated reports whether the clock runs faster than the real one.
func (c *Clock) Accelerated() bool { return c.scale != 1 }

// Run serves the options' profile until ctx is done, then stops every
// transport and returns nil; it returns an error when something cannot be
// set up (profile, listener, serial port, broker) or a transport fails.
func Run(ctx context.Context, log *slog.Logger, o Options) error {
	if err := o.Validate(); err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if o.Burn > 0 {
		log.Info("burning CPU", "threads", o.Burn)
		Burn(ctx, o.Burn)
		return nil
	}
	p, err := profile.Load(o.Profile)
	if err != nil {
		return err
	}
	loc, err := zone(o.Zone)
	if err != nil {
		return fmt.Errorf("--zone %q: %w", o.Zone, err)
	}
	clock := NewClock(o.TimeScale, loc)
	ctrl, err := buildDevices(p, o, clock)
	if err != nil {
		return err
	}
	g, ctx := errgroup.WithContext(ctx)
	var setup []error

	if len(ctrl.Units) > 0 {
		srv := NewModbusServer(log, ctrl.Units...)
		g.Go(func() error { updateLoop(ctx, ctrl.Units, clock, o.Update); return nil })
		for _, addr := range o.tcpAddrs() {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				setup = append(setup, fmt.Errorf("listen modbus tcp %s: %w", addr, err))
			} else {
				log.Info("serving modbus tcp", "addr", ln.Addr().String(), "units", len(o.Units), "profile", p.Model)
				g.Go(func() error { return srv.ServeTCP(ctx, ln) })
			}
		}
		if o.ModbusRTU != "" {
			if o.PaceLine {
				baud, parity, data, stop := lineSettings(o, p)
				srv.PaceLine(NewLineTiming(baud, data, parity, stop))
			}
			port, err := openSerial(o, p, o.ModbusRTU)
			if err != nil {
				setup = append(setup, err)
			} else {
				log.Info("serving modbus rtu", "device", o.ModbusRTU, "units", len(o.Units), "profile", p.Model)
				g.Go(func() error { defer port.Close(); return srv.ServeRTU(ctx, port) })
			}
		}
	}
	if d := ctrl.Line; d != nil {
		port, err := openSerial(o, p, o.Serial)
		if err != nil {
			setup = append(setup, err)
		} else {
			log.Info("serving serial line device", "device", o.Serial, "mode", p.Serial.Mode, "profile", p.Model)
			g.Go(func() error { defer port.Close(); return d.Serve(ctx, port, o.Interval) })
		}
	}
	if len(ctrl.MQTT) > 0 {
		c, err := connectMQTT(ctx, o.MQTT, DownlinkHandler(log, ctrl.MQTT))
		if err != nil {
			setup = append(setup, err)
		} else {
			log.Info("publishing to mqtt", "broker", o.MQTT, "devices", len(ctrl.MQTT), "topic", ctrl.MQTT[0].Topic())
			g.Go(func() error {
				defer c.Disconnect(250)
				return PublishLoop(ctx, log, c, ctrl.MQTT, o.Interval)
			})
		}
	}
	if o.RSMP != "" {
		if err := serveRSMP(ctx, g, log, o); err != nil {
			setup = append(setup, err)
		}
	}
	if o.Control != "" {
		ln, err := net.Listen("tcp", o.Control)
		if err != nil {
			setup = append(setup, fmt.Errorf("listen control api: %w", err))
		} else {
			log.Info("serving control api", "addr", ln.Addr().String())
			hs := &http.Server{Handler: ctrl.Handler(), ReadHeaderTimeout: 5 * time.Second}
			g.Go(func() error {
				<-ctx.Done()
				sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				return hs.Shutdown(sctx)
			})
			g.Go(func() error {
				if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
					return fmt.Errorf("control api: %w", err)
				}
				return nil
			})
		}
	}
	if len(setup) > 0 {
		g.Go(func() error { return errors.Join(setup...) })
	}
	return g.Wait()
}

// buildDevices makes the simulated devices the options ask for, checking
// that each transport fits the profile's kind.
func buildDevices(p *profile.Profile, o Options, clock *Clock) (*Controller, error) {
	for _, t := range transports(o) {
		if t.given && p.Kind != t.kind {
			return nil, fmt.Errorf("%s needs a %s profile, but %s is kind %s", t.flags, t.kind, o.Profile, p.Kind)
		}
	}
	ctrl := &Controller{}
	if o.ModbusTCP != "" || o.ModbusRTU != "" {
		for _, id := range o.Units {
			u, err := NewModbusUnit(p, id, o.Seed+int64(id))
			if err != nil {
				return nil, err
			}
			u.SetFault(o.Faults[strconv.Itoa(int(id))])
			ctrl.Units = append(ctrl.Units, u)
		}
	}
	if o.Serial != "" {
		d, err := NewLineDevice(p, o.Seed)
		if err != nil {
			return nil, err
		}
		d.SetClock(clock.Now)
		d.SetFault(o.Faults["serial"])
		ctrl.Line = d
	}
	if o.MQTT != "" {
		ids := o.MQTTIDs
		if len(ids) == 0 {
			ids = []string{"0000000000000001"}
		}
		for i, id := range ids {
			d, err := NewMQTTDevice(p, id, o.Seed+int64(i))
			if err != nil {
				return nil, err
			}
			d.SetClock(clock.Now)
			if clock.Accelerated() {
				// The values run fast; the messages' times stay real, or
				// ingest would refuse them as from the future.
				d.SetStamp(time.Now)
			}
			d.SetFault(o.Faults[id])
			ctrl.MQTT = append(ctrl.MQTT, d)
		}
	}
	for key := range o.Faults {
		_, unitErr := strconv.Atoi(key)
		known := (unitErr == nil && ctrl.unitByKey(key) != nil) ||
			(key == "serial" && ctrl.Line != nil) || ctrl.mqttDevice(key) != nil
		if !known {
			return nil, fmt.Errorf("--fault %s: no such unit or device is simulated", key)
		}
	}
	return ctrl, nil
}

func updateLoop(ctx context.Context, units []*ModbusUnit, clock *Clock, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		now := clock.Now()
		for _, u := range units {
			u.Update(now)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// openSerial opens a serial device with the options' line settings,
// falling back to the profile's, then 9600 8N1. A read timeout keeps
// reads from blocking shutdown.
func openSerial(o Options, p *profile.Profile, dev string) (*serial.Port, error) {
	baud, parity, data, stop := lineSettings(o, p)
	if _, err := os.Stat(dev); err != nil {
		return nil, fmt.Errorf("open serial %s: %w", dev, err)
	}
	port, err := serial.OpenPort(&serial.Config{Name: dev, Baud: baud, Size: byte(data),
		Parity: serial.Parity(parity[0]), StopBits: serial.StopBits(stop), ReadTimeout: 100 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("open serial %s %d %d%s%d: %w", dev, baud, data, parity, stop, err)
	}
	return port, nil
}

// lineSettings are the serial settings of the options, falling back to
// the profile's, then 9600 8N1.
func lineSettings(o Options, p *profile.Profile) (baud int, parity string, data, stop int) {
	baud, parity, data, stop = o.Baud, o.Parity, o.DataBits, o.StopBits
	if s := p.Serial; s != nil {
		baud, parity, data, stop = orInt(baud, s.Baud), orStr(parity, s.Parity), orInt(data, s.DataBits), orInt(stop, s.StopBits)
	}
	return orInt(baud, 9600), orStr(parity, "N"), orInt(data, 8), orInt(stop, 1)
}

func orInt(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

func orStr(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func connectMQTT(ctx context.Context, url string, onConnect paho.OnConnectHandler) (paho.Client, error) {
	opts := paho.NewClientOptions().AddBroker(url).
		SetClientID("ponte-sim-" + strconv.Itoa(os.Getpid())).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(time.Second).
		SetOnConnectHandler(onConnect)
	c := paho.NewClient(opts)
	tok := c.Connect()
	select {
	case <-tok.Done():
		if err := tok.Error(); err != nil {
			return nil, fmt.Errorf("connect mqtt %s: %w", url, err)
		}
	case <-time.After(10 * time.Second):
		// ConnectRetry keeps trying in the background; publishing waits.
	case <-ctx.Done():
	}
	return c, nil
}
