package config

import (
	"path/filepath"
	"time"

	"github.com/ponte-city/ponte/internal/yamlconf"
)

// Commands configures operators' commands to devices (issue 16; package
// ingest/command). They are on when the twin has operator tokens, unless
// enabled: false.
//
//	commands:
//	  enabled: true
//	  expiry: 5m                 # a command's default lifetime
//	  max_expiry: 1h             # the longest a request may ask (expires_in)
//	  grace: 30s                 # after the expiry, wait this long for a report before marking it expired
//	  resend: 15s                # publish a queued command without a report again this often
//	  device_rate: {burst: 3, refill: 10s}    # per device: 3 at once, one more every 10 s
//	  operator_rate: {burst: 20, refill: 1s}  # per operator (token)
//	  max_open: 1000             # commands not ended, at most
//	  max_open_per_operator: 50  # commands not ended one operator (token) issued, at most
//	  final_wait: 24h            # a received or sent command waits this long after its expiry for the gateway's final report, then fails
//	  keep_ended: 168h           # ended commands stay in memory (API) this long; the audit log keeps them
//	  report_rate: {burst: 1000, refill: 10ms}  # per gateway: reports past this are refused and counted
//	  audit_dir: /var/lib/ponte-ingest/state/commands   # default state_dir/commands
//	  audit_max_bytes: 16777216  # rotate the audit log past this size
//	  audit_retention_days: 400  # keep rotated audit files this long
//	  audit_continue_broken: false  # start despite a broken hash chain (counted, logged)
type Commands struct {
	Enabled             *bool             `yaml:"enabled"`
	Expiry              yamlconf.Duration `yaml:"expiry"`
	MaxExpiry           yamlconf.Duration `yaml:"max_expiry"`
	Grace               yamlconf.Duration `yaml:"grace"`
	Resend              yamlconf.Duration `yaml:"resend"`
	DeviceRate          CommandRate       `yaml:"device_rate"`
	OperatorRate        CommandRate       `yaml:"operator_rate"`
	MaxOpen             int               `yaml:"max_open"`
	MaxOpenPerOperator  int               `yaml:"max_open_per_operator"`
	FinalWait           yamlconf.Duration `yaml:"final_wait"`
	KeepEnded           yamlconf.Duration `yaml:"keep_ended"`
	ReportRate          CommandRate       `yaml:"report_rate"`
	AuditDir            string            `yaml:"audit_dir"`
	AuditMaxBytes       int64             `yaml:"audit_max_bytes"`
	AuditRetentionDays  int               `yaml:"audit_retention_days"`
	AuditContinueBroken bool              `yaml:"audit_continue_broken"`
}

// CommandRate is a token bucket: Burst commands at once, one more every
// Refill (0: the package's defaults).
type CommandRate struct {
	Burst  int               `yaml:"burst"`
	Refill yamlconf.Duration `yaml:"refill"`
}

// Defaults of the commands section the config fills in.
const (
	DefaultCommandExpiry    = 5 * time.Minute
	DefaultCommandMaxExpiry = time.Hour
)

// CommandsOn returns the commands section with its defaults, and whether
// commands are on (the twin has operator tokens, and enabled is not
// false).
func (c *Config) CommandsOn() (Commands, bool) {
	var s Commands
	if c.Commands != nil {
		s = *c.Commands
	}
	on := c.Twin != nil && len(c.Twin.Tokens) > 0 && (s.Enabled == nil || *s.Enabled)
	if s.Expiry == 0 {
		s.Expiry = yamlconf.Duration(DefaultCommandExpiry)
	}
	if s.MaxExpiry == 0 {
		s.MaxExpiry = yamlconf.Duration(DefaultCommandMaxExpiry)
	}
	if s.AuditDir == "" {
		s.AuditDir = filepath.Join(c.StateDir, "commands")
	}
	return s, on
}

func (c *Config) validateCommands(bad func(path, format string, args ...any)) {
	if c.Commands == nil {
		return
	}
	s := *c.Commands
	if s.Enabled != nil && *s.Enabled && (c.Twin == nil || len(c.Twin.Tokens) == 0) {
		bad("commands.enabled", "commands need operators: give twin.tokens")
	}
	for _, d := range []struct {
		path string
		v    yamlconf.Duration
	}{{"commands.expiry", s.Expiry}, {"commands.max_expiry", s.MaxExpiry}, {"commands.grace", s.Grace}, {"commands.resend", s.Resend},
		{"commands.device_rate.refill", s.DeviceRate.Refill}, {"commands.operator_rate.refill", s.OperatorRate.Refill},
		{"commands.final_wait", s.FinalWait}, {"commands.keep_ended", s.KeepEnded}, {"commands.report_rate.refill", s.ReportRate.Refill}} {
		if d.v < 0 {
			bad(d.path, "%s (expected a positive duration, e.g. 5m)", d.v.D())
		}
	}
	exp, maxExp := s.Expiry.D(), s.MaxExpiry.D()
	if exp == 0 {
		exp = DefaultCommandExpiry
	}
	if maxExp == 0 {
		maxExp = DefaultCommandMaxExpiry
	}
	if exp > maxExp {
		bad("commands.expiry", "%s is longer than commands.max_expiry %s", exp, maxExp)
	}
	for _, n := range []struct {
		path string
		v    int64
	}{{"commands.device_rate.burst", int64(s.DeviceRate.Burst)}, {"commands.operator_rate.burst", int64(s.OperatorRate.Burst)},
		{"commands.max_open", int64(s.MaxOpen)}, {"commands.max_open_per_operator", int64(s.MaxOpenPerOperator)},
		{"commands.report_rate.burst", int64(s.ReportRate.Burst)}, {"commands.audit_max_bytes", s.AuditMaxBytes}, {"commands.audit_retention_days", int64(s.AuditRetentionDays)}} {
		if n.v < 0 {
			bad(n.path, "%d (expected a positive number; 0 for the default)", n.v)
		}
	}
}
