package rsmp

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

// Defaults.
const (
	// DefaultTimeout bounds the wait for an acknowledgement, a response or
	// a handshake step when the device gives no Timeout. RSMP's own
	// default for acknowledgements is 30 s (core 3.2.2, "Message
	// acknowledgement"); a poll would stall that long, so the supervisor
	// gives up sooner and treats it as a disruption.
	DefaultTimeout = 5 * time.Second
	// DefaultWatchdog is how often this side sends a Watchdog: once a
	// minute, RSMP's default (core 3.2.2, "Watchdog").
	DefaultWatchdog = time.Minute
	// DefaultBackoffBase and DefaultBackoffMax bound the wait before a
	// reconnection; RSMP's default reconnect interval is 10 s (core
	// 3.2.2, "Communication disruption").
	DefaultBackoffBase = time.Second
	DefaultBackoffMax  = 10 * time.Second
)

// Config configures an RSMP Source.
type Config struct {
	// Devices are the sites to supervise; each needs a profile of kind
	// rsmp and an rsmp://host:port?site=ID address.
	Devices []source.Device
	// Logger receives state changes (Info/Warn) and per-poll detail
	// (Debug); nil discards. Security codes are never logged.
	Logger *slog.Logger
	// Metrics receives the per-device metrics; nil records none.
	Metrics *source.Metrics
	// Watchdog is the interval of this side's Watchdog messages
	// (default DefaultWatchdog).
	Watchdog time.Duration
	// BackoffBase and BackoffMax bound the wait before reconnecting.
	BackoffBase, BackoffMax time.Duration
	// MaxMessage bounds one message from a site (default
	// DefaultMaxMessage).
	MaxMessage int
}

// Address is a parsed rsmp:// device address.
type Address struct {
	// HostPort is where the site's socket server listens.
	HostPort string
	// Site is the site ID the site must announce (sId).
	Site string
	// Component is the ID of the site's main component (cId of the
	// profile's "main" statuses and commands); default Site.
	Component string
}

// ParseAddress parses rsmp://host:port?site=ID[&component=ID]. The port is
// required: RSMP core 3.2.2 names no default port. IDs are taken as
// written ('+' and '=' included); %XX escapes are decoded.
func ParseAddress(raw string) (Address, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "rsmp" {
		return Address{}, fmt.Errorf("%q: expected rsmp://host:port?site=SITE_ID", raw)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if n, perr := strconv.Atoi(port); err != nil || host == "" || perr != nil || n < 1 || n > 65535 {
		return Address{}, fmt.Errorf("%q: expected rsmp://host:port?site=SITE_ID with a port from 1 to 65535 (RSMP has no default port)", raw)
	}
	if u.Path != "" && u.Path != "/" {
		return Address{}, fmt.Errorf("%q: unexpected path %q (expected rsmp://host:port?site=SITE_ID)", raw, u.Path)
	}
	// RSMP IDs hold '+' and '=' (AB+84001=860SG001): the query is split
	// by hand, since url.Query would read '+' as a space.
	a := Address{HostPort: u.Host}
	for _, kv := range strings.Split(u.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		val, err := url.PathUnescape(v)
		if err != nil {
			return Address{}, fmt.Errorf("%q: parameter %s: %v", raw, k, err)
		}
		switch k {
		case "site":
			a.Site = val
		case "component":
			a.Component = val
		default:
			return Address{}, fmt.Errorf("%q: unknown parameter %q (expected site and optionally component)", raw, k)
		}
	}
	if a.Site == "" {
		return Address{}, fmt.Errorf("%q: missing site=SITE_ID, the site ID the controller announces in its Version message", raw)
	}
	if a.Component == "" {
		a.Component = a.Site
	}
	return a, nil
}

// Validate checks the configuration, reporting every device's problems,
// each prefixed `device "NAME": `.
func (c Config) Validate() error {
	var errs []error
	if c.Watchdog < 0 || c.BackoffBase < 0 || c.BackoffMax < 0 || c.MaxMessage < 0 {
		errs = append(errs, errors.New("rsmp source: watchdog, backoff and max message must not be negative"))
	}
	names := map[string]bool{}
	for _, d := range c.Devices {
		if names[d.Name] {
			errs = append(errs, fmt.Errorf("device %q: name used twice", d.Name))
		}
		names[d.Name] = true
		if err := checkDevice(d); err != nil {
			errs = append(errs, fmt.Errorf("device %q: %w", d.Name, err))
		}
	}
	return errors.Join(errs...)
}

func checkDevice(d source.Device) error {
	if d.Profile == nil || d.Profile.Kind != profile.KindRSMP || d.Profile.RSMP == nil {
		return errors.New("expected a profile of kind rsmp")
	}
	if _, err := ParseAddress(d.Address); err != nil {
		return err
	}
	if d.Interval < 0 || d.Timeout < 0 {
		return errors.New("interval and timeout must not be negative")
	}
	return nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
