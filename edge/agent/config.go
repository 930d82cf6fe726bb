package agent

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/edge/source/modbus"
	"github.com/ponte-city/ponte/edge/source/mqtt"
	"github.com/ponte-city/ponte/edge/source/serial"
	"github.com/ponte-city/ponte/edge/uplink"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/site"
)

// Site is a gateway's site config (internal/site, the data every part of
// Ponte reads) with what the agent derives from it: its devices as the
// sources take them.
type Site struct {
	site.Site
	// sources are the devices ready for the sources, in Devices order.
	sources []source.Device
}

// Load reads the site config at path and checks it as the agent runs it:
// site.Load's checks and the agent's own (the buffer's limits, TLS against
// the broker's scheme, each device's address and its source's checks),
// every problem at its line.
func Load(path string, opt site.Options) (*Site, error) {
	return check(opt, func(opt site.Options) (*site.Site, error) { return site.Load(path, opt) })
}

// Parse is Load of data read from the file called name.
func Parse(name string, data []byte, opt site.Options) (*Site, error) {
	return check(opt, func(opt site.Options) (*site.Site, error) { return site.Parse(name, data, opt) })
}

// check runs read with the agent's checks added to opt's.
func check(opt site.Options, read func(site.Options) (*site.Site, error)) (*Site, error) {
	out := &Site{}
	more := opt.Check
	opt.Check = func(s *site.Site, c *site.Checker) {
		checkBuffer(&s.Buffer, c)
		checkUplinkTLS(&s.Uplink, c)
		out.sources = checkDevices(s, c)
		if more != nil {
			more(s, c)
		}
	}
	s, err := read(opt)
	if err != nil {
		return nil, err
	}
	out.Site = *s
	return out, nil
}

// checkBuffer reports the buffer's own limits (buffer.Config.Validate) at
// their fields.
func checkBuffer(b *site.Buffer, c *site.Checker) {
	cfg := buffer.Config{Dir: b.Dir, MaxBytes: int64(b.MaxBytes), MaxAge: b.MaxAge.D(),
		SegmentBytes: int64(b.SegmentBytes), SyncInterval: b.SyncInterval.D()}
	err := cfg.Validate()
	if err == nil {
		return
	}
	errs := []error{err}
	if list, ok := err.(interface{ Unwrap() []error }); ok {
		errs = list.Unwrap()
	}
	for _, e := range errs {
		// "invalid buffer config: max_bytes: ..." -> field and message.
		msg := strings.TrimPrefix(e.Error(), buffer.ErrConfig.Error()+": ")
		field, rest, ok := strings.Cut(msg, ": ")
		if !ok {
			c.Errorf("buffer", "%s", msg)
			continue
		}
		c.Errorf("buffer."+field, "%s", rest)
	}
}

// checkUplinkTLS: a tls section with a plain broker scheme. Start-up
// refuses it (uplink.Config.Validate); say it here first.
func checkUplinkTLS(u *site.Uplink, c *site.Checker) {
	if u.TLS == nil {
		return
	}
	if pu, err := url.Parse(u.Broker); err == nil {
		if secure, known := uplink.Scheme(pu.Scheme); known && !secure {
			c.Errorf("uplink.tls", "set, but broker %q is plain %s:// (expected ssl://, mqtts:// or wss://, or no tls section)", u.Broker, pu.Scheme)
		}
	}
}

// schemesFor lists the address schemes that fit each profile kind.
var schemesFor = map[profile.Kind]struct {
	ok     map[string]bool
	expect string
}{
	profile.KindModbus: {map[string]bool{"tcp": true, "rtu": true}, "tcp://host:port or rtu:///dev/PATH?baud=9600&parity=E"},
	profile.KindSerial: {map[string]bool{"serial": true}, "serial:///dev/PATH?baud=9600"},
	profile.KindMQTT:   {map[string]bool{"tcp": true, "mqtt": true, "ssl": true, "tls": true, "mqtts": true, "ws": true, "wss": true}, "the broker URL, e.g. mqtt://127.0.0.1:1883 or mqtts://host:8883"},
}

// checkDevices checks each device that passed site's checks against its
// source, then the conflicts between devices that are each fine (two RTU
// devices on one port with different line settings, a unit ID used twice
// on a bus), and returns the devices as the sources take them.
func checkDevices(s *site.Site, c *site.Checker) []source.Device {
	ports := map[string]string{} // serial device path -> "device %q"
	var bus []source.Device      // every device whose own checks passed
	kinds := map[profile.Kind][]source.Device{}
	for i := range s.Devices {
		d := &s.Devices[i]
		if d.LoadedProfile() == nil || d.Address == "" {
			continue // reported by site
		}
		p := fmt.Sprintf("devices[%d]", i)
		before := c.Count()
		checkAddress(c, p, d, ports)
		if c.Count() > before || !c.DeviceOK(i) {
			continue
		}
		prof := d.LoadedProfile()
		sd := source.Device{Name: d.Name, Profile: prof, Address: d.Address, Unit: uint8(d.Unit), ID: d.ID,
			Interval: d.PollInterval(), SlowInterval: d.SlowInterval.D(), Timeout: d.Timeout.D()}
		if err := validateSources(prof.Kind, []source.Device{sd}); err != nil {
			sourceErrors(s, c, err)
			continue
		}
		bus = append(bus, sd)
		kinds[prof.Kind] = append(kinds[prof.Kind], sd)
	}
	if c.Count() > 0 {
		return nil
	}
	for _, k := range []profile.Kind{profile.KindModbus, profile.KindSerial, profile.KindMQTT} {
		if err := validateSources(k, kinds[k]); err != nil {
			sourceErrors(s, c, err)
		}
	}
	return bus
}

// sourceErrors reports the errors of a source package's validation, each
// at the line of the device it names (the packages prefix their messages
// with `device "NAME": `, `mqtt device "NAME": ` or `serial device NAME: `).
func sourceErrors(s *site.Site, c *site.Checker, err error) {
	errs := []error{err}
	if list, ok := err.(interface{ Unwrap() []error }); ok {
		errs = list.Unwrap()
	}
next:
	for _, e := range errs {
		msg := e.Error()
		for i, d := range s.Devices {
			for _, prefix := range []string{"device " + strconv.Quote(d.Name) + ": ", "mqtt device " + strconv.Quote(d.Name) + ": ", "serial device " + d.Name + ": "} {
				if rest, ok := strings.CutPrefix(msg, prefix); ok {
					c.Errorf(fmt.Sprintf("devices[%d]", i), "%s", rest)
					continue next
				}
			}
		}
		c.Errorf("devices", "%s", msg)
	}
}

// validateSources runs the source package's own checks on devices of kind.
func validateSources(kind profile.Kind, devs []source.Device) error {
	if len(devs) == 0 {
		return nil
	}
	switch kind {
	case profile.KindModbus:
		c := modbus.Config{Devices: devs}
		return c.Validate()
	case profile.KindSerial:
		return serial.Config{Devices: devs}.Validate()
	case profile.KindMQTT:
		c := mqtt.Config{Devices: devs}
		return c.Validate()
	}
	return fmt.Errorf("profile kind %q has no source", kind)
}

// checkAddress checks that the device's address fits its profile's kind,
// and that no serial port is claimed by two transports.
func checkAddress(c *site.Checker, p string, d *site.Device, ports map[string]string) {
	kind := d.Kind()
	fit := schemesFor[kind]
	u, err := url.Parse(d.Address)
	if err != nil || !fit.ok[strings.ToLower(u.Scheme)] {
		c.Errorf(p+".address", "%q does not fit profile %s of kind %s (expected %s)", d.Address, d.Profile, kind, fit.expect)
		return
	}
	switch u.Scheme {
	case "rtu", "serial":
		line, err := source.ParseSerialURL(d.Address, source.SerialLine{})
		if err != nil {
			c.Errorf(p+".address", "%v", err)
			return
		}
		key := u.Scheme + ":" + line.Path
		owner := fmt.Sprintf("device %q", d.Name)
		for k, other := range ports {
			if strings.HasSuffix(k, ":"+line.Path) && (k != key || u.Scheme == "serial") {
				c.Errorf(p+".address", "port %s is already used by %s (a serial port carries one serial device, or any number of Modbus RTU units)", line.Path, other)
				return
			}
		}
		if _, ok := ports[key]; !ok {
			ports[key] = owner
		}
	case "tcp":
		if kind != profile.KindModbus {
			break
		}
		host, port, err := net.SplitHostPort(u.Host)
		if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
			c.Errorf(p+".address", "%q: expected tcp://host:port with a port from 1 to 65535", d.Address)
		}
	default:
		if msg := site.CheckBroker(d.Address); msg != "" {
			c.Errorf(p+".address", "%s", msg)
		}
	}
}
