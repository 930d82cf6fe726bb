package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"

	"github.com/ponte-city/ponte/internal/site"
	"github.com/ponte-city/ponte/internal/yamlconf"
	"github.com/ponte-city/ponte/wire"
)

// Config is ponte-ingest's configuration file.
type Config struct {
	// Broker is the MQTT side.
	Broker Broker `yaml:"broker"`
	// TopicPrefix is the topic prefix (default "ponte").
	TopicPrefix string `yaml:"topic_prefix"`
	// Influx is the InfluxDB sink.
	Influx Influx `yaml:"influx"`
	// HTTP is the public listener (batches, twin) and the ops listener.
	HTTP HTTP `yaml:"http"`
	// StateDir holds the dedup state; instances that share gateways (one
	// share group) share it. Unless Dedup.NATS is set (dedup_nats.go).
	StateDir string `yaml:"state_dir"`
	// Dedup, if set, chooses where the dedup state lives (dedup_nats.go).
	Dedup *Dedup `yaml:"dedup"`
	// DeadLetter is the dead-letter directory.
	DeadLetter DeadLetter `yaml:"dead_letter"`
	// UnknownDevices is "dead_letter" (default) or "accept".
	UnknownDevices string `yaml:"unknown_devices"`
	// MaxNewDevices caps, per gateway and hour, the devices it does not
	// list that are admitted as new series (0: the default,
	// service.DefaultMaxNewDevices, 1000).
	MaxNewDevices int `yaml:"max_new_devices"`
	// MaxAge and MaxFuture bound readings' times (defaults 30 days, 5m).
	MaxAge    yamlconf.Duration `yaml:"max_age"`
	MaxFuture yamlconf.Duration `yaml:"max_future"`
	// GapTimeout is refused: ingest no longer gives a sequence gap up on
	// a timer (see package dedup). Kept as a field only so that an old
	// config gets that explanation rather than "unknown field".
	GapTimeout *yamlconf.Duration `yaml:"gap_timeout"`
	// Workers and Queue size the pipeline (defaults 8 and 64 per worker).
	Workers int `yaml:"workers"`
	Queue   int `yaml:"queue"`
	// Gateways are the known gateways' credentials; empty accepts any the
	// broker lets in.
	Gateways []Gateway `yaml:"gateways"`
	// Sites are the gateways' site configs (globs allowed; relative to
	// this file's folder): the device inventory (inventory.go).
	Sites []string `yaml:"sites"`
	// Profiles is the firmware profile folder the site configs name.
	Profiles string `yaml:"profiles"`
	// Twin, if set, keeps the digital twin and serves its API and pages.
	Twin *Twin `yaml:"twin"`
	// Enrolment, if set, runs the enrolment registry (enrolment.go).
	Enrolment *Enrolment `yaml:"enrolment"`
	// NATS, if set, is the NATS connection of every section that gives
	// none of its own (nats_shared.go).
	NATS *NATSConn `yaml:"nats"`
	// Tenants are the organisations sharing the platform, each seeing its
	// own areas and gateways (tenants.go).
	Tenants []Tenant `yaml:"tenants"`
	// OpenData, if set, publishes the open data (opendata.go).
	OpenData *OpenData `yaml:"opendata"`
	// Commands configures operators' commands to devices (commands.go).
	Commands *Commands `yaml:"commands"`

	doc        *yamlconf.Doc
	natsShared []string         // the sections that took NATS
	resolved   map[*string]bool // paths already resolved (resolveOnce)
	secrets    secretState
	inventory  *site.Inventory
}

// Broker is the MQTT side. An empty URL runs the embedded broker on Listen.
type Broker struct {
	// URL is an external broker ("tcp://host:1883"); empty: embedded.
	URL string `yaml:"url"`
	// Listen is the embedded broker's address.
	Listen string `yaml:"listen"`
	// ClientID is ingest's MQTT client ID, stable per instance.
	ClientID string `yaml:"client_id"`
	// Username and Password are ingest's own broker credentials (on the
	// embedded broker a random password is made when empty).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
	// PasswordFile and PasswordEnv give Password from a file or the
	// environment instead (see secrets.go); so do the other *_file and
	// *_env fields for the field they are named after.
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
	// ShareGroup is the shared-subscription group; "-" for none.
	ShareGroup string `yaml:"share_group"`
	// Limits and TLS are the embedded broker's (broker_limits.go).
	Limits BrokerLimits `yaml:"limits"`
	TLS    BrokerTLS    `yaml:"tls"`
	// NATS, if set, is a NATS cluster instead (broker_nats.go).
	NATS *BrokerNATS `yaml:"nats"`
}

// Influx is the InfluxDB sink's part (see package influx for meanings).
type Influx struct {
	URL           string            `yaml:"url"`
	Token         string            `yaml:"token"`
	TokenFile     string            `yaml:"token_file"`
	TokenEnv      string            `yaml:"token_env"`
	Org           string            `yaml:"org"`
	Bucket        string            `yaml:"bucket"`
	Measurement   string            `yaml:"measurement"`
	BatchSize     int               `yaml:"batch_size"`
	FlushInterval yamlconf.Duration `yaml:"flush_interval"`
	Timeout       yamlconf.Duration `yaml:"timeout"`
	RetryBase     yamlconf.Duration `yaml:"retry_base"`
	RetryMax      yamlconf.Duration `yaml:"retry_max"`
	ProbeInterval yamlconf.Duration `yaml:"probe_interval"`
}

// DeadLetter is the dead-letter directory.
type DeadLetter struct {
	Dir      string `yaml:"dir"`
	MaxBytes int64  `yaml:"max_bytes"`
}

// Gateway is one gateway's identity and credentials (its devices are in
// its site config, see Config.Sites).
type Gateway struct {
	ID string `yaml:"id"`
	// Password is its MQTT password on the embedded broker.
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
	// PasswordHash is a bcrypt hash of that password instead (ponte-ctl
	// password-hash), so the config holds no password in the clear.
	PasswordHash string `yaml:"password_hash"`
	// HTTPToken lets it post batches over HTTP (empty: no HTTP).
	HTTPToken     string `yaml:"http_token"`
	HTTPTokenFile string `yaml:"http_token_file"`
	HTTPTokenEnv  string `yaml:"http_token_env"`
	// Devices is refused: a gateway's devices are in its site config.
	Devices refused `yaml:"devices"`
}

// Defaults returns the defaults applied to fields left empty.
func Defaults() Config {
	return Config{
		Broker:         Broker{Listen: "127.0.0.1:1883", Username: "ponte-ingest", ShareGroup: "ponte-ingest"},
		TopicPrefix:    wire.DefaultPrefix,
		Influx:         Influx{Bucket: "ponte"},
		HTTP:           DefaultHTTP(),
		StateDir:       "/var/lib/ponte-ingest/state",
		DeadLetter:     DeadLetter{Dir: "/var/lib/ponte-ingest/dead-letter", MaxBytes: 256 << 20},
		UnknownDevices: "dead_letter",
	}
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read ingest config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates data, read from the file called name.
func Parse(name string, data []byte) (*Config, error) {
	c := Defaults()
	doc, err := yamlconf.Decode(name, data, &c)
	if err != nil {
		return nil, err
	}
	c.doc = doc
	if err := errors.Join(c.resolveSecrets(os.LookupEnv), c.Validate()); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks the configuration; errors name the file, line and field.
func (c *Config) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, c.doc.Errorf(path, format, args...))
	}
	if c.Broker.URL != "" {
		u, err := url.Parse(c.Broker.URL)
		if err != nil || u.Host == "" || (u.Scheme != "tcp" && u.Scheme != "ssl" && u.Scheme != "mqtt" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss") {
			bad("broker.url", "%q is not a broker URL (expected e.g. tcp://broker:1883)", c.Broker.URL)
		}
	} else if _, _, err := net.SplitHostPort(c.Broker.Listen); err != nil {
		bad("broker.listen", "%q is not host:port", c.Broker.Listen)
	}
	if c.TopicPrefix == "" {
		bad("topic_prefix", "must not be empty")
	}
	if c.GapTimeout != nil {
		bad("gap_timeout", "no longer supported: ingest never gives a sequence gap up on a timer; a gap closes when its readings arrive or the gateway declares it dropped them (remove the line)")
	}
	if c.Influx.URL == "" {
		bad("influx.url", "required (e.g. http://127.0.0.1:8086)")
	} else if u, err := url.Parse(c.Influx.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("influx.url", "%q is not an http(s) URL", c.Influx.URL)
	}
	if c.Influx.Bucket == "" {
		bad("influx.bucket", "required")
	}
	if c.Influx.BatchSize < 0 {
		bad("influx.batch_size", "%d (expected a positive number)", c.Influx.BatchSize)
	}
	c.validateHTTP(bad)
	if c.StateDir == "" {
		bad("state_dir", "required")
	}
	if c.DeadLetter.Dir == "" {
		bad("dead_letter.dir", "required")
	}
	if c.DeadLetter.MaxBytes <= 0 {
		bad("dead_letter.max_bytes", "%d (expected a positive number of bytes)", c.DeadLetter.MaxBytes)
	}
	if c.UnknownDevices != "accept" && c.UnknownDevices != "dead_letter" {
		bad("unknown_devices", "%q (expected accept or dead_letter)", c.UnknownDevices)
	}
	if c.Workers < 0 {
		bad("workers", "%d (expected a positive number)", c.Workers)
	}
	if c.Queue < 0 {
		bad("queue", "%d (expected a positive number)", c.Queue)
	}
	if c.MaxNewDevices < 0 {
		bad("max_new_devices", "%d (expected a number of devices per hour; 0 for the default)", c.MaxNewDevices)
	}
	c.validateSharedNATS(bad)
	c.validateTwin(bad)
	c.validateTenants(bad)
	c.validateOpenData(bad)
	c.validateAlarms(bad)
	c.validateCommands(bad)
	c.validateSites(bad)
	c.validateEnrolment(bad)
	c.validateDedup(bad)
	c.validateBroker(bad)
	c.validateNATS(bad)
	c.checkSharedNATSUsed(bad)
	c.validateSecrets(bad)
	seen := map[string]int{}
	for i, g := range c.Gateways {
		p := fmt.Sprintf("gateways[%d]", i)
		if !wire.ValidGatewayID(g.ID) {
			bad(p+".id", "%q is not a gateway ID (letters, digits, '-', '_', '.', 1 to 64)", g.ID)
		}
		if j, dup := seen[g.ID]; dup {
			bad(p+".id", "%q already used by gateways[%d]", g.ID, j)
		}
		seen[g.ID] = i
		if g.ID == c.Broker.Username {
			bad(p+".id", "%q is ingest's own broker username", g.ID)
		}
		if c.Broker.URL == "" && c.Broker.NATS == nil && g.Password == "" && g.PasswordHash == "" && g.HTTPToken == "" {
			bad(p, "gateway %q has neither password (embedded broker) nor http_token: it could not send anything", g.ID)
		}
		if g.Password != "" && g.PasswordHash != "" {
			bad(p+".password_hash", "give password or password_hash, not both")
		}
	}
	return errors.Join(errs...)
}

// Topics returns the topic layout.
func (c *Config) Topics() wire.Topics { return wire.Topics{Prefix: c.TopicPrefix} }

// GatewayIDs returns the configured gateway IDs (nil when none: any
// gateway the broker lets in is accepted).
func (c *Config) GatewayIDs() []string {
	var ids []string
	for _, g := range c.Gateways {
		ids = append(ids, g.ID)
	}
	return ids
}

// Passwords returns the embedded broker's gateway credentials.
func (c *Config) Passwords() map[string]string {
	m := map[string]string{}
	for _, g := range c.Gateways {
		if g.Password != "" {
			m[g.ID] = g.Password
		}
	}
	return m
}

// PasswordHashes returns the embedded broker's gateway credentials given
// as bcrypt hashes.
func (c *Config) PasswordHashes() map[string][]byte {
	m := map[string][]byte{}
	for _, g := range c.Gateways {
		if g.PasswordHash != "" {
			m[g.ID] = []byte(g.PasswordHash)
		}
	}
	return m
}

// Tokens returns the HTTP tokens by gateway.
func (c *Config) Tokens() map[string]string {
	m := map[string]string{}
	for _, g := range c.Gateways {
		if g.HTTPToken != "" {
			m[g.ID] = g.HTTPToken
		}
	}
	return m
}
