package command

import (
	"time"

	"github.com/ponte-city/ponte/wire"
)

// State is where a command stands.
type State string

// A command's states. Awaiting approval, queued, received and sent are
// open; the others end it.
const (
	AwaitingApproval State = "awaiting_approval"
	Queued           State = "queued"
	Received         State = "received"
	Sent             State = "sent"
	Applied          State = "applied"
	Refused          State = "refused"
	Failed           State = "failed"
	Expired          State = "expired"
	Rejected         State = "rejected"
)

// Open reports whether s has not ended the command.
func (s State) Open() bool {
	return s == AwaitingApproval || s == Queued || s == Received || s == Sent
}

// Audit events (Entry.Event): the operators' and ingest's steps, and
// each of the gateway's statuses (wire.CommandStatus).
const (
	EventIssued    = "issued"
	EventApproved  = "approved"
	EventRejected  = "rejected"
	EventPublished = "published"
	EventResent    = "resent"
	EventExpired   = "expired"
)

// Who made a step (Entry.By).
const (
	ByOperator = "operator"
	ByIngest   = "ingest"
	ByGateway  = "gateway"
)

// Operator is who issued, approved or rejected a command: the name the
// request gave and the ID of the token it came with (api.OperatorID).
type Operator struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// Approval is a second operator's approval.
type Approval struct {
	Operator Operator  `json:"operator"`
	At       time.Time `json:"at"`
}

// Step is one step of a command, as the API shows it.
type Step struct {
	Status   string    `json:"status"`
	At       time.Time `json:"at"`
	Detail   string    `json:"detail,omitempty"`
	Operator *Operator `json:"operator,omitempty"`
}

// Command is a command as it stands (the API's Command).
type Command struct {
	ID      string  `json:"id"`
	Entity  string  `json:"entity"`
	Gateway string  `json:"gateway"`
	Device  string  `json:"device"`
	Point   string  `json:"point"`
	Value   float64 `json:"value"`
	// Text is a text command's message (Value is then absent from the
	// JSON: MarshalJSON).
	Text     string    `json:"text,omitempty"`
	Unit     string    `json:"unit,omitempty"`
	Reason   string    `json:"reason"`
	Operator Operator  `json:"operator"`
	State    State     `json:"state"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	Approval *Approval `json:"approval"`
	Readback *float64  `json:"readback"`
	// ReadbackText is the text the gateway read back (text commands).
	ReadbackText *string `json:"readback_text,omitempty"`
	Detail       string  `json:"detail,omitempty"`
	Steps        []Step  `json:"steps"`

	// reported: the gateway sent a report of it (no more resends).
	reported bool
	// lastSent is when it was last published or tried (zero: not yet);
	// published says the broker took it once.
	lastSent  time.Time
	published bool
	// attempted: a publish of it was started (the broker may have it, so
	// a report may come) though no PUBACK was seen yet.
	attempted bool
	// endedByIngest: ingest ended it for want of a report (expired) or of
	// a final report (failed); a final report of the gateway arriving
	// later still wins. lateRecorded: a report after that was recorded
	// (one step at most).
	endedByIngest, lateRecorded bool
}

// wire returns the command as its gateway receives it.
func (c *Command) wire() *wire.Command {
	return &wire.Command{ID: c.ID, Device: c.Device, Point: c.Point, Value: c.Value, Text: c.Text, Issued: c.Created, Expires: c.Expires}
}

// clone returns a copy the caller may keep.
func (c *Command) clone() Command {
	out := *c
	out.Steps = append([]Step(nil), c.Steps...)
	if c.Approval != nil {
		a := *c.Approval
		out.Approval = &a
	}
	if c.Readback != nil {
		v := *c.Readback
		out.Readback = &v
	}
	if c.ReadbackText != nil {
		v := *c.ReadbackText
		out.ReadbackText = &v
	}
	return out
}

// Entry is one line of the audit log. The fields beyond the contract's
// (state, by, entity, unit, expires) let a restart rebuild every command
// from the log alone: State is the command's state after the event, By
// who made the step (ByOperator, ByIngest, ByGateway).
type Entry struct {
	Seq      uint64    `json:"seq"`
	At       time.Time `json:"at"`
	Command  string    `json:"command"`
	Event    string    `json:"event"`
	State    State     `json:"state,omitempty"`
	By       string    `json:"by,omitempty"`
	Operator *Operator `json:"operator,omitempty"`
	Entity   string    `json:"entity,omitempty"`
	Gateway  string    `json:"gateway,omitempty"`
	Device   string    `json:"device,omitempty"`
	Point    string    `json:"point,omitempty"`
	Value    *float64  `json:"value,omitempty"`
	// Text is a text command's message; ReadbackText the text a gateway
	// read back.
	Text         *string    `json:"text,omitempty"`
	ReadbackText *string    `json:"readback_text,omitempty"`
	Unit         string     `json:"unit,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	Readback     *float64   `json:"readback,omitempty"`
	Detail       string     `json:"detail,omitempty"`
	Expires      *time.Time `json:"expires,omitempty"`
	Prev         string     `json:"prev"`
}
