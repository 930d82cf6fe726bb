package mqtt

import (
	"errors"
	"strconv"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// Errors for payloads that cannot be mapped at all. They arrive wrapped in a
// *PayloadError; test with errors.Is.
var (
	// ErrNotJSON: the payload is not a JSON object.
	ErrNotJSON = errors.New("payload is not a JSON object")
	// ErrNoDeviceID: the profile names a device_id path and the payload
	// has no string or number there, so the message cannot be attributed.
	ErrNoDeviceID = errors.New("payload has no device ID")
)

// PayloadError is a message that could not be mapped: it names the topic,
// what was expected and what was wrong.
type PayloadError struct {
	Topic  string
	Detail string // e.g. `expected a string at "deviceInfo.devEui"`
	Err    error  // ErrNotJSON or ErrNoDeviceID
}

// Error implements error.
func (e *PayloadError) Error() string {
	s := "mqtt message on " + strconv.Quote(e.Topic) + ": " + e.Err.Error()
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Unwrap returns the sentinel.
func (e *PayloadError) Unwrap() error { return e.Err }

// TimeIssue says why a mapped message is not stamped with a trustworthy
// time from its payload.
type TimeIssue string

// Time issues. Absent and unparsable times fall back to the receipt time;
// skewed times are kept as the payload says (see SkewLimit).
const (
	TimeOK         TimeIssue = ""
	TimeAbsent     TimeIssue = "absent"
	TimeUnparsable TimeIssue = "unparsable"
	TimeSkewed     TimeIssue = "skewed"
)

// SkewLimit is how far a payload's time may lie from the receipt time
// before the message is flagged TimeSkewed. The time is still kept: a
// device replaying stored data or a gateway with a wrong clock is for the
// operator to see, not for the edge to paper over.
const SkewLimit = 24 * time.Hour

// Mapped is one message mapped by its profile.
type Mapped struct {
	// DeviceID is the identity found at the device_id path ("" when the
	// profile has none).
	DeviceID string
	// Time stamps every reading: the payload's time, or the receipt time.
	Time time.Time
	// TimeIssue says whether Time came from the payload.
	TimeIssue TimeIssue
	// Readings has one reading per field present in the payload, in
	// profile order. Device is left empty for the caller to fill.
	Readings []wire.Reading
	// Missing names the fields absent from the payload; they produce no
	// reading (codecs leave out what did not change or was not measured).
	Missing []string
	// Empty is true for an uplink without application data (a MAC-only
	// or empty LoRaWAN frame): nothing to decode, no readings.
	Empty bool
}

// dataPath is where a format keeps the raw application payload, to tell an
// empty uplink (nothing to decode) from a codec that failed.
func dataPath(format string) string {
	switch format {
	case profile.FormatChirpStackV4:
		return "data"
	case profile.FormatTTSV3:
		return "uplink_message.frm_payload"
	}
	return ""
}

// Map maps one MQTT message by the profile's mapping. It is pure: it only
// reads its arguments, and it never panics on any payload.
//
// An error means the whole message is unusable (not a JSON object, no
// device ID); it is a *PayloadError. Otherwise problems are per field:
//   - a field absent from the payload is skipped and listed in Missing;
//   - null, a wrong type, an int with a fraction, a number out of range for
//     its type: a bad_decode reading whose Reason names the path;
//   - a value outside the field's Range after scaling: bad_range;
//   - the decoded object itself absent (e.g. ChirpStack's "object" when the
//     codec failed or is not configured) while the uplink carried data:
//     bad_decode for every field. Without data the uplink is Empty.
func Map(p *profile.MQTT, topic string, payload []byte, received time.Time) (Mapped, error) {
	if err := checkObject(topic, payload); err != nil {
		return Mapped{}, err
	}
	return mapValid(p, topic, payload, received)
}

// checkObject reports whether payload is a JSON object.
func checkObject(topic string, payload []byte) error {
	if !gjson.ValidBytes(payload) {
		return &PayloadError{Topic: topic, Err: ErrNotJSON, Detail: "invalid JSON"}
	}
	if r := gjson.ParseBytes(payload); !r.IsObject() {
		return &PayloadError{Topic: topic, Err: ErrNotJSON, Detail: "found " + found(r)}
	}
	return nil
}

// mapValid is Map for a payload already known to be a JSON object.
func mapValid(p *profile.MQTT, topic string, payload []byte, received time.Time) (Mapped, error) {
	_, idPath, timePath, root := p.Defaults()
	var m Mapped
	if idPath != "" {
		id, ok := deviceID(p, payload)
		if !ok {
			return Mapped{}, &PayloadError{Topic: topic, Err: ErrNoDeviceID, Detail: "expected a string or number at " + strconv.Quote(idPath)}
		}
		m.DeviceID = id
	}
	m.Time, m.TimeIssue = payloadTime(payload, timePath, received)

	var base gjson.Result
	if root != "" {
		base = gjson.GetBytes(payload, root)
		if !base.Exists() || base.Type == gjson.Null {
			if dp := dataPath(p.Format); dp != "" && gjson.GetBytes(payload, dp).String() == "" {
				m.Empty = true
				return m, nil
			}
			return allBad(p, m, root+": absent, so there is no decoded payload (is the network server's payload codec configured and working?)"), nil
		}
		if !base.IsObject() {
			return allBad(p, m, root+": expected an object, got "+found(base)), nil
		}
	}
	m.Readings = make([]wire.Reading, 0, len(p.Fields))
	for i := range p.Fields {
		f := &p.Fields[i]
		var r gjson.Result
		if root != "" {
			r = base.Get(f.Path)
		} else {
			r = gjson.GetBytes(payload, f.Path)
		}
		if !r.Exists() {
			m.Missing = append(m.Missing, f.Name)
			continue
		}
		path := f.Path
		if root != "" {
			path = root + "." + f.Path
		}
		v, q, why := convert(f, path, r)
		m.Readings = append(m.Readings, wire.Reading{
			Point: f.Name, Value: v, Unit: f.Unit, Time: m.Time, Quality: q, Reason: why,
		})
	}
	return m, nil
}

// allBad gives every field of p a bad_decode reading with reason.
func allBad(p *profile.MQTT, m Mapped, reason string) Mapped {
	m.Readings = make([]wire.Reading, 0, len(p.Fields))
	for i := range p.Fields {
		f := &p.Fields[i]
		m.Readings = append(m.Readings, wire.Reading{
			Point: f.Name, Unit: f.Unit, Time: m.Time, Quality: wire.QualityBadDecode, Reason: reason,
		})
	}
	return m
}

// DeviceID returns the device identity in payload by the profile's
// device_id path; ok is false when the profile has no such path or the
// payload has no non-empty string or number there.
//
// For tts_v3 with the preset path, end_device_ids.device_id is tried when
// end_device_ids.dev_eui is absent: The Things Stack omits the DevEUI for
// some ABP devices, and its device ID is then the only identity. The site
// config's device ID must then be the TTS device ID.
func DeviceID(p *profile.MQTT, payload []byte) (id string, ok bool) {
	return deviceID(p, payload)
}

func deviceID(p *profile.MQTT, payload []byte) (string, bool) {
	_, idPath, _, _ := p.Defaults()
	if idPath == "" {
		return "", false
	}
	if id, ok := idAt(payload, idPath); ok {
		return id, true
	}
	if p.Format == profile.FormatTTSV3 && p.DeviceID == "" {
		return idAt(payload, "end_device_ids.device_id")
	}
	return "", false
}

func idAt(payload []byte, path string) (string, bool) {
	r := gjson.GetBytes(payload, path)
	switch r.Type {
	case gjson.String:
		return r.Str, r.Str != ""
	case gjson.Number:
		return r.Raw, true
	}
	return "", false
}

// payloadTime reads the acquisition time at path: an RFC 3339 string, or a
// number of Unix seconds (milliseconds when above 1e11, i.e. beyond the
// year 5138 in seconds). No path means the profile relies on the receipt
// time, which is not an issue.
func payloadTime(payload []byte, path string, received time.Time) (time.Time, TimeIssue) {
	if path == "" {
		return received, TimeOK
	}
	r := gjson.GetBytes(payload, path)
	var t time.Time
	switch r.Type {
	case gjson.String:
		var err error
		if t, err = time.Parse(time.RFC3339Nano, r.Str); err != nil {
			return received, TimeUnparsable
		}
	case gjson.Number:
		f := r.Float()
		if f > 1e11 {
			f /= 1000
		}
		if f < 0 || f > 1e11 {
			return received, TimeUnparsable
		}
		sec := int64(f)
		t = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	case gjson.Null:
		return received, TimeAbsent
	default:
		if !r.Exists() {
			return received, TimeAbsent
		}
		return received, TimeUnparsable
	}
	if d := t.Sub(received); d > SkewLimit || d < -SkewLimit {
		return t, TimeSkewed
	}
	return t, TimeOK
}
