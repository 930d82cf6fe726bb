package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/wire"
)

// Result is one reading found by Probe, with the payload it came from.
type Result struct {
	Reading wire.Reading
	// Raw is the whole message payload (shared by all Results of one
	// message), for the technician to compare with the profile.
	Raw []byte
}

// Probe waits for the device's next message on its broker and returns its
// readings, for ponte-ctl: a technician checks that a sensor's uplinks
// arrive and map as its profile says. It subscribes with its own,
// throw-away client ID and a clean session, so it never takes over the
// running agent's session.
//
// Messages of other devices, retained messages (not the next message) and
// empty uplinks are skipped. Unlike Run, Probe also lists fields the
// payload left out, as bad_decode readings whose Reason says so, because
// the technician needs to see them. The wait is bounded by ctx; an
// unreachable broker fails at once.
func Probe(ctx context.Context, dev source.Device, log *slog.Logger) ([]Result, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	brokers, err := plan([]source.Device{dev})
	if err != nil {
		return nil, err
	}
	b := brokers[0]
	log = log.With("device", dev.Name, "broker", b.addr.display)

	msgs := make(chan paho.Message, 16)
	opts := paho.NewClientOptions().
		AddBroker(b.addr.url).
		SetClientID("ponte-probe-" + randomHex(6)).
		SetCleanSession(true).
		SetAutoReconnect(false).
		SetConnectTimeout(10 * time.Second).
		SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
			select {
			case msgs <- m:
			default: // a flood of other devices' messages; the next one will do
			}
		})
	client := paho.NewClient(opts)
	if err := waitToken(ctx, client.Connect(), 15*time.Second); err != nil {
		return nil, fmt.Errorf("probe %s: connect to %s: %w", dev.Name, b.addr.display, err)
	}
	defer client.Disconnect(100)
	filters := map[string]byte{b.filters[0]: 1}
	if err := subscribeOnce(ctx, client, filters); err != nil {
		return nil, fmt.Errorf("probe %s: subscribe %q on %s: %w", dev.Name, b.filters[0], b.addr.display, err)
	}
	log.Info("probe waiting for the device's next message", "filter", b.filters[0])
	nm := &NoMessageError{Device: dev.Name, Filter: b.filters[0], Broker: b.addr.display, Skipped: map[SkipReason]int{}}
	for {
		select {
		case <-ctx.Done():
			nm.Err = ctx.Err()
			return nil, nm
		case m := <-msgs:
			rs, why, err := probeMessage(b, dev.Name, m)
			if why != "" {
				nm.Seen++
				nm.Skipped[why]++
				if why == SkipOtherDevice && len(nm.OtherIDs) < 3 && !contains(nm.OtherIDs, err.Error()) {
					nm.OtherIDs = append(nm.OtherIDs, err.Error())
				}
				log.Debug("probe skipped a message", "topic", m.Topic(), "why", why)
				continue
			}
			return rs, err
		}
	}
}

// SkipReason says why Probe passed over a message.
type SkipReason string

// Reasons a message is not the device's next uplink.
const (
	SkipRetained    SkipReason = "retained (an old message the broker kept)"
	SkipMalformed   SkipReason = "malformed JSON"
	SkipOtherDevice SkipReason = "another device ID"
	SkipEmpty       SkipReason = "no application payload (MAC-only uplink)"
)

// NoMessageError is Probe's error when ctx ended before a message of the
// device arrived. It says how many messages the filter brought and why
// each was passed over, so a technician tells a silent sensor from a
// mistyped DevEUI or a missing payload codec.
type NoMessageError struct {
	Device, Filter, Broker string
	// Seen counts the messages that arrived and were skipped.
	Seen int
	// Skipped counts them by reason.
	Skipped map[SkipReason]int
	// OtherIDs are up to three device IDs seen that were not the device's.
	OtherIDs []string
	// Err is ctx's error.
	Err error
}

// Error reads "probe X: no message on F from B (saw 3, used none: 2
// another device ID [id1], 1 malformed JSON): context deadline exceeded".
func (e *NoMessageError) Error() string {
	msg := fmt.Sprintf("probe %s: no message on %q from %s", e.Device, e.Filter, e.Broker)
	if e.Seen > 0 {
		msg += fmt.Sprintf(" (saw %d, used none: %s)", e.Seen, e.SkipSummary())
	}
	return fmt.Sprintf("%s: %v", msg, e.Err)
}

// SkipSummary lists the skip counts: "2 another device ID (70b3...), 1
// malformed JSON".
func (e *NoMessageError) SkipSummary() string {
	var parts []string
	for _, r := range []SkipReason{SkipOtherDevice, SkipMalformed, SkipEmpty, SkipRetained} {
		n := e.Skipped[r]
		if n == 0 {
			continue
		}
		p := fmt.Sprintf("%d %s", n, r)
		if r == SkipOtherDevice && len(e.OtherIDs) > 0 {
			p += " (" + strings.Join(e.OtherIDs, ", ") + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
}

// Unwrap returns ctx's error.
func (e *NoMessageError) Unwrap() error { return e.Err }

// probeMessage maps m for the device; a non-empty SkipReason says why m is
// not its next uplink (for SkipOtherDevice the error holds the ID seen).
func probeMessage(b *broker, name string, m paho.Message) ([]Result, SkipReason, error) {
	topic, payload := m.Topic(), m.Payload()
	if m.Retained() {
		return nil, SkipRetained, nil
	}
	d := b.devices[0]
	if err := checkObject(topic, payload); err != nil {
		if _, idPath, _, _ := d.prof.Defaults(); idPath == "" {
			// No device ID: every message on the topic is the device's.
			return nil, "", fmt.Errorf("probe %s: %w", name, err)
		}
		return nil, SkipMalformed, nil
	}
	if found, id, _ := b.dispatch(topic, payload); found != d {
		if id == "" {
			id = "none"
		}
		return nil, SkipOtherDevice, errors.New(id)
	}
	mp, err := mapValid(d.prof, topic, payload, time.Now())
	if err != nil {
		return nil, "", fmt.Errorf("probe %s: %w", name, err)
	}
	if mp.Empty {
		return nil, SkipEmpty, nil
	}
	rs := make([]Result, 0, len(mp.Readings)+len(mp.Missing))
	for _, r := range mp.Readings {
		r.Device = name
		rs = append(rs, Result{Reading: r, Raw: payload})
	}
	for _, f := range d.prof.Fields {
		if contains(mp.Missing, f.Name) {
			rs = append(rs, Result{Raw: payload, Reading: wire.Reading{
				Device: name, Point: f.Name, Unit: f.Unit, Time: mp.Time, Quality: wire.QualityBadDecode,
				Reason: "absent from this payload (in operation such fields are skipped and counted)",
			}})
		}
	}
	return rs, "", nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
