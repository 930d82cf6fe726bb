package site

import (
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/secret"
	"github.com/ponte-city/ponte/internal/yamlconf"
	"github.com/ponte-city/ponte/wire"
)

// Defaults for fields the site config leaves out.
const (
	// DefaultProfilesDir is where packages install the firmware profiles.
	DefaultProfilesDir = "/usr/share/ponte/firmware-profiles"
	// DefaultBufferDir is where packages keep the buffer.
	DefaultBufferDir = "/var/lib/ponte/buffer"
	// DefaultListen is the local HTTP API's address: loopback only.
	DefaultListen = "127.0.0.1:9107"
	// DefaultInterval is the poll interval of a Modbus or request/response
	// serial device that gives none.
	DefaultInterval = 10 * time.Second
)

// Site is one gateway's site config: who the gateway is, where it sends,
// how it buffers, and which devices it reads. Load or Parse it; the
// exported fields mirror the YAML, with paths resolved and defaults set.
type Site struct {
	// Gateway identifies the box.
	Gateway Gateway `yaml:"gateway"`
	// Profiles is the firmware profile directory (relative paths are taken
	// from the config file's directory; default DefaultProfilesDir).
	Profiles string `yaml:"profiles"`
	// Uplink is the connection to the central broker.
	Uplink Uplink `yaml:"uplink"`
	// Buffer is the durable local buffer.
	Buffer Buffer `yaml:"buffer"`
	// HTTP is the local status API.
	HTTP HTTP `yaml:"http"`
	// Devices are the installed devices.
	Devices []Device `yaml:"devices"`

	// File is the path the config was read from.
	File string `yaml:"-"`
	// secretWarnings are the files holding secrets others may read.
	secretWarnings []secret.Warning
}

// Gateway identifies the box.
type Gateway struct {
	// ID is the gateway's identity on the uplink (wire.ValidGatewayID).
	ID string `yaml:"id"`
}

// Uplink is the connection to the central MQTT broker.
type Uplink struct {
	// Broker is tcp://host:1883, ssl://host:8883 (or mqtts://), ws://, wss://.
	Broker string `yaml:"broker"`
	// ClientID defaults to "ponte-edge-" + gateway ID.
	ClientID string `yaml:"client_id"`
	// Username defaults to the gateway ID.
	Username string `yaml:"username"`
	// Password, or PasswordFile (a file holding it, trailing newline
	// trimmed), or PasswordEnv (an environment variable holding it): one
	// of them. See secret.go.
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
	// TLS names PEM files; without it the link is plain unless the broker
	// scheme asks for TLS (then the system roots are used).
	TLS *TLSFiles `yaml:"tls"`
	// TopicPrefix defaults to wire.DefaultPrefix.
	TopicPrefix string `yaml:"topic_prefix"`
	// Batch limits; zero takes the forwarder's defaults.
	BatchMaxReadings int               `yaml:"batch_max_readings"`
	BatchMaxBytes    Size              `yaml:"batch_max_bytes"`
	BatchMaxWait     yamlconf.Duration `yaml:"batch_max_wait"`
	// Window is how many batches may await ingest's ack.
	Window int `yaml:"window"`
	// ReplayWindow is the window while a backlog is replayed in replay
	// batches (zero: the uplink's default, 32, never below Window).
	ReplayWindow int `yaml:"replay_window"`
	// AckTimeout: unacknowledged batches are re-sent after it.
	AckTimeout yamlconf.Duration `yaml:"ack_timeout"`
	// AckQoS is the QoS of the subscription to ingest's acks: 1 (the
	// default) or 0. With a clean session both deliver an ack while the
	// gateway is connected, and the buffer resends whatever was not
	// acknowledged either way; 0 spares a NATS cluster one replicated
	// consumer per gateway (docs/high-availability.md).
	AckQoS *int `yaml:"ack_qos"`
	// ReplayRate caps readings/s while catching up after an outage (0: none).
	ReplayRate float64 `yaml:"replay_rate"`
	// BackoffBase and BackoffMax bound reconnection waits.
	BackoffBase yamlconf.Duration `yaml:"backoff_base"`
	BackoffMax  yamlconf.Duration `yaml:"backoff_max"`
	// StatusInterval is how often the gateway republishes its status with
	// its health (buffer depth, devices up and bad) for the fleet view
	// (zero: the uplink's default, 60s; at least 1s).
	StatusInterval yamlconf.Duration `yaml:"status_interval"`

	// password is Password or PasswordFile's content.
	password string
}

// TLSFiles are PEM files for the uplink's TLS; relative paths are taken
// from the config file's directory.
type TLSFiles struct {
	// CA verifies the broker (empty: system roots).
	CA string `yaml:"ca"`
	// Cert and Key are the gateway's client certificate (mutual TLS);
	// both or neither.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

// Buffer configures the durable buffer (edge/buffer).
type Buffer struct {
	// Dir holds the segments (relative: from the config file's directory;
	// default DefaultBufferDir).
	Dir string `yaml:"dir"`
	// MaxBytes caps the disk used ("2GiB"; 0: no cap).
	MaxBytes Size `yaml:"max_bytes"`
	// MaxAge drops unacknowledged readings older than this ("72h"; 0: none).
	MaxAge yamlconf.Duration `yaml:"max_age"`
	// SegmentBytes is the segment file size (default: the buffer's).
	SegmentBytes Size `yaml:"segment_bytes"`
	// SyncInterval is the group commit period (default 100ms).
	SyncInterval yamlconf.Duration `yaml:"sync_interval"`
}

// HTTP configures the local status API.
type HTTP struct {
	// Listen is host:port (default DefaultListen).
	Listen string `yaml:"listen"`
}

// Device is one installed device.
type Device struct {
	// Name is unique per gateway; it names the device's readings.
	Name string `yaml:"name"`
	// Profile is a file name in the profiles directory, without ".yaml".
	Profile string `yaml:"profile"`
	// Address is where the device is (see source.Device.Address).
	Address string `yaml:"address"`
	// Unit is the Modbus unit ID (Modbus devices only).
	Unit int `yaml:"unit"`
	// ID is the device identity inside MQTT payloads (the DevEUI for
	// LoRaWAN; MQTT devices only).
	ID string `yaml:"id"`
	// Interval is the poll interval (Modbus, request/response serial) or
	// the expected message interval (free-running serial, MQTT).
	Interval yamlconf.Duration `yaml:"interval"`
	// SlowInterval is the poll interval of "slow" points (default 10x).
	SlowInterval yamlconf.Duration `yaml:"slow_interval"`
	// Timeout bounds one request (default 1s).
	Timeout yamlconf.Duration `yaml:"timeout"`
	// Location is where the device is installed (WGS84).
	Location *Location `yaml:"location"`
	// Entity is the device's entity ID in the digital twin (optional).
	Entity string `yaml:"entity"`
	// Area is the district or zone the device serves (optional).
	Area string `yaml:"area"`
	// SecurityCodeFile or SecurityCodeEnv holds the security code an RSMP
	// site asks with its commands (see rsmp.go); never inline.
	SecurityCodeFile string `yaml:"security_code_file"`
	SecurityCodeEnv  string `yaml:"security_code_env"`

	// securityCode is the code read from SecurityCodeFile or
	// SecurityCodeEnv.
	securityCode string

	// profile is the loaded profile (nil when it did not load).
	profile *profile.Profile
	// ok: the device passed every check of this package.
	ok bool
}

// Location is a WGS84 position in degrees.
type Location struct {
	Lon float64 `yaml:"lon"`
	Lat float64 `yaml:"lat"`
}

// Kind is the transport of the device's profile (valid after Load).
func (d *Device) Kind() profile.Kind {
	if d.profile == nil {
		return ""
	}
	return d.profile.Kind
}

// LoadedProfile is the device's profile as loaded (nil when it did not
// load).
func (d *Device) LoadedProfile() *profile.Profile { return d.profile }

// Category is what the device measures, from its profile ("" when the
// profile did not load).
func (d *Device) Category() wire.Category {
	if d.profile == nil {
		return ""
	}
	return d.profile.Category
}

// PollInterval is the device's interval with the default applied: a
// Modbus or request/response serial device without one is polled every
// DefaultInterval; a free-running serial or MQTT device without one has
// no expected interval (0).
func (d *Device) PollInterval() time.Duration {
	if iv := d.Interval.D(); iv != 0 || d.profile == nil {
		return iv
	}
	if d.profile.Kind == profile.KindModbus ||
		(d.profile.Kind == profile.KindSerial && d.profile.Serial.Mode == profile.ModeRequestResponse) {
		return DefaultInterval
	}
	return 0
}

// Secret is the uplink password, read from PasswordFile or PasswordEnv
// if given.
func (u *Uplink) Secret() string { return u.password }

// ForReload is u as a reload compares it: a password read from
// PasswordFile is left out, since the uplink reads that file again at
// every connection (a rotated password needs no restart).
func (u Uplink) ForReload() Uplink {
	if u.PasswordFile != "" {
		u.password = ""
	}
	return u
}
