package wire

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Ack is ingest's acknowledgement to a gateway: every reading of the epoch
// up to and including Seq is durably written (InfluxDB accepted it), and the
// gateway may free it. Acks are cumulative, so a lost ack is repaired by
// the next one, and a duplicate or older one is harmless.
//
// Refused is set only in the acknowledgement of a batch that carried
// FlagAckRefused, and only when ingest refused readings of it: the
// gateway's ack decoder of before version 3 refuses unknown fields, and
// would never free its buffer. See the package doc.
type Ack struct {
	Gateway string `json:"gateway"`
	Epoch   uint64 `json:"epoch"`
	Seq     uint64 `json:"seq"`
	// Refused summarises, per device, the readings of the acknowledged
	// batch that ingest refused and dead-lettered (at most
	// MaxRefusedDevices devices). They are acknowledged all the same:
	// the dead letter keeps them, and the gateway frees them.
	Refused []Refused `json:"refused,omitempty"`
	// RefusedOmitted counts the devices with refused readings beyond
	// MaxRefusedDevices.
	RefusedOmitted int `json:"refused_omitted,omitempty"`
}

// MaxRefusedDevices bounds Ack.Refused, so that an acknowledgement stays
// small on a mobile link whatever the batch held.
const MaxRefusedDevices = 64

// MaxRefusedText bounds Refused's Value and Detail.
const MaxRefusedText = 256

// Refused is one device's refused readings in one batch. Last* describe
// the refused reading with the highest sequence number.
type Refused struct {
	Device string `json:"device"`
	// Count is the device's readings in the batch that ingest refused;
	// Accepted those it wrote. Accepted 0 means every reading of the
	// device in the batch was refused.
	Count    int `json:"count"`
	Accepted int `json:"accepted"`
	// Reason is the dead-letter reason, e.g. "time_out_of_range".
	Reason string `json:"reason"`
	// Detail is the rule broken, e.g. the accepted time window.
	Detail string `json:"detail,omitempty"`
	// LastSeq, LastPoint, LastValue and LastTime are the last refused
	// reading's sequence number, point, value (as text) and acquisition
	// time.
	LastSeq   uint64    `json:"last_seq"`
	LastPoint string    `json:"last_point"`
	LastValue string    `json:"last_value"`
	LastTime  time.Time `json:"last_time"`
}

// EncodeAck returns the JSON form of a.
func EncodeAck(a Ack) []byte {
	b, _ := json.Marshal(a) // cannot fail: strings and integers only
	return b
}

// DecodeAck parses an acknowledgement, refusing unknown fields and a
// missing gateway.
func DecodeAck(data []byte) (Ack, error) {
	var a Ack
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return Ack{}, fmt.Errorf("decode ack: %w", err)
	}
	if a.Gateway == "" {
		return Ack{}, fmt.Errorf("decode ack: gateway: %w", ErrEmpty)
	}
	if len(a.Refused) > MaxRefusedDevices {
		return Ack{}, fmt.Errorf("decode ack: refused: %d devices (expected at most %d)", len(a.Refused), MaxRefusedDevices)
	}
	for i, r := range a.Refused {
		if r.Device == "" {
			return Ack{}, fmt.Errorf("decode ack: refused[%d].device: %w", i, ErrEmpty)
		}
		if r.Count < 0 || r.Accepted < 0 {
			return Ack{}, fmt.Errorf("decode ack: refused[%d]: count %d, accepted %d (expected counts of readings)", i, r.Count, r.Accepted)
		}
	}
	return a, nil
}

// Gateway states in Status messages.
const (
	StateOnline  = "online"
	StateOffline = "offline"
)

// Status is a gateway's retained status message. The gateway publishes it
// "online" on connect; its MQTT last will publishes it "offline", so a
// gateway that dies shows as offline on the twin without ingest guessing.
type Status struct {
	Gateway string    `json:"gateway"`
	State   string    `json:"state"`
	Time    time.Time `json:"time"`
	// Version is the agent's version, for the fleet view.
	Version string `json:"version,omitempty"`
	// Epoch and Retained state, as in a Batch, the lowest sequence number
	// of the buffer's current epoch the gateway still holds (0: not
	// stated). A gateway whose buffer dropped everything beyond a gap has
	// no batch to say it in.
	Epoch    uint64 `json:"epoch,omitempty"`
	Retained uint64 `json:"retained,omitempty"`
	// Health is the gateway's own summary, for the fleet view: an online
	// gateway republishes its status with it every so often (absent from
	// older agents and from the last will).
	Health *Health `json:"health,omitempty"`
}

// Health is what a gateway says of itself in its status message.
type Health struct {
	// Buffered is how many readings the gateway holds that ingest has not
	// acknowledged yet.
	Buffered uint64 `json:"buffered"`
	// Oldest is when the oldest of them was read (zero: none held).
	Oldest time.Time `json:"oldest,omitzero"`
	// DevicesUp and DevicesBad count the gateway's devices by whether
	// their last poll or message was read and accepted.
	DevicesUp  int `json:"devices_up"`
	DevicesBad int `json:"devices_bad"`
}

// MaxHealthDevices bounds a Health's device counts (a site config's
// device limit is far below it).
const MaxHealthDevices = 1 << 16

// EncodeStatus returns the JSON form of s.
func EncodeStatus(s Status) []byte {
	b, _ := json.Marshal(s)
	return b
}

// DecodeStatus parses a status message.
func DecodeStatus(data []byte) (Status, error) {
	var s Status
	if err := json.Unmarshal(data, &s); err != nil {
		return Status{}, fmt.Errorf("decode status: %w", err)
	}
	if s.Gateway == "" {
		return Status{}, fmt.Errorf("decode status: gateway: %w", ErrEmpty)
	}
	if s.State != StateOnline && s.State != StateOffline {
		return Status{}, fmt.Errorf("decode status: state %q (expected online or offline)", s.State)
	}
	if h := s.Health; h != nil {
		for _, c := range []struct {
			name string
			n    int
		}{{"devices_up", h.DevicesUp}, {"devices_bad", h.DevicesBad}} {
			if c.n < 0 || c.n > MaxHealthDevices {
				return Status{}, fmt.Errorf("decode status: health.%s %d (expected a device count 0..%d)", c.name, c.n, MaxHealthDevices)
			}
		}
	}
	return s, nil
}
