package site

import (
	"errors"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/wire"
)

const idChars = "1 to 64 letters, digits, '-', '_' or '.'"

func (v *validator) gateway(g *Gateway) {
	switch {
	case g.ID == "":
		v.errorf("gateway.id", "required (expected the gateway's ID: %s)", idChars)
	case !wire.ValidGatewayID(g.ID):
		v.errorf("gateway.id", "%q is not a valid gateway ID (expected %s)", g.ID, idChars)
	}
}

// brokerSchemes are the URL schemes paho dials.
var brokerSchemes = map[string]bool{"tcp": true, "mqtt": true, "ssl": true, "tls": true, "mqtts": true, "ws": true, "wss": true}

// CheckBroker checks an MQTT broker URL as paho dials it; it returns what
// is wrong, or "".
func CheckBroker(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "expected a broker URL such as tcp://host:1883 or ssl://host:8883, got " + strconv.Quote(raw)
	}
	if !brokerSchemes[strings.ToLower(u.Scheme)] {
		return "scheme " + strconv.Quote(u.Scheme) + " (expected tcp://, mqtt://, ssl://, mqtts://, ws:// or wss://)"
	}
	if u.Hostname() == "" {
		return "no host in " + strconv.Quote(raw) + " (expected e.g. ssl://mqtt.example.org:8883)"
	}
	return ""
}

func (v *validator) uplink(u *Uplink) {
	if u.Broker == "" {
		v.errorf("uplink.broker", "required (expected a broker URL such as ssl://mqtt.example.org:8883)")
	} else if msg := CheckBroker(u.Broker); msg != "" {
		v.errorf("uplink.broker", "%s", msg)
	}
	v.uplinkPassword(u)
	if t := u.TLS; t != nil {
		for _, f := range []struct {
			path string
			file *string
		}{{"uplink.tls.ca", &t.CA}, {"uplink.tls.cert", &t.Cert}, {"uplink.tls.key", &t.Key}} {
			if *f.file == "" {
				continue
			}
			*f.file = v.path(*f.file, "")
			if v.offline {
				continue
			}
			if _, err := os.Stat(*f.file); err != nil {
				v.errorf(f.path, "cannot read %s: %v", *f.file, errors.Unwrap(err))
			}
		}
		if (t.Cert == "") != (t.Key == "") {
			v.errorf("uplink.tls", "cert and key go together (a client certificate needs its key)")
		}
	}
	if p := u.TopicPrefix; p != "" && (strings.ContainsAny(p, "+#") || strings.HasPrefix(p, "/") || strings.HasSuffix(p, "/") || strings.HasPrefix(p, "$")) {
		v.errorf("uplink.topic_prefix", "%q: expected a topic level path such as \"ponte\" or \"city/ponte\", without wildcards, $ or leading/trailing /", p)
	}
	if u.BatchMaxReadings < 0 {
		v.errorf("uplink.batch_max_readings", "%d is negative", u.BatchMaxReadings)
	}
	if u.BatchMaxBytes < 0 || int64(u.BatchMaxBytes) >= wire.MaxBatchBytes {
		v.errorf("uplink.batch_max_bytes", "%s: expected less than %s (the wire limit)", u.BatchMaxBytes, Size(wire.MaxBatchBytes))
	}
	if u.Window < 0 {
		v.errorf("uplink.window", "%d is negative", u.Window)
	}
	if u.ReplayWindow < 0 || (u.ReplayWindow > 0 && u.ReplayWindow < u.Window) {
		v.errorf("uplink.replay_window", "%d: expected at least window (%d), or 0 for the default", u.ReplayWindow, u.Window)
	}
	if q := u.AckQoS; q != nil && *q != 0 && *q != 1 {
		v.errorf("uplink.ack_qos", "%d (expected 0 or 1; default 1)", *q)
	}
	if u.ReplayRate < 0 {
		v.errorf("uplink.replay_rate", "%g is negative (expected readings per second, 0 for no cap)", u.ReplayRate)
	}
	if u.BackoffBase > 0 && u.BackoffMax > 0 && u.BackoffMax < u.BackoffBase {
		v.errorf("uplink.backoff_max", "%s is below backoff_base %s", u.BackoffMax.D(), u.BackoffBase.D())
	}
	if u.StatusInterval != 0 && u.StatusInterval.D() < time.Second {
		v.errorf("uplink.status_interval", "%s is below 1s (expected how often the status is republished, e.g. \"60s\")", u.StatusInterval.D())
	}
}

func (v *validator) buffer(b *Buffer) {
	// Its limits are the buffer's own (edge/buffer Config.Validate): the
	// agent checks them through Options.Check.
	b.Dir = v.path(b.Dir, DefaultBufferDir)
}

func (v *validator) http(h *HTTP) {
	if h.Listen == "" {
		h.Listen = DefaultListen
		return
	}
	_, port, err := net.SplitHostPort(h.Listen)
	if err != nil {
		v.errorf("http.listen", "%q: expected host:port such as 127.0.0.1:9107", h.Listen)
		return
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		v.errorf("http.listen", "port %q: expected 0 to 65535", port)
	}
}
