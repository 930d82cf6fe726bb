package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"time"
	"unicode/utf8"
)

// Commands: how an operator's write reaches a device (issue 16).
//
// Ingest publishes a Command, JSON, QoS 1, not retained, on the gateway's
// command topic ({prefix}/gw/{gateway}/cmd), which the broker lets that
// gateway alone read. The gateway answers with Reports, JSON, QoS 1, on
// its report topic ({prefix}/gw/{gateway}/report), which that gateway
// alone may publish to. A command carries its own expiry: a gateway never
// starts a command after it (by its own clock), whenever the command
// reaches it, so a command held by the broker while the link was down
// is reported expired, not applied. A gateway applies a command ID at
// most once: it records the ID durably before it writes, so a command
// delivered again (QoS 1 redelivery, ingest republishing, a restart)
// is answered with the report it already has, never written twice.
//
// Text commands (a message sign's message): a point whose profile gives
// text rules is written with Text, a numeric point with Value; exactly
// one is meaningful per point, and the JSON carries one: "text" for a
// text command (no "value"), "value" otherwise, as before text existed.
// A command carrying both is refused. The gateway answers a text command
// with ReadbackText, the text it read back from the device, when the
// device can be read back (the profile says so); when it cannot, the
// command is applied on the device's acknowledgement of the write, with
// no ReadbackText and a Detail that says nothing could be read back.
// Text is valid UTF-8 without control characters, at most MaxTextLen
// bytes; whether a device can show it is the profile's business
// (profile.Write.CheckText), checked by ingest and again by the gateway.
//
// JSON rather than the batch's binary framing: commands are a few per
// minute, operators and auditors read them, and both ends already carry
// a JSON decoder. Decoders refuse unknown fields, so a field added later
// needs a new version (V).

// CommandVersion is the version of Command and Report this package speaks.
const CommandVersion = 1

// MaxCommandBytes caps an encoded Command or Report; a larger message is
// refused unread.
const MaxCommandBytes = 4 << 10

// Limits of a command's texts.
const (
	MaxCommandIDLen = 64
	MaxDetailLen    = 256
	// MaxTextLen bounds Command.Text and Report.ReadbackText, in bytes: a
	// sign's message is tens of characters; the bound keeps a command
	// within MaxCommandBytes.
	MaxTextLen = 1024
)

// Command asks a gateway to write Value to a device's point.
type Command struct {
	V int `json:"v"`
	// ID is ingest's identifier of the command, unique across gateways
	// and restarts (letters, digits, '-', '_', at most MaxCommandIDLen).
	ID string `json:"id"`
	// Device and Point name the target as in the gateway's site config
	// and the device's profile.
	Device string `json:"device"`
	Point  string `json:"point"`
	// Value is the value to write, in the point's engineering units
	// (before the profile's scaling is inverted). Zero and absent from
	// the JSON for a text command.
	Value float64 `json:"value"`
	// Text is the text to write to a text point (a message sign's
	// message); empty for a numeric command. A space, not "", blanks a
	// display.
	Text string `json:"text,omitempty"`
	// Issued is when ingest sent the command (the first time; a resend
	// keeps it); Expires is the last instant the gateway may start it.
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
}

// CommandStatus is where a command stands, as a gateway reports it.
type CommandStatus string

// A gateway's statuses. Received and Sent are steps; the others end the
// command.
const (
	// StatusReceived: the gateway accepted the command for execution and
	// recorded its ID.
	StatusReceived CommandStatus = "received"
	// StatusSent: handed to a LoRaWAN network server as a downlink; it is
	// applied when an uplink reads the point back (StatusApplied), or
	// fails at the expiry without one.
	StatusSent CommandStatus = "sent"
	// StatusApplied: written and read back within the profile's tolerance.
	StatusApplied CommandStatus = "applied"
	// StatusRefused: not written; the command does not fit the device's
	// profile (unknown device or point, not writable, out of range) or is
	// malformed. Detail says which.
	StatusRefused CommandStatus = "refused"
	// StatusFailed: the write or the read-back failed, the read-back
	// differs, or the gateway stopped between write and report (the
	// command is then not written again). Detail says which.
	StatusFailed CommandStatus = "failed"
	// StatusExpired: the command reached the gateway after its expiry and
	// was not written.
	StatusExpired CommandStatus = "expired"
)

// Final reports whether s ends a command.
func (s CommandStatus) Final() bool {
	switch s {
	case StatusApplied, StatusRefused, StatusFailed, StatusExpired:
		return true
	}
	return false
}

func (s CommandStatus) valid() bool { return s == StatusReceived || s == StatusSent || s.Final() }

// Report is a gateway's account of one step of a command.
type Report struct {
	V       int           `json:"v"`
	ID      string        `json:"id"`
	Gateway string        `json:"gateway"`
	Status  CommandStatus `json:"status"`
	// Readback is the value read back after the write, in engineering
	// units, when there is one (applied, or failed for a difference).
	Readback *float64 `json:"readback,omitempty"`
	// ReadbackText is the text read back after writing a text point, when
	// the device can be read back; never set with Readback.
	ReadbackText *string `json:"readback_text,omitempty"`
	// Detail says why a command was refused or failed, or what was done
	// (at most MaxDetailLen bytes).
	Detail string `json:"detail,omitempty"`
	// At is the gateway's time of the step.
	At time.Time `json:"at"`
	// Repeat says the gateway had already ended this command and answers
	// a redelivery with the report it kept.
	Repeat bool `json:"repeat,omitempty"`
}

// ValidCommandID reports whether id can be a command ID.
func ValidCommandID(id string) bool {
	if len(id) == 0 || len(id) > MaxCommandIDLen {
		return false
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validPoint reports whether p can be a profile's point name.
func validPoint(p string) bool {
	if len(p) == 0 || len(p) > 64 {
		return false
	}
	for i, c := range []byte(p) {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !(letter || i > 0 && (c >= '0' && c <= '9' || c == '_')) {
			return false
		}
	}
	return true
}

// EncodeCommand checks c and returns its JSON, at CommandVersion. It does
// not change c, which others may be reading.
func EncodeCommand(c *Command) ([]byte, error) {
	v := *c
	v.V = CommandVersion
	if err := v.check(); err != nil {
		return nil, err
	}
	if v.Text != "" && v.Value != 0 {
		return nil, fmt.Errorf("command %s: value and text: expected one of them (text for a text point)", v.ID)
	}
	return json.Marshal(commandJSONOf(&v))
}

// commandJSON is Command as the JSON carries it: Value is absent from a
// text command, so that a decoder tells "both" from "text only".
type commandJSON struct {
	V       int       `json:"v"`
	ID      string    `json:"id"`
	Device  string    `json:"device"`
	Point   string    `json:"point"`
	Value   *float64  `json:"value,omitempty"`
	Text    string    `json:"text,omitempty"`
	Issued  time.Time `json:"issued"`
	Expires time.Time `json:"expires"`
}

func commandJSONOf(c *Command) *commandJSON {
	j := &commandJSON{V: c.V, ID: c.ID, Device: c.Device, Point: c.Point, Text: c.Text, Issued: c.Issued, Expires: c.Expires}
	if c.Text == "" {
		v := c.Value
		j.Value = &v
	}
	return j
}

// DecodeCommand parses and checks a command; the error names the field.
// A command with both value and text is refused; one with neither writes
// the value 0, as before text existed.
func DecodeCommand(data []byte) (*Command, error) {
	var j commandJSON
	if err := decodeStrict(data, &j, "command"); err != nil {
		return nil, err
	}
	c := Command{V: j.V, ID: j.ID, Device: j.Device, Point: j.Point, Text: j.Text, Issued: j.Issued, Expires: j.Expires}
	if j.Value != nil {
		c.Value = *j.Value
	}
	if j.Value != nil && j.Text != "" {
		return nil, fmt.Errorf("command %q: value and text: expected one of them (text for a text point)", clipText(j.ID))
	}
	if c.V != CommandVersion {
		return nil, fmt.Errorf("command: version %d, this gateway reads version %d", c.V, CommandVersion)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Command) check() error {
	switch {
	case !ValidCommandID(c.ID):
		return fmt.Errorf("command: id %q: expected 1 to %d letters, digits, '-' or '_'", clipText(c.ID), MaxCommandIDLen)
	case !ValidGatewayID(c.Device): // device names take the same characters
		return fmt.Errorf("command %s: device %q: expected 1 to 64 letters, digits, '-', '_' or '.'", c.ID, clipText(c.Device))
	case !validPoint(c.Point):
		return fmt.Errorf("command %s: point %q: expected a letter, then up to 63 letters, digits or '_'", c.ID, clipText(c.Point))
	case math.IsNaN(c.Value) || math.IsInf(c.Value, 0):
		return fmt.Errorf("command %s: value: expected a finite number", c.ID)
	case c.Text != "" && checkText(c.Text) != nil:
		return fmt.Errorf("command %s: text: %w", c.ID, checkText(c.Text))
	case c.Issued.IsZero():
		return fmt.Errorf("command %s: issued: expected a time", c.ID)
	case !c.Expires.After(c.Issued):
		return fmt.Errorf("command %s: expires %s: expected after issued %s", c.ID, c.Expires.Format(time.RFC3339), c.Issued.Format(time.RFC3339))
	}
	return nil
}

// EncodeReport checks r and returns its JSON, at CommandVersion. It does
// not change r, which others may be reading (an executor's kept report).
func EncodeReport(r *Report) ([]byte, error) {
	v := *r
	v.V = CommandVersion
	if err := v.check(); err != nil {
		return nil, err
	}
	return json.Marshal(&v)
}

// DecodeReport parses and checks a report; the error names the field.
func DecodeReport(data []byte) (*Report, error) {
	var r Report
	if err := decodeStrict(data, &r, "report"); err != nil {
		return nil, err
	}
	if r.V != CommandVersion {
		return nil, fmt.Errorf("report: version %d, this ingest reads version %d", r.V, CommandVersion)
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return &r, nil
}

func (r *Report) check() error {
	switch {
	case !ValidCommandID(r.ID):
		return fmt.Errorf("report: id %q: expected 1 to %d letters, digits, '-' or '_'", clipText(r.ID), MaxCommandIDLen)
	case !ValidGatewayID(r.Gateway):
		return fmt.Errorf("report %s: gateway %q is not a valid gateway ID", r.ID, clipText(r.Gateway))
	case !r.Status.valid():
		return fmt.Errorf("report %s: status %q: expected received, sent, applied, refused, failed or expired", r.ID, clipText(string(r.Status)))
	case len(r.Detail) > MaxDetailLen:
		return fmt.Errorf("report %s: detail: %d bytes, at most %d", r.ID, len(r.Detail), MaxDetailLen)
	case r.Readback != nil && (math.IsNaN(*r.Readback) || math.IsInf(*r.Readback, 0)):
		return fmt.Errorf("report %s: readback: expected a finite number", r.ID)
	case r.Readback != nil && r.ReadbackText != nil:
		return fmt.Errorf("report %s: readback and readback_text: expected at most one of them", r.ID)
	case r.ReadbackText != nil && checkText(*r.ReadbackText) != nil:
		return fmt.Errorf("report %s: readback_text: %w", r.ID, checkText(*r.ReadbackText))
	case r.At.IsZero():
		return fmt.Errorf("report %s: at: expected a time", r.ID)
	}
	return nil
}

// checkText says why s cannot be a command's text or read-back text: not
// UTF-8, a control character, longer than MaxTextLen bytes.
func checkText(s string) error {
	if len(s) > MaxTextLen {
		return fmt.Errorf("%d bytes, at most %d", len(s), MaxTextLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("expected UTF-8 text")
	}
	for i, r := range s {
		if r < 0x20 || r == 0x7F || r >= 0x80 && r < 0xA0 {
			return fmt.Errorf("control character U+%04X at byte %d: expected printable text", r, i)
		}
	}
	return nil
}

// decodeStrict decodes one JSON object of at most MaxCommandBytes into v,
// refusing unknown fields and trailing data.
func decodeStrict(data []byte, v any, what string) error {
	if len(data) > MaxCommandBytes {
		return fmt.Errorf("%s: %d bytes, at most %d", what, len(data), MaxCommandBytes)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if d.More() {
		return fmt.Errorf("%s: data after the JSON object", what)
	}
	return nil
}

// clipText shortens an outside string quoted in an error.
func clipText(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
