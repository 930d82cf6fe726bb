package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
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
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("probe %s: no message on %q from %s: %w", dev.Name, b.filters[0], b.addr.display, ctx.Err())
		case m := <-msgs:
			rs, err := probeMessage(b, dev.Name, m)
			if errors.Is(err, errSkip) {
				log.Debug("probe skipped a message", "topic", m.Topic(), "why", err)
				continue
			}
			return rs, err
		}
	}
}

// errSkip marks a message that is not the device's next uplink.
var errSkip = errors.New("skipped")

func probeMessage(b *broker, name string, m paho.Message) ([]Result, error) {
	topic, payload := m.Topic(), m.Payload()
	if m.Retained() {
		return nil, fmt.Errorf("%w: retained", errSkip)
	}
	d := b.devices[0]
	if err := checkObject(topic, payload); err != nil {
		if _, idPath, _, _ := d.prof.Defaults(); idPath == "" {
			// No device ID: every message on the topic is the device's.
			return nil, fmt.Errorf("probe %s: %w", name, err)
		}
		return nil, fmt.Errorf("%w: %v", errSkip, err)
	}
	if found, _, _ := b.dispatch(topic, payload); found != d {
		return nil, fmt.Errorf("%w: another device", errSkip)
	}
	mp, err := mapValid(d.prof, topic, payload, time.Now())
	if err != nil {
		return nil, fmt.Errorf("probe %s: %w", name, err)
	}
	if mp.Empty {
		return nil, fmt.Errorf("%w: empty uplink", errSkip)
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
	return rs, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
