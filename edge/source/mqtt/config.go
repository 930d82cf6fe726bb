package mqtt

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
)

// Config configures a Source.
type Config struct {
	// Devices are the MQTT devices; their Address is the broker URL
	// (tcp:// or mqtt://, ssl:// tls:// or mqtts://, ws://, wss://).
	// Credentials in the URL (mqtt://user:pass@host) override Username and
	// Password for that broker.
	Devices []source.Device
	// Logger receives state changes at Info/Warn and each message at
	// Debug; nil discards.
	Logger *slog.Logger
	// Metrics are the per-device metrics shared by all sources; nil: none.
	Metrics *source.Metrics
	// BrokerMetrics are this package's metrics; nil: kept unregistered.
	BrokerMetrics *Metrics
	// ClientID identifies the gateway to the brokers (default
	// "ponte-edge-<hostname>"). It must be stable and unique per broker:
	// the broker keeps the session, and queues QoS 1 uplinks for it while
	// the gateway's link is down, under this ID.
	ClientID string
	// Username and Password authenticate to every broker whose URL has
	// no credentials.
	Username, Password string
	// TLS configures ssl://, tls://, mqtts:// and wss:// brokers; nil uses
	// the system roots.
	TLS *tls.Config
	// ReconnectMax caps the wait between reconnection attempts (default 30s).
	ReconnectMax time.Duration
}

// Validate checks the configuration and reports every problem, each naming
// the device.
func (c *Config) Validate() error {
	if len(c.Devices) == 0 {
		return errors.New("mqtt source: no devices")
	}
	if c.ReconnectMax < 0 {
		return fmt.Errorf("mqtt source: reconnect_max %s is negative", c.ReconnectMax)
	}
	_, err := plan(c.Devices)
	return err
}

func (c *Config) withDefaults() Config {
	d := *c
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.BrokerMetrics == nil {
		d.BrokerMetrics = NewMetrics(nil)
	}
	if d.ClientID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "unknown"
		}
		d.ClientID = "ponte-edge-" + host
	}
	if d.ReconnectMax == 0 {
		d.ReconnectMax = 30 * time.Second
	}
	return d
}

// brokerAddr is a broker URL in the form paho dials, with a grouping key
// and a display form without the password.
type brokerAddr struct {
	url     string // for paho, with credentials
	key     string // scheme://user@host:port/path, for grouping
	display string // url without the password, for logs and labels
}

// parseBroker parses and normalises a device's broker address: mqtt:// is
// tcp://, mqtts:// and tls:// are ssl://, and a missing port is 1883 (8883
// with TLS, 80/443 for websockets).
func parseBroker(raw string) (brokerAddr, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return brokerAddr{}, fmt.Errorf("broker address %q: %w", raw, err)
	}
	port := ""
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt":
		u.Scheme, port = "tcp", "1883"
	case "ssl", "tls", "mqtts", "tcps":
		u.Scheme, port = "ssl", "8883"
	case "ws":
		u.Scheme, port = "ws", "80"
	case "wss":
		u.Scheme, port = "wss", "443"
	default:
		return brokerAddr{}, fmt.Errorf("broker address %q: scheme %q (expected tcp://, mqtt://, ssl://, mqtts://, ws:// or wss://)", raw, u.Scheme)
	}
	if u.Hostname() == "" {
		return brokerAddr{}, fmt.Errorf("broker address %q: no host (expected e.g. tcp://127.0.0.1:1883)", raw)
	}
	if u.Port() == "" {
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	u.Host = strings.ToLower(u.Host)
	if (u.Scheme == "tcp" || u.Scheme == "ssl") && strings.Trim(u.Path, "/") != "" {
		return brokerAddr{}, fmt.Errorf("broker address %q: unexpected path %q", raw, u.Path)
	}
	key := *u
	if key.User != nil {
		key.User = url.User(key.User.Username())
	}
	return brokerAddr{url: u.String(), key: key.String(), display: u.Redacted()}, nil
}

// plan groups the devices by broker and, per broker, by topic filter; it
// reports every configuration problem.
func plan(devices []source.Device) ([]*broker, error) {
	var errs []error
	bad := func(d *source.Device, format string, args ...any) {
		errs = append(errs, fmt.Errorf("mqtt device %q: "+format, append([]any{d.Name}, args...)...))
	}
	names := map[string]bool{}
	byKey := map[string]*broker{}
	var brokers []*broker
	for i := range devices {
		d := &devices[i]
		switch {
		case d.Name == "":
			errs = append(errs, fmt.Errorf("mqtt device #%d: no name", i))
			continue
		case names[d.Name]:
			bad(d, "name used twice")
			continue
		}
		names[d.Name] = true
		if d.Profile == nil || d.Profile.MQTT == nil {
			bad(d, "profile has no mqtt section")
			continue
		}
		if k := d.Profile.Kind; k != "" && k != profile.KindMQTT {
			bad(d, "profile kind %q (expected mqtt)", k)
			continue
		}
		if d.Interval < 0 {
			bad(d, "interval %s is negative", d.Interval)
		}
		addr, err := parseBroker(d.Address)
		if err != nil {
			bad(d, "%v", err)
			continue
		}
		p := d.Profile.MQTT
		filter, idPath, _, _ := p.Defaults()
		if err := validFilter(filter); err != nil {
			bad(d, "profile: %v", err)
			continue
		}
		if idPath != "" && d.ID == "" {
			bad(d, "no id: the profile's payloads carry the device identity at %q (the DevEUI for LoRaWAN), so the site config must give it", idPath)
			continue
		}
		b := byKey[addr.key]
		if b == nil {
			b = &broker{addr: addr}
			byKey[addr.key] = b
			brokers = append(brokers, b)
		}
		if err := b.add(d, p, filter, idPath != ""); err != nil {
			bad(d, "%v", err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return brokers, nil
}
