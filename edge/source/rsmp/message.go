package rsmp

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Message types (RSMP core 3.2.2, "Basic structure", table "Variable
// content"). Parsing is case sensitive, as the spec requires.
const (
	TypeAggregatedStatus        = "AggregatedStatus"
	TypeAggregatedStatusRequest = "AggregatedStatusRequest"
	TypeAlarm                   = "Alarm"
	TypeCommandRequest          = "CommandRequest"
	TypeCommandResponse         = "CommandResponse"
	TypeMessageAck              = "MessageAck"
	TypeMessageNotAck           = "MessageNotAck"
	TypeStatusRequest           = "StatusRequest"
	TypeStatusResponse          = "StatusResponse"
	TypeStatusSubscribe         = "StatusSubscribe"
	TypeStatusUnsubscribe       = "StatusUnsubscribe"
	TypeStatusUpdate            = "StatusUpdate"
	TypeVersion                 = "Version"
	TypeWatchdog                = "Watchdog"
)

// knownTypes are the message types of RSMP core 3.2.2.
var knownTypes = map[string]bool{
	TypeAggregatedStatus: true, TypeAggregatedStatusRequest: true, TypeAlarm: true,
	TypeCommandRequest: true, TypeCommandResponse: true, TypeMessageAck: true,
	TypeMessageNotAck: true, TypeStatusRequest: true, TypeStatusResponse: true,
	TypeStatusSubscribe: true, TypeStatusUnsubscribe: true, TypeStatusUpdate: true,
	TypeVersion: true, TypeWatchdog: true,
}

// Quality and age values of status and command return values.
const (
	Recent    = "recent"
	Old       = "old"
	Undefined = "undefined"
	Unknown   = "unknown"
)

// Message is a decoded RSMP message: the fields this supervisor uses.
// Fields a message type does not carry are zero. Unknown fields are
// ignored (the Version message "should be implemented in such a way that
// it should be possible to add additional tags").
type Message struct {
	Type string
	// MID is the message's own ID (every type but the acks); OMID the ID
	// an ack refers to; Rea a MessageNotAck's reason.
	MID, OMID, Rea string
	// CID is the component ID (statuses, commands, aggregated status).
	CID string
	// Version: the RSMP versions offered, the site IDs, the SXL revision.
	Versions []string
	SiteIDs  []string
	SXL      string
	// Values are a StatusResponse's or StatusUpdate's sS, or a
	// CommandResponse's rvs.
	Values []Value
}

// Value is one return value: status (sCI, n, s, q) or command (cCI, n, v,
// age); Code is sCI or cCI, Quality q or age. Null is true when the value
// was null (a component or value unknown to the site).
type Value struct {
	Code, Name, Quality string
	Text                string
	Null                bool
	// List is set when the value was a JSON array (some statuses, e.g.
	// S0005 statusByIntersection); Text is then empty.
	List bool
}

// DecodeError is a message that could not be decoded; MID is its mId
// when it could be found, so that the MessageNotAck can refer to it.
type DecodeError struct {
	MID    string
	Reason string
}

func (e *DecodeError) Error() string { return "rsmp: " + e.Reason }

// midRe finds a message ID in a message that is not valid JSON, so that
// the MessageNotAck can name it.
var midRe = regexp.MustCompile(`"mId"\s*:\s*"([0-9A-Fa-f-]{1,64})"`)

// Decode decodes one message (without its form feed). A message that is
// not a JSON object with mType "rSMsg" and a known type, or whose fields
// have the wrong JSON types, is a *DecodeError.
func Decode(data []byte) (*Message, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		de := &DecodeError{Reason: "invalid JSON: " + err.Error()}
		if m := midRe.FindSubmatch(data); m != nil {
			de.MID = string(m[1])
		}
		return nil, de
	}
	d := decoder{top: top}
	m := &Message{}
	m.MID = d.str("mId", false)
	mType := d.str("mType", true)
	m.Type = d.str("type", true)
	switch {
	case d.err != nil:
	case mType != "rSMsg":
		d.fail("mType %q: expected \"rSMsg\"", mType)
	case !knownTypes[m.Type]:
		d.fail("unknown message type %q", m.Type)
	}
	if d.err == nil {
		m.decodeBody(&d)
	}
	if d.err != nil {
		d.err.MID = m.MID
		return nil, d.err
	}
	return m, nil
}

func (m *Message) decodeBody(d *decoder) {
	switch m.Type {
	case TypeMessageAck, TypeMessageNotAck:
		m.OMID = d.str("oMId", true)
		m.Rea = d.str("rea", false)
		return
	}
	if m.MID == "" {
		d.fail("%s without mId", m.Type)
		return
	}
	m.CID = d.str("cId", false)
	switch m.Type {
	case TypeVersion:
		for _, o := range d.objects("RSMP", true) {
			m.Versions = append(m.Versions, d.sub(o, "RSMP", "vers"))
		}
		for _, o := range d.objects("siteId", true) {
			m.SiteIDs = append(m.SiteIDs, d.sub(o, "siteId", "sId"))
		}
		m.SXL = d.str("SXL", true)
	case TypeStatusResponse, TypeStatusUpdate:
		for _, o := range d.objects("sS", true) {
			m.Values = append(m.Values, d.value(o, "sS", "sCI", "s", "q"))
		}
	case TypeCommandResponse:
		for _, o := range d.objects("rvs", true) {
			m.Values = append(m.Values, d.value(o, "rvs", "cCI", "v", "age"))
		}
	}
}

// decoder reads a message's fields by their exact names.
type decoder struct {
	top map[string]json.RawMessage
	err *DecodeError
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = &DecodeError{Reason: fmt.Sprintf(format, args...)}
	}
}

func (d *decoder) str(name string, required bool) string {
	return d.field(d.top, "", name, required)
}

func (d *decoder) field(obj map[string]json.RawMessage, in, name string, required bool) string {
	raw, ok := obj[name]
	if !ok || bytes.Equal(raw, []byte("null")) {
		if required {
			d.fail("missing %s%s", in, name)
		}
		return ""
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		d.fail("%s%s: expected a string", in, name)
	}
	return s
}

func (d *decoder) sub(obj map[string]json.RawMessage, in, name string) string {
	return d.field(obj, in+"[].", name, true)
}

func (d *decoder) objects(name string, required bool) []map[string]json.RawMessage {
	raw, ok := d.top[name]
	if !ok {
		if required {
			d.fail("missing %s", name)
		}
		return nil
	}
	var out []map[string]json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		d.fail("%s: expected an array of objects", name)
		return nil
	}
	return out
}

func (d *decoder) value(o map[string]json.RawMessage, in, code, val, quality string) Value {
	v := Value{Code: d.sub(o, in, code), Name: d.sub(o, in, "n"), Quality: d.sub(o, in, quality)}
	raw, ok := o[val]
	switch {
	case !ok:
		d.fail("missing %s[].%s", in, val)
	case bytes.Equal(raw, []byte("null")):
		v.Null = true
	case len(raw) > 0 && raw[0] == '[':
		v.List = true
	default:
		if err := json.Unmarshal(raw, &v.Text); err != nil {
			d.fail("%s[].%s: expected a string, an array or null", in, val)
		}
	}
	return v
}

// newMID returns a new message ID: a version 4 (random) UUID, the only
// kind RSMP allows (core 3.2.2, "Basic structure").
func newMID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// timestamp formats t as RSMP timestamps are written: UTC, milliseconds,
// "2015-06-08T12:01:39.654Z".
func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// The messages this supervisor sends, each with its fields in the order
// of the spec's examples (RSMP core 3.2.2, JSon codes 13, 20, 22-25).
type (
	ackMsg struct {
		MType string `json:"mType"`
		Type  string `json:"type"`
		OMID  string `json:"oMId"`
		Rea   string `json:"rea,omitempty"`
	}
	versionMsg struct {
		MType  string      `json:"mType"`
		Type   string      `json:"type"`
		MID    string      `json:"mId"`
		RSMP   []versEntry `json:"RSMP"`
		SiteID []siteEntry `json:"siteId"`
		SXL    string      `json:"SXL"`
	}
	versEntry struct {
		Vers string `json:"vers"`
	}
	siteEntry struct {
		SID string `json:"sId"`
	}
	watchdogMsg struct {
		MType string `json:"mType"`
		Type  string `json:"type"`
		MID   string `json:"mId"`
		WTs   string `json:"wTs"`
	}
	statusRequestMsg struct {
		MType  string      `json:"mType"`
		Type   string      `json:"type"`
		MID    string      `json:"mId"`
		NtsOID string      `json:"ntsOId"`
		XNID   string      `json:"xNId"`
		CID    string      `json:"cId"`
		SS     []StatusRef `json:"sS"`
	}
	commandRequestMsg struct {
		MType  string       `json:"mType"`
		Type   string       `json:"type"`
		MID    string       `json:"mId"`
		NtsOID string       `json:"ntsOId"`
		XNID   string       `json:"xNId"`
		CID    string       `json:"cId"`
		Arg    []CommandArg `json:"arg"`
	}
)

// StatusRef is one status asked for in a StatusRequest.
type StatusRef struct {
	SCI string `json:"sCI"`
	N   string `json:"n"`
}

// CommandArg is one argument of a CommandRequest; V is always a string
// (RSMP sends values as JSON strings).
type CommandArg struct {
	CCI string `json:"cCI"`
	N   string `json:"n"`
	CO  string `json:"cO"`
	V   string `json:"v"`
}

// encode marshals m and appends the form feed.
func encode(m any) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // only strings and slices of them: cannot fail
	}
	return append(b, FormFeed)
}

func encodeAck(oMID string) []byte {
	return encode(ackMsg{MType: "rSMsg", Type: TypeMessageAck, OMID: oMID})
}

func encodeNotAck(oMID, rea string) []byte {
	return encode(ackMsg{MType: "rSMsg", Type: TypeMessageNotAck, OMID: oMID, Rea: rea})
}

func encodeVersion(mid string, versions []string, siteID, sxl string) []byte {
	m := versionMsg{MType: "rSMsg", Type: TypeVersion, MID: mid, SiteID: []siteEntry{{siteID}}, SXL: sxl}
	for _, v := range versions {
		m.RSMP = append(m.RSMP, versEntry{v})
	}
	return encode(m)
}

func encodeWatchdog(mid string, now time.Time) []byte {
	return encode(watchdogMsg{MType: "rSMsg", Type: TypeWatchdog, MID: mid, WTs: timestamp(now)})
}

// encodeStatusRequest: ntsOId and xNId are sent empty, as the spec's
// examples for a TLC do (xNId "") and as no NTS object is configured.
func encodeStatusRequest(mid, cid string, refs []StatusRef) []byte {
	return encode(statusRequestMsg{MType: "rSMsg", Type: TypeStatusRequest, MID: mid, CID: cid, SS: refs})
}

func encodeCommandRequest(mid, cid string, args []CommandArg) []byte {
	return encode(commandRequestMsg{MType: "rSMsg", Type: TypeCommandRequest, MID: mid, CID: cid, Arg: args})
}

// errNotAck is a MessageNotAck received for a message this side sent.
type errNotAck struct{ rea string }

func (e *errNotAck) Error() string {
	if e.rea == "" {
		return "the site refused the message (MessageNotAck without a reason)"
	}
	return "the site refused the message: " + e.rea
}

// IsNotAck reports whether err is a site's MessageNotAck, and its reason.
func IsNotAck(err error) (rea string, ok bool) {
	var n *errNotAck
	if errors.As(err, &n) {
		return n.rea, true
	}
	return "", false
}
