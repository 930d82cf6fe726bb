package sim

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/tidwall/sjson"
)

// Identities the simulated LoRaWAN network server puts in its envelopes.
const (
	simTenant    = "ponte-sim"
	simGatewayID = "ponte-sim-gw-0001"
)

// MQTTDevice simulates a device publishing JSON, directly or through a
// LoRaWAN network server (ChirpStack v4, The Things Stack v3), building
// the envelope its profile's Format expects with the decoded fields at
// their paths. Safe for concurrent use.
type MQTTDevice struct {
	m      *profile.MQTT
	model  string
	id     string
	app    string
	gen    Generator
	fields []mqttField
	topic  string
	words  *[2]string // how bools are written, nil for JSON booleans

	mu    sync.Mutex
	fcnt  uint32
	fault Fault
	clock func() time.Time
	// stamp, if set, is the time Message puts in payloads.
	stamp func() time.Time
	// written holds the values downlinks set, by point (downlink.go).
	written map[string]float64
}

type mqttField struct {
	f    *profile.Field
	path string
	pat  Pattern
}

// NewMQTTDevice prepares a device with identity id (the DevEUI for LoRaWAN
// formats, the topic's device level for json); seed picks the values.
func NewMQTTDevice(p *profile.Profile, id string, seed int64) (*MQTTDevice, error) {
	if p == nil || p.MQTT == nil {
		return nil, fmt.Errorf("mqtt device %q: profile has no mqtt section", id)
	}
	if id == "" || strings.ContainsAny(id, "+#/") {
		return nil, fmt.Errorf("mqtt device %q: expected a non-empty id without / + #", id)
	}
	m := p.MQTT
	topic, _, _, root := m.Defaults()
	d := &MQTTDevice{m: m, model: p.Model, id: id, gen: NewGenerator(seed), clock: time.Now,
		app: appID(p.Model)}
	for i := range m.Fields {
		f := &m.Fields[i]
		path := f.Path
		if root != "" {
			path = root + "." + path
		}
		d.fields = append(d.fields, mqttField{f: f, path: path,
			pat: PatternFor(PointInfo{Category: p.Category, Name: f.Name, Unit: f.Unit, Type: f.Type, Range: f.Range, Sim: f.Sim})})
	}
	d.topic = d.fillTopic(topic)
	if w, ok := boolWords[p.Manufacturer]; ok {
		d.words = &w
	}
	return d, nil
}

// appID is a stable UUID-shaped application ID derived from the model.
func appID(model string) string {
	h := NewGenerator(0).key("app:" + model)
	g := mix(h, 1)
	s := fmt.Sprintf("%016x%016x", h, g)
	return s[0:8] + "-" + s[8:12] + "-4" + s[13:16] + "-8" + s[17:20] + "-" + s[20:32]
}

// fillTopic replaces the filter's wildcards: for the LoRaWAN formats the
// first + is the application and the second the device, for json every
// wildcard is the device.
func (d *MQTTDevice) fillTopic(filter string) string {
	levels := strings.Split(filter, "/")
	plus := 0
	for i, l := range levels {
		if l != "+" && l != "#" {
			continue
		}
		v := d.id
		switch {
		case d.m.Format == profile.FormatChirpStackV4 && plus == 0:
			v = d.app
		case d.m.Format == profile.FormatTTSV3 && plus == 0:
			v = "ponte-sim@" + simTenant
		case d.m.Format == profile.FormatTTSV3:
			v = ttsDeviceID(d.id)
		}
		levels[i] = v
		plus++
	}
	return strings.Join(levels, "/")
}

// ttsDeviceID turns an identity into a valid TTS end device ID (lower
// case letters, digits and dashes).
func ttsDeviceID(id string) string {
	b := []byte(strings.ToLower(id))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			b[i] = '-'
		}
	}
	return "eui-" + string(b)
}

// ID returns the device's identity.
func (d *MQTTDevice) ID() string { return d.id }

// Topic returns the topic the device publishes on.
func (d *MQTTDevice) Topic() string { return d.topic }

// SetFault sets the fault PublishLoop applies: FaultTimeout stops
// publishing, FaultGarbage publishes truncated JSON.
func (d *MQTTDevice) SetFault(f Fault) {
	d.mu.Lock()
	d.fault = f
	d.mu.Unlock()
}

// SetClock replaces the clock PublishLoop reads (default time.Now).
func (d *MQTTDevice) SetClock(now func() time.Time) {
	d.mu.Lock()
	d.clock = now
	d.mu.Unlock()
}

// SetStamp makes Message stamp its payloads with stamp's time instead of
// the time the values are computed at (an accelerated clock's).
func (d *MQTTDevice) SetStamp(stamp func() time.Time) {
	d.mu.Lock()
	d.stamp = stamp
	d.mu.Unlock()
}

// Message returns the next uplink at now: its topic and JSON payload. Each
// call advances the frame counter.
func (d *MQTTDevice) Message(now time.Time) (topic string, payload []byte) {
	d.mu.Lock()
	d.fcnt++
	fcnt, stampFn := d.fcnt, d.stamp
	d.mu.Unlock()
	var err error
	payload = []byte("{}")
	set := func(path string, v any) {
		if err == nil {
			payload, err = sjson.SetBytes(payload, path, v)
		}
	}
	stamp := now
	if stampFn != nil {
		stamp = stampFn()
	}
	ts := stamp.UTC().Format(time.RFC3339Nano)
	var frm []byte
	values := make([]any, len(d.fields))
	for i := range d.fields {
		values[i] = d.value(&d.fields[i], now)
		frm = appendFRM(frm, values[i])
	}
	data := base64.StdEncoding.EncodeToString(frm)
	rssi, snr := -70-int(d.gen.noise(d.gen.key("rssi"), now.Unix(), now)*50), math.Round((d.gen.noise(d.gen.key("snr"), now.Unix(), now)*15-5)*10)/10
	switch d.m.Format {
	case profile.FormatChirpStackV4:
		set("deduplicationId", uuidFrom(d.gen.key(d.id), uint64(fcnt)))
		set("time", ts)
		set("deviceInfo", map[string]any{
			"tenantId": uuidFrom(d.gen.key("tenant"), 0), "tenantName": simTenant,
			"applicationId": d.app, "applicationName": "ponte-sim",
			"deviceProfileId": uuidFrom(d.gen.key("profile:"+d.model), 0), "deviceProfileName": d.model,
			"deviceName": d.id, "devEui": d.id, "deviceClassEnabled": "CLASS_A", "tags": map[string]any{},
		})
		set("devAddr", fmt.Sprintf("%08x", uint32(d.gen.key("addr:"+d.id))))
		set("adr", true)
		set("dr", 5)
		set("fCnt", fcnt)
		set("fPort", 2)
		set("confirmed", false)
		set("data", data)
		set("rxInfo", []any{map[string]any{
			"gatewayId": "0016c001ff1e0001", "uplinkId": fcnt, "nsTime": ts, "rssi": rssi, "snr": snr,
			"channel": int(fcnt % 8), "crcStatus": "CRC_OK", "context": "AAAAAA==",
		}})
		set("txInfo", map[string]any{"frequency": 868100000 + 200000*int(fcnt%3),
			"modulation": map[string]any{"lora": map[string]any{"bandwidth": 125000, "spreadingFactor": 7, "codeRate": "CR_4_5"}}})
	case profile.FormatTTSV3:
		set("end_device_ids", map[string]any{
			"device_id": ttsDeviceID(d.id), "application_ids": map[string]any{"application_id": "ponte-sim"},
			"dev_eui": d.id, "dev_addr": fmt.Sprintf("%08X", uint32(d.gen.key("addr:"+d.id))),
		})
		set("correlation_ids", []string{"as:up:" + uuidFrom(d.gen.key(d.id), uint64(fcnt))})
		set("received_at", ts)
		set("uplink_message", map[string]any{
			"f_port": 2, "f_cnt": fcnt, "frm_payload": data,
			"rx_metadata": []any{map[string]any{
				"gateway_ids": map[string]any{"gateway_id": simGatewayID, "eui": "0016C001FF1E0001"},
				"time":        ts, "rssi": rssi, "channel_rssi": rssi, "snr": snr, "received_at": ts,
			}},
			"settings": map[string]any{
				"data_rate": map[string]any{"lora": map[string]any{"bandwidth": 125000, "spreading_factor": 7, "coding_rate": "4/5"}},
				"frequency": strconv.Itoa(868100000 + 200000*int(fcnt%3)),
			},
			"received_at": ts, "consumed_airtime": "0.061696s",
		})
	}
	_, devPath, timePath, _ := d.m.Defaults()
	if devPath != "" {
		set(devPath, d.id)
	}
	if timePath != "" {
		set(timePath, ts)
	}
	for i := range d.fields {
		set(d.fields[i].path, values[i])
	}
	if err != nil { // only a path the profile's validation would reject
		payload = []byte("{}")
	}
	return d.topic, payload
}

// value is the field's JSON value: inverse-scaled number, bool or text.
func (d *MQTTDevice) value(mf *mqttField, now time.Time) any {
	f := mf.f
	v, set := d.writtenValue(f.Name)
	if !set {
		v = d.gen.Value(f.Name, mf.pat, now)
	}
	switch f.Type {
	case profile.TypeBool:
		on := v >= 0.5
		if d.words != nil {
			return d.words[b2i(on)]
		}
		return on
	case profile.TypeString:
		return d.model
	}
	v -= f.Offset
	if f.Scale != 0 {
		v /= f.Scale
	}
	if f.Type == profile.TypeInt {
		return int64(math.Round(v))
	}
	return math.Round(v*1000) / 1000
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// appendFRM appends a value to the simulated raw LoRaWAN payload: numbers
// as int32 hundredths, bools as one byte. The network server's codec
// output ("object", "decoded_payload") is what Ponte reads; the raw bytes
// only make the envelope realistic.
func appendFRM(b []byte, v any) []byte {
	switch x := v.(type) {
	case bool:
		return append(b, byte(b2i(x)))
	case string:
		return append(b, byte(len(x)))
	case int64:
		return binary.BigEndian.AppendUint32(b, uint32(int32(x)))
	case float64:
		return binary.BigEndian.AppendUint32(b, uint32(int32(x*100)))
	}
	return b
}

func uuidFrom(a, b uint64) string {
	s := fmt.Sprintf("%016x%016x", mix(a, b), mix(b, a))
	return s[0:8] + "-" + s[8:12] + "-4" + s[13:16] + "-a" + s[17:20] + "-" + s[20:32]
}

// PublishLoop publishes every device's message each interval with QoS 1
// until ctx is done, then returns nil. A failed publish (broker down) is
// logged and the loop goes on: paho reconnects on its own.
func PublishLoop(ctx context.Context, log *slog.Logger, c paho.Client, devs []*MQTTDevice, interval time.Duration) error {
	if interval <= 0 {
		return fmt.Errorf("mqtt publish: interval %v: expected a positive interval", interval)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		for _, d := range devs {
			d.mu.Lock()
			fault, now := d.fault, d.clock()
			d.mu.Unlock()
			if fault == FaultTimeout {
				continue
			}
			topic, payload := d.Message(now)
			if fault == FaultGarbage {
				payload = payload[:len(payload)/2]
			}
			tok := c.Publish(topic, 1, false, payload)
			select {
			case <-tok.Done():
				if err := tok.Error(); err != nil {
					log.Warn("mqtt publish failed", "device", d.id, "topic", topic, "err", err)
				}
			case <-ctx.Done():
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
