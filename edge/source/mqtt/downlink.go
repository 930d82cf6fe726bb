package mqtt

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

var _ source.Writer = (*Source)(nil)

// publishTimeout bounds the broker's PUBACK of a downlink.
const publishTimeout = 10 * time.Second

// readback watches a device's uplinks for one write: how many arrived
// since the downlink, and the values of the read-back point they carried.
// Its fields are guarded by the device's mu.
type readback struct {
	point   string
	notify  chan struct{} // capacity 1: "something new"
	uplinks int
	values  []float64
}

// uplinked records an uplink of d on topic: its topic for the downlinks,
// and its readings for the writes waiting on a read-back.
func (d *device) uplinked(topic string, rs []wire.Reading) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastUp = topic
	for w := range d.watchers {
		w.uplinks++
		for _, r := range rs {
			if r.Point != w.point || !r.Quality.Good() {
				continue
			}
			if v, ok := r.Value.AsFloat(); ok {
				w.values = append(w.values, v)
			}
		}
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
}

// watch starts collecting the uplinks of d for a read-back of point, and
// returns the topic of d's last uplink ("" for none yet).
func (d *device) watch(point string) (*readback, string) {
	w := &readback{point: point, notify: make(chan struct{}, 1)}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.watchers == nil {
		d.watchers = map[*readback]struct{}{}
	}
	d.watchers[w] = struct{}{}
	return w, d.lastUp
}

func (d *device) unwatch(w *readback) {
	d.mu.Lock()
	delete(d.watchers, w)
	d.mu.Unlock()
}

// take returns what w collected since the last take.
func (d *device) take(w *readback) (uplinks int, values []float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	uplinks, values = w.uplinks, w.values
	w.values = nil
	return uplinks, values
}

// WritePoint writes a LoRaWAN device's point by a downlink through the
// network server its uplinks come from, and waits for an uplink that
// reads the point back (see the package doc, "Downlinks"). It implements
// source.Writer. It returns the read-back value once
// req.Rules.Applied(req.Value, value) holds for an uplink's value of
// req.Rules.ReadbackPoint(req.Point); when req.Expires or ctx comes first
// it returns an error saying what was last read. Writes to one device run
// one at a time, in no promised order.
func (s *Source) WritePoint(ctx context.Context, req source.WriteRequest) (float64, error) {
	d := s.device(req.Device)
	if d == nil {
		return 0, fmt.Errorf("mqtt write %s.%s: %w", req.Device, req.Point, source.ErrUnknownDevice)
	}
	dl := downlinkOf(d.prof, req.Point)
	if dl == nil {
		return 0, fmt.Errorf("mqtt write %s.%s: the device's profile has no downlink %q", req.Device, req.Point, req.Point)
	}
	rules := req.Rules
	if rules == nil {
		rules = &dl.Write
	}
	frame, err := dl.Frame, error(nil)
	if frame == nil { // a profile built in code rather than loaded
		if frame, err = profile.ParseTemplate(dl.Payload); err != nil {
			return 0, fmt.Errorf("mqtt write %s.%s: payload: %w", req.Device, req.Point, err)
		}
	}
	data, err := frame.Encode(req.Value)
	if err != nil {
		return 0, fmt.Errorf("mqtt write %s.%s: %w", req.Device, req.Point, err)
	}
	if !req.Expires.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, req.Expires)
		defer cancel()
	}
	select {
	case d.writing <- struct{}{}:
		defer func() { <-d.writing }()
	case <-ctx.Done():
		return 0, fmt.Errorf("mqtt write %s.%s: another write to the device was still waiting for its read-back at expiry; nothing sent", req.Device, req.Point)
	}

	point := rules.ReadbackPoint(req.Point)
	w, up := d.watch(point)
	defer d.unwatch(w)
	if up == "" {
		return 0, fmt.Errorf("mqtt write %s.%s: downlink topic unknown: no uplink from %s yet", req.Device, req.Point, req.Device)
	}
	topic, payload, err := buildDownlink(d.prof.Format, up, dl.FPort, data, req.Expires)
	if err != nil {
		return 0, fmt.Errorf("mqtt write %s.%s: %w", req.Device, req.Point, err)
	}
	b := d.broker
	if !b.client.IsConnectionOpen() {
		return 0, fmt.Errorf("mqtt write %s.%s: broker %s not connected; downlink not sent", req.Device, req.Point, b.addr.display)
	}
	if err := waitToken(ctx, b.client.Publish(topic, downlinkQoS(d.prof.Format), false, payload), publishTimeout); err != nil {
		return 0, fmt.Errorf("mqtt write %s.%s: publish downlink on %s: %w", req.Device, req.Point, topic, err)
	}
	detail := fmt.Sprintf("downlink %s f_port %d on %s", hex.EncodeToString(data), dl.FPort, topic)
	b.log.Info("mqtt downlink sent", "device", d.Name, "point", req.Point, "value", req.Value, "topic", topic, "payload", hex.EncodeToString(data))
	if req.Sent != nil {
		req.Sent(detail)
	}

	uplinks, last, seen := 0, 0.0, false
	for {
		select {
		case <-w.notify:
			n, vs := d.take(w)
			uplinks = n
			for _, v := range vs {
				if rules.Applied(req.Value, v) {
					b.log.Info("mqtt downlink read back", "device", d.Name, "point", point, "value", v)
					return v, nil
				}
				last, seen = v, true
			}
		case <-ctx.Done():
			cleared := b.clearQueue(d, topic)
			why := "no uplink since the downlink"
			switch {
			case seen:
				why = "last read " + strconv.FormatFloat(last, 'g', -1, 64)
			case uplinks > 0:
				why = fmt.Sprintf("%d uplinks since the downlink, none with %s", uplinks, point)
			}
			return 0, fmt.Errorf("mqtt write %s.%s: no read-back of %s before expiry (%s); %s", req.Device, req.Point, point, why, cleared)
		}
	}
}

// clearQueue makes sure a downlink whose command ended without a
// read-back is not delivered later, and says what it did. ChirpStack
// removes it itself at the command's expiry (expiresAt; v4.14 and later).
// The Things Stack's downlinks carry no expiry, so the device's queue is
// replaced by an empty one (.../down/replace with {"downlinks": []}, The
// Things Stack documentation, "Integrations > MQTT Server" and "Downlink
// Queue Operations"): a late "switch off" reaching a lamp hours after the
// operator was told it failed is worse than dropping another pending
// downlink of the same device, which only Ponte commands.
func (b *broker) clearQueue(d *device, downTopic string) string {
	if d.prof.Format != profile.FormatTTSV3 {
		return "the network server drops the queued downlink at the command's expiry (ChirpStack v4.14 or later)"
	}
	replace := strings.TrimSuffix(downTopic, "/push") + "/replace"
	tok := b.client.Publish(replace, downlinkQoS(d.prof.Format), false, []byte(`{"downlinks":[]}`))
	if !tok.WaitTimeout(publishTimeout) || tok.Error() != nil {
		b.log.Warn("mqtt downlink queue not cleared", "device", d.Name, "topic", replace, "err", tok.Error())
		return "the device's downlink queue could not be cleared: the downlink may still be delivered"
	}
	b.log.Info("mqtt downlink queue cleared", "device", d.Name, "topic", replace)
	return "the device's downlink queue was cleared"
}

// device returns the source's device called name, nil if none.
func (s *Source) device(name string) *device {
	for _, b := range s.brokers {
		for _, d := range b.devices {
			if d.Name == name {
				return d
			}
		}
	}
	return nil
}

func downlinkOf(p *profile.MQTT, name string) *profile.Downlink {
	for i := range p.Downlinks {
		if p.Downlinks[i].Name == name {
			return &p.Downlinks[i]
		}
	}
	return nil
}

// chirpStackDown is ChirpStack v4's downlink command, enqueued by
// publishing it on application/{application_id}/device/{dev_eui}/command/down
// (ChirpStack v4 documentation, "Integrations > MQTT", Commands;
// chirpstack_api integration.DownlinkCommand: devEui, confirmed, fPort,
// data as base64, or object for a codec to encode). Data is raw bytes:
// the profile's template encodes them, so no codec is needed for
// downlinks.
type chirpStackDown struct {
	DevEUI    string `json:"devEui"`
	Confirmed bool   `json:"confirmed"`
	FPort     int    `json:"fPort"`
	Data      []byte `json:"data"` // encoding/json writes base64
	// ExpiresAt is RFC 3339 (integration.DownlinkCommand.expires_at,
	// ChirpStack v4.14 and later).
	ExpiresAt string `json:"expiresAt,omitempty"`
}

// ttsDown is The Things Stack v3's downlink queue operation, published on
// v3/{application id}@{tenant id}/devices/{device id}/down/push (The
// Things Stack documentation, "Integrations > MQTT Server", Publishing
// Downlink Traffic; /down/replace would replace the queue instead, which
// could drop another application's pending downlink, so Ponte pushes).
type ttsDown struct {
	Downlinks []ttsDownlink `json:"downlinks"`
}

type ttsDownlink struct {
	FPort      int    `json:"f_port"`
	FRMPayload []byte `json:"frm_payload"` // base64
	Priority   string `json:"priority"`
}

// downlinkQoS is the QoS a downlink is published with: 1 to ChirpStack,
// so that the broker's PUBACK says it took it; 0 to The Things Stack,
// whose MQTT server "supports the MQTT Standard Version 3.1.1 and QoS 0
// only" (The Things Stack documentation, Integrations > Other
// integrations > MQTT Server). The read-back uplink is the confirmation
// either way.
func downlinkQoS(format string) byte {
	if format == profile.FormatTTSV3 {
		return 0
	}
	return 1
}

// buildDownlink returns the topic and JSON of a downlink, for the network
// server of format, to the device whose last uplink came on topic up.
// Unconfirmed: the uplink reading the point back is the confirmation.
// A ChirpStack downlink carries the command's expiry (expiresAt, from
// ChirpStack v4.14: "Expired queue-items will be automatically removed
// from the queue"; earlier versions ignore it, their JSON decoding
// ignoring unknown fields), so a downlink the device did not take before
// the command expired is never delivered later. The Things Stack's
// downlinks have no expiry: see clearQueue.
func buildDownlink(format, up string, fPort int, data []byte, expires time.Time) (topic string, payload []byte, err error) {
	l := strings.Split(up, "/")
	switch format {
	case profile.FormatChirpStackV4:
		if len(l) != 6 || l[0] != "application" || l[2] != "device" || l[4] != "event" || l[5] != "up" || l[1] == "" || l[3] == "" {
			return "", nil, fmt.Errorf("uplink topic %q: expected application/{application_id}/device/{dev_eui}/event/up to derive the downlink topic", up)
		}
		topic = strings.Join([]string{"application", l[1], "device", l[3], "command", "down"}, "/")
		d := chirpStackDown{DevEUI: l[3], FPort: fPort, Data: data}
		if !expires.IsZero() {
			d.ExpiresAt = expires.UTC().Format(time.RFC3339Nano)
		}
		payload, err = json.Marshal(d)
	case profile.FormatTTSV3:
		if len(l) != 5 || l[0] != "v3" || l[2] != "devices" || l[4] != "up" || l[1] == "" || l[3] == "" {
			return "", nil, fmt.Errorf("uplink topic %q: expected v3/{application id}@{tenant id}/devices/{device id}/up to derive the downlink topic", up)
		}
		topic = strings.Join([]string{"v3", l[1], "devices", l[3], "down", "push"}, "/")
		payload, err = json.Marshal(ttsDown{Downlinks: []ttsDownlink{{FPort: fPort, FRMPayload: data, Priority: "NORMAL"}}})
	default:
		return "", nil, errors.New("format " + strconv.Quote(format) + " has no downlinks (expected chirpstack_v4 or tts_v3)")
	}
	return topic, payload, err
}
