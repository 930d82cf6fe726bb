package modbus

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
)

// Defaults for zero Config and source.Device fields.
const (
	DefaultTimeout     = time.Second
	DefaultBackoffBase = time.Second
	DefaultBackoffMax  = time.Minute
	// SlowFactor makes the default slow interval from the fast one.
	SlowFactor = 10
)

// Config configures a Modbus source.
type Config struct {
	// Devices are the Modbus devices to poll, TCP and RTU mixed.
	Devices []source.Device
	// Logger receives state changes (Info/Warn) and each poll (Debug);
	// nil discards.
	Logger *slog.Logger
	// Metrics receives per-device metrics; nil records none.
	Metrics *source.Metrics
	// BackoffBase and BackoffMax bound the retry delay of a failing device
	// (internal/backoff: doubling from base, no jitter; defaults 1s and 1m).
	BackoffBase, BackoffMax time.Duration
}

// Validate checks every device and reports every problem found, each
// naming the device and what was expected.
func (c *Config) Validate() error {
	var errs []error
	if c.BackoffBase < 0 || c.BackoffMax < 0 {
		errs = append(errs, fmt.Errorf("backoff: negative duration (base %s, max %s)", c.BackoffBase, c.BackoffMax))
	}
	if c.BackoffBase > 0 && c.BackoffMax > 0 && c.BackoffMax < c.BackoffBase {
		errs = append(errs, fmt.Errorf("backoff: max %s below base %s", c.BackoffMax, c.BackoffBase))
	}
	names := map[string]bool{}
	units := map[string]string{} // bus key + unit -> device name
	lines := map[string]source.SerialLine{}
	for i := range c.Devices {
		d := &c.Devices[i]
		label := fmt.Sprintf("device %d", i)
		if d.Name != "" {
			label = fmt.Sprintf("device %q", d.Name)
		}
		derr := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("%s: %s", label, fmt.Sprintf(format, args...)))
		}
		if d.Name == "" {
			derr("no name")
		} else if names[d.Name] {
			derr("name used by another device")
		}
		names[d.Name] = true
		if err := checkDevice(d); err != nil {
			derr("%v", err)
		}
		key, line, err := busKey(d.Address)
		if err != nil {
			derr("%v", err)
			continue
		}
		if line != nil {
			if d.Unit < 1 || d.Unit > 247 {
				derr("unit %d on an RTU line (expected 1 to 247; 0 is broadcast and never answers)", d.Unit)
			}
			if prev, ok := lines[key]; ok && prev != *line {
				derr("line settings %s differ from %s used by another device on the same port", line, prev)
			}
			lines[key] = *line
		}
		ukey := key + "#" + strconv.Itoa(int(d.Unit))
		if other, ok := units[ukey]; ok {
			derr("unit %d on %s is already device %q", d.Unit, key, other)
		} else {
			units[ukey] = d.Name
		}
	}
	return errors.Join(errs...)
}

// checkDevice checks what a device needs beyond its address.
func checkDevice(d *source.Device) error {
	switch {
	case d.Profile == nil:
		return errors.New("no profile")
	case d.Profile.Kind != profile.KindModbus || d.Profile.Modbus == nil:
		return fmt.Errorf("profile %s is of kind %q (expected modbus)", d.Profile.File, d.Profile.Kind)
	case len(d.Profile.Modbus.Points) == 0:
		return fmt.Errorf("profile %s has no points", d.Profile.File)
	case d.Interval <= 0:
		return fmt.Errorf("interval %s (expected a positive duration)", d.Interval)
	case d.SlowInterval < 0:
		return fmt.Errorf("slow interval %s (expected a positive duration, or 0 for %d x interval)", d.SlowInterval, SlowFactor)
	case d.Timeout < 0:
		return fmt.Errorf("timeout %s (expected a positive duration, or 0 for %s)", d.Timeout, DefaultTimeout)
	}
	return nil
}

// busKey names the bus a device address belongs to: "tcp://host:port" for
// Modbus TCP, "rtu://PATH" for an RTU line (whose settings are returned).
func busKey(addr string) (key string, line *source.SerialLine, err error) {
	switch {
	case strings.HasPrefix(addr, "tcp://"):
		u, err := url.Parse(addr)
		if err != nil {
			return "", nil, fmt.Errorf("address %q: %w", addr, err)
		}
		host, port, err := net.SplitHostPort(u.Host)
		if err != nil || host == "" {
			return "", nil, fmt.Errorf("address %q: expected tcp://host:port", addr)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return "", nil, fmt.Errorf("address %q: port %q (expected 1 to 65535)", addr, port)
		}
		if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return "", nil, fmt.Errorf("address %q: expected tcp://host:port with no path or parameters", addr)
		}
		return "tcp://" + net.JoinHostPort(strings.ToLower(host), port), nil, nil
	case strings.HasPrefix(addr, "rtu://"):
		l, err := source.ParseSerialURL(addr, source.SerialLine{})
		if err != nil {
			return "", nil, err
		}
		return "rtu://" + l.Path, &l, nil
	}
	return "", nil, fmt.Errorf("address %q: expected tcp://host:port or rtu:///dev/PATH", addr)
}

// withDefaults returns d with zero durations replaced by their defaults.
func withDefaults(d source.Device) source.Device {
	if d.SlowInterval == 0 {
		d.SlowInterval = SlowFactor * d.Interval
	}
	if d.Timeout == 0 {
		d.Timeout = DefaultTimeout
	}
	return d
}
