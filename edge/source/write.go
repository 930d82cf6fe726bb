package source

import (
	"context"
	"errors"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
)

// WriteRequest asks a source to write one point of one of its devices
// (an operator's command, issue 16). The command executor (edge/command)
// has already checked the value against the profile's Write rules.
type WriteRequest struct {
	// Device and Point name the target; Value is in engineering units.
	Device string
	Point  string
	Value  float64
	// Text is the text to write to a text point (Rules.IsText), already
	// checked and normalized (profile.Write.CheckText); Value is then 0.
	Text string
	// Rules are the point's write rules (read-back point, tolerance,
	// settle time).
	Rules *profile.Write
	// Expires is the command's expiry: a source whose write completes
	// asynchronously (a LoRaWAN downlink, confirmed by a later uplink)
	// waits for its read-back until then. ctx ends no later. A source that
	// waits for its line checks it again right before it sends the write
	// and returns ErrExpired past it (zero: no expiry).
	Expires time.Time
	// Sent, when the write is handed to something that completes it later
	// (a network server's downlink queue), is called once with what was
	// sent, so that the command reports that step.
	Sent func(detail string)
}

// Writer is a source that can write its devices' writable points.
type Writer interface {
	// WritePoint writes req.Value, reads back req.Rules' read-back point
	// (after the settle time) and returns the value read, in engineering
	// units. It does not judge the read-back (the executor compares it
	// with the written value). An error says the write or the read-back
	// failed; ErrUnknownDevice that the source has no such device;
	// ErrExpired that req.Expires passed before anything was written.
	WritePoint(ctx context.Context, req WriteRequest) (readback float64, err error)
}

// TextWriter is a source that can also write text points (a message
// sign's message, issue 16).
type TextWriter interface {
	// WriteText writes req.Text to a text point and reads it back, as
	// WritePoint does for a number, returning the text read. When the
	// rules say the device cannot be read back (Rules.Text.NoReadback) it
	// returns readable false after the device acknowledged the write.
	// Errors as WritePoint's.
	WriteText(ctx context.Context, req WriteRequest) (readback string, readable bool, err error)
}

// ErrUnknownDevice is returned by WritePoint for a device the source does
// not read.
var ErrUnknownDevice = errors.New("source: no such device")

// ErrExpired is returned by WritePoint when the request's Expires passed
// before the write reached the device (it waited for a busy bus): nothing
// was written, and the command is reported expired.
var ErrExpired = errors.New("source: the command expired before it was written; not written")
