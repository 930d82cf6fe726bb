package profile

import (
	"regexp"

	"github.com/ponte-city/ponte/internal/yamlconf"
)

// Serial describes a device that talks text lines over RS-232/RS-485.
type Serial struct {
	// Line settings the device defaults to; the site config may override them.
	Baud     int    `yaml:"baud"`      // default 9600
	DataBits int    `yaml:"data_bits"` // default 8
	Parity   string `yaml:"parity"`    // N, E or O; default N
	StopBits int    `yaml:"stop_bits"` // 1 or 2; default 1

	Framing Framing `yaml:"framing"`
	// Mode is free_running (the device talks on its own) or
	// request_response (Ponte sends Request.Command each poll).
	Mode    string   `yaml:"mode"`
	Request *Request `yaml:"request,omitempty"`
	// Checksum verifies each frame before parsing; frames that fail are
	// counted and dropped.
	Checksum Checksum `yaml:"checksum"`
	// Records are the kinds of line the device sends; each frame is parsed
	// by the first record whose Match matches it.
	Records []Record `yaml:"records"`
	// Requests are the settings a command may write with a request line
	// (see SerialRequest).
	Requests []SerialRequest `yaml:"requests"`
}

// Serial modes.
const (
	ModeFreeRunning     = "free_running"
	ModeRequestResponse = "request_response"
)

// Framing says where a frame starts and ends in the byte stream. Either
// Terminator alone (lines), or Start and End.
type Framing struct {
	// Start, if set, is the byte sequence that opens a frame; bytes before
	// it are noise and are skipped.
	Start string `yaml:"start"`
	// End closes a frame opened by Start.
	End string `yaml:"end"`
	// Terminator ends a frame that has no start sequence, e.g. "\r\n".
	Terminator string `yaml:"terminator"`
	// MaxLength is the longest frame; a longer one is noise, dropped and
	// counted, and framing resynchronises (default 512).
	MaxLength int `yaml:"max_length"`
}

// Request is the poll of a request/response device.
type Request struct {
	// Command is written to the device each poll (escape sequences such as
	// "\r" are YAML double-quoted string escapes).
	Command string `yaml:"command"`
	// Timeout is how long to wait for the reply (default 1s).
	Timeout yamlconf.Duration `yaml:"timeout"`
}

// Checksum kinds.
const (
	ChecksumNone    = "none"
	ChecksumNMEAXOR = "nmea_xor" // "*HH" after the data: XOR of the bytes between '$' (or start) and '*'
	ChecksumSum8    = "sum8"     // last two hex digits: sum of the preceding bytes mod 256
)

// Checksum says how a frame's integrity is checked.
type Checksum struct {
	Kind string `yaml:"kind"`
}

// Record is one kind of frame and how to pull fields out of it.
type Record struct {
	// Name identifies the record in errors and metrics.
	Name string `yaml:"name"`
	// Match selects frames for this record (regular expression, RE2
	// syntax); empty matches every frame.
	Match string `yaml:"match"`
	// Regex extracts fields by named group (RE2 syntax, (?P<name>...)).
	// A group inside an optional part, (?:,V,(?P<acc>[0-9.]+),M,0)?, is a
	// value the device may be set not to send: a frame without it gives
	// no reading for that field (not a bad one).
	Regex string `yaml:"regex"`
	// Delimiter splits the frame into columns instead of Regex.
	Delimiter string `yaml:"delimiter"`
	// Example is a real frame of this record, as the device sends it
	// (without framing bytes). Load checks that it parses; the simulator
	// produces frames by putting its values into the example's fields.
	Example string `yaml:"example"`
	// Fields are the points this record carries.
	Fields []Field `yaml:"fields"`

	// Compiled forms, set by Load.
	MatchRe *regexp.Regexp `yaml:"-"`
	Re      *regexp.Regexp `yaml:"-"`
}

// Field is one point of a serial record or an MQTT payload.
type Field struct {
	// Name is the point name. In serial records it may use {group}
	// placeholders filled from named groups (e.g. "lane{lane}_count"), for
	// devices that report several lanes or channels in the same format.
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Group is the regex group holding the value (serial, Regex records).
	Group string `yaml:"group"`
	// Column is the 0-based column holding the value (serial, Delimiter records).
	Column *int `yaml:"column"`
	// Path is the gjson path to the value (MQTT), relative to the mapping's
	// Root.
	Path string `yaml:"path"`
	// Type is int, float, bool or string.
	Type    Type `yaml:"type"`
	Scaling `yaml:",inline"`
	Unit    string `yaml:"unit"`
	Range   Range  `yaml:"range"`
	Sim     *Sim   `yaml:"sim,omitempty"`
}
