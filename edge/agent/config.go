package agent

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/edge/transport"
	"github.com/ponte-city/ponte/edge/uplink"
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

// checkDevices checks each device that passed site's checks against its
// source, then the conflicts between devices that are each fine (two RTU
// devices on one port with different line settings, a unit ID used twice
// on a bus), and returns the devices as the sources take them.
func checkDevices(s *site.Site, c *site.Checker) []source.Device {
	ports := map[string]string{} // "kind:path" of a serial port -> "device %q"
	var bus []source.Device      // every device whose own checks passed
	kinds := map[*transport.Transport][]source.Device{}
	for i := range s.Devices {
		d := &s.Devices[i]
		if d.LoadedProfile() == nil {
			continue // reported by site
		}
		p := fmt.Sprintf("devices[%d]", i)
		t, err := transport.For(d.Kind())
		if err != nil {
			c.Errorf(p+".profile", "%v", err)
			continue
		}
		if d.Address == "" {
			// Data to the central services, which never dial it; the agent
			// cannot run without it.
			c.Errorf(p+".address", "required (expected %s)", t.Expect)
			continue
		}
		before := c.Count()
		checkAddress(c, p, d, t, ports)
		if c.Count() > before || !c.DeviceOK(i) {
			continue
		}
		sd := SourceDevice(d)
		if err := t.Validate([]source.Device{sd}); err != nil {
			sourceErrors(s, c, err)
			continue
		}
		bus = append(bus, sd)
		kinds[t] = append(kinds[t], sd)
	}
	if c.Count() > 0 {
		return nil
	}
	for _, t := range transport.All() {
		if err := t.Validate(kinds[t]); err != nil {
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

// checkAddress checks that the device's address fits its transport t,
// and that no serial port is claimed by two transports: ports maps each
// port taken so far ("kind:path") to the device that took it.
func checkAddress(c *site.Checker, p string, d *site.Device, t *transport.Transport, ports map[string]string) {
	port, err := t.CheckAddress(d.Address)
	if errors.Is(err, transport.ErrNoFit) {
		c.Errorf(p+".address", "%q does not fit profile %s of kind %s (expected %s)", d.Address, d.Profile, t.Kind, t.Expect)
		return
	}
	if err != nil {
		c.Errorf(p+".address", "%v", err)
		return
	}
	if port.Path == "" {
		return
	}
	key := string(t.Kind) + ":" + port.Path
	for k, other := range ports {
		if strings.HasSuffix(k, ":"+port.Path) && (k != key || !port.Shared) {
			c.Errorf(p+".address", "port %s is already used by %s (a serial port carries one serial device, or any number of Modbus RTU units)", port.Path, other)
			return
		}
	}
	if _, ok := ports[key]; !ok {
		ports[key] = fmt.Sprintf("device %q", d.Name)
	}
}

// SourceDevice is a site config's device as the sources take it (its
// profile loaded, its interval defaulted).
func SourceDevice(d *site.Device) source.Device {
	return source.Device{Name: d.Name, Profile: d.LoadedProfile(), Address: d.Address, Unit: uint8(d.Unit), ID: d.ID,
		Interval: d.PollInterval(), SlowInterval: d.SlowInterval.D(), Timeout: d.Timeout.D(), SecurityCode: d.SecurityCode()}
}
