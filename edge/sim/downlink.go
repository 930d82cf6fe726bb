package sim

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/internal/profile"
)

// boolWords are the words a manufacturer's payload codec writes for bool
// fields, [false, true]. Milesight's decoders write switch states as "off"
// and "on" (SensorDecoders e79c9d8, ws-series/ws558/ws558-decoder.js,
// readSwitchStatus); Ponte's MQTT source reads both.
var boolWords = map[string][2]string{"Milesight": {"off", "on"}}

// DownlinkTopics returns the topics on which the device's network server
// would hand it downlinks, none when its profile has no downlinks:
// ChirpStack v4's application/{application_id}/device/{dev_eui}/command/down,
// The Things Stack v3's .../devices/{device id}/down/push and
// .../down/replace.
func (d *MQTTDevice) DownlinkTopics() []string {
	if len(d.m.Downlinks) == 0 {
		return nil
	}
	base := strings.TrimSuffix(d.topic, "/up")
	switch d.m.Format {
	case profile.FormatChirpStackV4:
		return []string{strings.TrimSuffix(base, "/event") + "/command/down"}
	case profile.FormatTTSV3:
		return []string{base + "/down/push", base + "/down/replace"}
	}
	return nil
}

// Written is one point a downlink set.
type Written struct {
	Point string
	Value float64
}

// Downlink applies a downlink the network server would deliver: it finds
// the frames in payload (ChirpStack v4's {"devEui", "fPort", "data"},
// The Things Stack v3's {"downlinks": [{"f_port", "frm_payload"}]}), the
// profile's downlink whose template (profile.Template.Decode) each frame
// matches on its port with a value its write rules allow, and sets that
// point (the downlink's read-back point) to the value, which the
// device's uplinks carry from then on. It returns what it set; an error
// says why a downlink set nothing.
func (d *MQTTDevice) Downlink(payload []byte) ([]Written, error) {
	type frame struct {
		port int
		data []byte
	}
	var frames []frame
	switch d.m.Format {
	case profile.FormatChirpStackV4:
		var cmd struct {
			DevEUI string `json:"devEui"`
			FPort  int    `json:"fPort"`
			Data   []byte `json:"data"`
		}
		if err := json.Unmarshal(payload, &cmd); err != nil {
			return nil, fmt.Errorf("downlink for %s: %w", d.id, err)
		}
		if !strings.EqualFold(cmd.DevEUI, d.id) {
			return nil, fmt.Errorf("downlink for %s: devEui %q is another device's", d.id, cmd.DevEUI)
		}
		frames = append(frames, frame{cmd.FPort, cmd.Data})
	case profile.FormatTTSV3:
		var q struct {
			Downlinks []struct {
				FPort      int    `json:"f_port"`
				FRMPayload []byte `json:"frm_payload"`
			} `json:"downlinks"`
		}
		if err := json.Unmarshal(payload, &q); err != nil {
			return nil, fmt.Errorf("downlink for %s: %w", d.id, err)
		}
		for _, x := range q.Downlinks {
			frames = append(frames, frame{x.FPort, x.FRMPayload})
		}
	default:
		return nil, fmt.Errorf("downlink for %s: format %q has no downlinks", d.id, d.m.Format)
	}
	var out []Written
	for _, f := range frames {
		w, ok := d.match(f.port, f.data)
		if !ok {
			return out, fmt.Errorf("downlink for %s: port %d frame %x matches none of the profile's downlinks", d.id, f.port, f.data)
		}
		d.mu.Lock()
		if d.written == nil {
			d.written = map[string]float64{}
		}
		d.written[w.Point] = w.Value
		d.mu.Unlock()
		out = append(out, w)
	}
	return out, nil
}

// match finds the downlink a frame on port writes, and the value.
func (d *MQTTDevice) match(port int, data []byte) (Written, bool) {
	for i := range d.m.Downlinks {
		dl := &d.m.Downlinks[i]
		if dl.FPort != port {
			continue
		}
		t := dl.Frame
		if t == nil {
			var err error
			if t, err = profile.ParseTemplate(dl.Payload); err != nil {
				continue
			}
		}
		// A value the write rules refuse (08 01 05) is no command Ponte
		// sends; taking it would let the simulator show a state the
		// device cannot have.
		if v, ok := t.Decode(data); ok && dl.Write.Check(v, dl.Unit) == nil {
			return Written{Point: dl.Write.ReadbackPoint(dl.Name), Value: v}, true
		}
	}
	return Written{}, false
}

// writtenValue returns the value a downlink set for field name, if any.
func (d *MQTTDevice) writtenValue(name string) (float64, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.written[name]
	return v, ok
}

// DownlinkHandler returns the paho OnConnect handler that subscribes the
// devices' downlink topics (on every connection: a broker restarted
// without persistence forgets them) and answers each downlink as a
// WS558 does: the point changes, and an uplink reporting it goes out at
// once, so that a command round-trips through the simulator.
func DownlinkHandler(log *slog.Logger, devs []*MQTTDevice) paho.OnConnectHandler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(c paho.Client) {
		for _, d := range devs {
			for _, topic := range d.DownlinkTopics() {
				c.Subscribe(topic, 1, func(c paho.Client, m paho.Message) {
					w, err := d.Downlink(m.Payload())
					if err != nil {
						log.Warn("mqtt downlink refused", "device", d.id, "topic", m.Topic(), "err", err)
					}
					if len(w) == 0 {
						return
					}
					log.Info("mqtt downlink applied", "device", d.id, "written", w)
					d.mu.Lock()
					now := d.clock()
					d.mu.Unlock()
					up, payload := d.Message(now)
					c.Publish(up, 1, false, payload) // not awaited: paho's handler must not block
				})
			}
		}
	}
}
