package uplink

import (
	"crypto/tls"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{Gateway: "gw-1", Broker: "tcp://127.0.0.1:1883"}
	cases := []struct {
		name string
		edit func(*Config)
		want []string // substrings of the error; none: valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"tls broker with tls config", func(c *Config) { c.Broker = "mqtts://broker.city:8883"; c.TLS = &tls.Config{} }, nil},
		{"websocket", func(c *Config) { c.Broker = "ws://127.0.0.1:9001/mqtt" }, nil},
		{"missing gateway", func(c *Config) { c.Gateway = "" }, []string{"gateway", "expected 1-64"}},
		{"gateway with a slash", func(c *Config) { c.Gateway = "a/b" }, []string{"gateway", `"a/b"`}},
		{"missing broker", func(c *Config) { c.Broker = "" }, []string{"broker: is required"}},
		{"unknown scheme", func(c *Config) { c.Broker = "http://x:1" }, []string{"broker", `scheme "http"`}},
		{"no host", func(c *Config) { c.Broker = "tcp://" }, []string{"broker", "no host"}},
		{"tls config on a plain broker", func(c *Config) { c.TLS = &tls.Config{} }, []string{"broker", "plain"}},
		{"wildcard prefix", func(c *Config) { c.Topics = wire.Topics{Prefix: "city/+"} }, []string{"topics.prefix", "wildcard"}},
		{"negative readings", func(c *Config) { c.BatchMaxReadings = -1 }, []string{"batch_max_readings", "-1"}},
		{"huge readings", func(c *Config) { c.BatchMaxReadings = 1 << 30 }, []string{"batch_max_readings"}},
		{"bytes at the wire limit", func(c *Config) { c.BatchMaxBytes = wire.MaxBatchBytes }, []string{"batch_max_bytes"}},
		{"negative wait", func(c *Config) { c.BatchMaxWait = -time.Second }, []string{"batch_max_wait", "negative"}},
		{"window too large", func(c *Config) { c.Window = 5000 }, []string{"window", "5000"}},
		{"negative ack timeout", func(c *Config) { c.AckTimeout = -1 }, []string{"ack_timeout"}},
		{"negative rate", func(c *Config) { c.ReplayRate = -5 }, []string{"replay_rate"}},
		{"NaN rate", func(c *Config) { c.ReplayRate = math.NaN() }, []string{"replay_rate", "NaN"}},
		{"backoff max below base", func(c *Config) { c.BackoffBase = time.Minute; c.BackoffMax = time.Second }, []string{"backoff_max", "below"}},
		{"negative backoff", func(c *Config) { c.BackoffBase = -1 }, []string{"backoff_base"}},
		{"keepalive below a second", func(c *Config) { c.KeepAlive = 500 * time.Millisecond }, []string{"keep_alive"}},
		{"status interval below a second", func(c *Config) { c.StatusInterval = 500 * time.Millisecond }, []string{"status_interval", "500ms"}},
		{"status interval of a second", func(c *Config) { c.StatusInterval = time.Second }, nil},
		{"several at once", func(c *Config) { c.Gateway = ""; c.Window = -1 }, []string{"gateway", "window"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate accepted %+v", c)
			}
			if !errors.Is(err, ErrConfig) {
				t.Errorf("error %v does not wrap ErrConfig", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{Gateway: "gw-1", Broker: "tcp://127.0.0.1:1883", BackoffBase: 2 * time.Minute}.withDefaults()
	if c.ClientID != "ponte-edge-gw-1" || c.Username != "gw-1" {
		t.Errorf("client ID %q, username %q", c.ClientID, c.Username)
	}
	if c.BatchMaxReadings != DefaultBatchMaxReadings || c.BatchMaxBytes != DefaultBatchMaxBytes || c.Window != DefaultWindow ||
		c.AckTimeout != DefaultAckTimeout || c.BatchMaxWait != DefaultBatchMaxWait || c.KeepAlive != DefaultKeepAlive {
		t.Errorf("defaults not applied: %+v", c)
	}
	if c.BackoffMax != 2*time.Minute {
		t.Errorf("backoff max %s below a larger base", c.BackoffMax)
	}
}

func TestNewRefuses(t *testing.T) {
	if _, err := New(Config{}, nil); !errors.Is(err, ErrConfig) {
		t.Errorf("empty config: %v", err)
	}
	if _, err := New(Config{Gateway: "gw", Broker: "tcp://127.0.0.1:1"}, nil); err == nil || !strings.Contains(err.Error(), "buffer") {
		t.Errorf("nil buffer: %v", err)
	}
	b := openBuf(t)
	cfg := baseConfig("tcp://127.0.0.1:1")
	if _, err := New(cfg, b); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg, b); err == nil || !strings.Contains(err.Error(), "register") {
		t.Errorf("second forwarder on one registry: %v", err)
	}
}

func TestRedact(t *testing.T) {
	if got := redact("tcp://gw:secret@broker:1883"); strings.Contains(got, "secret") {
		t.Errorf("redact kept the password: %s", got)
	}
}
