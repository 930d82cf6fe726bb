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
type Ack struct {
	Gateway string `json:"gateway"`
	Epoch   uint64 `json:"epoch"`
	Seq     uint64 `json:"seq"`
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
}

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
	return s, nil
}
