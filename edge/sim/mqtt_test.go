package sim

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/tidwall/gjson"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

func mqttProfile(format string) *profile.Profile {
	m := &profile.MQTT{Format: format, Fields: []profile.Field{
		{Name: "pm10", Path: "pm10", Type: profile.TypeFloat, Unit: "ug/m3"},
		{Name: "temperature", Path: "climate.temp", Type: profile.TypeFloat, Unit: "°C", Scaling: profile.Scaling{Scale: 0.1}},
		{Name: "vehicle_count", Path: "count", Type: profile.TypeInt},
		{Name: "occupied", Path: "occupied", Type: profile.TypeBool, Sim: &profile.Sim{Pattern: "toggle", Max: 1}},
	}}
	if format == profile.FormatJSON {
		m.Topic, m.Root, m.DeviceID, m.Time = "city/+/air", "data", "id", "ts"
	}
	return &profile.Profile{Model: "Test Air", Manufacturer: "Ponte", Source: "test",
		Category: wire.CategoryAir, Kind: profile.KindMQTT, MQTT: m}
}

// topicMatches applies MQTT filter matching.
func topicMatches(filter, topic string) bool {
	f, t := strings.Split(filter, "/"), strings.Split(topic, "/")
	for i, l := range f {
		if l == "#" {
			return true
		}
		if i >= len(t) || (l != "+" && l != t[i]) || t[i] == "" {
			return false
		}
	}
	return len(f) == len(t)
}

func TestMQTTMessages(t *testing.T) {
	now := time.Date(2025, 5, 14, 8, 30, 0, 0, time.UTC)
	tests := []struct {
		format string
		id     string
		check  func(t *testing.T, topic string, js gjson.Result)
	}{
		{profile.FormatChirpStackV4, "70b3d57ed0051234", func(t *testing.T, topic string, js gjson.Result) {
			app := js.Get("deviceInfo.applicationId").String()
			if want := "application/" + app + "/device/70b3d57ed0051234/event/up"; topic != want || app == "" {
				t.Errorf("topic %q, want %q", topic, want)
			}
			for _, p := range []string{"deduplicationId", "devAddr", "fPort", "rxInfo.0.rssi", "deviceInfo.deviceProfileName", "deviceInfo.tenantId"} {
				if !js.Get(p).Exists() {
					t.Errorf("%s missing", p)
				}
			}
			if _, err := base64.StdEncoding.DecodeString(js.Get("data").String()); err != nil || js.Get("data").String() == "" {
				t.Errorf("data %q: %v", js.Get("data").String(), err)
			}
		}},
		{profile.FormatTTSV3, "70B3D57ED0055678", func(t *testing.T, topic string, js gjson.Result) {
			if want := "v3/ponte-sim@ponte-sim/devices/" + js.Get("end_device_ids.device_id").String() + "/up"; topic != want {
				t.Errorf("topic %q, want %q", topic, want)
			}
			for _, p := range []string{"end_device_ids.application_ids.application_id", "uplink_message.f_port", "uplink_message.frm_payload", "uplink_message.rx_metadata.0.gateway_ids.gateway_id"} {
				if !js.Get(p).Exists() {
					t.Errorf("%s missing", p)
				}
			}
		}},
		{profile.FormatJSON, "station-7", func(t *testing.T, topic string, js gjson.Result) {
			if topic != "city/station-7/air" {
				t.Errorf("topic %q, want city/station-7/air", topic)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			p := mqttProfile(tc.format)
			d, err := NewMQTTDevice(p, tc.id, 5)
			if err != nil {
				t.Fatal(err)
			}
			filter, devPath, timePath, root := p.MQTT.Defaults()
			topic, payload := d.Message(now)
			if !gjson.ValidBytes(payload) {
				t.Fatalf("invalid JSON %s", payload)
			}
			if !topicMatches(filter, topic) {
				t.Errorf("topic %q does not match the profile's filter %q", topic, filter)
			}
			js := gjson.ParseBytes(payload)
			if got := js.Get(devPath).String(); got != tc.id {
				t.Errorf("%s = %q, want %q", devPath, got, tc.id)
			}
			if ts, err := time.Parse(time.RFC3339Nano, js.Get(timePath).String()); err != nil || !ts.Equal(now) {
				t.Errorf("%s = %q (%v), want %v", timePath, js.Get(timePath).String(), err, now)
			}
			at := func(path string) gjson.Result { return js.Get(root + "." + path) }
			if v := at("pm10"); v.Type != gjson.Number || v.Float() < 10 || v.Float() > 60 {
				t.Errorf("pm10 = %v, want a number in 10..60", v)
			}
			if v := at("climate.temp"); v.Type != gjson.Number || v.Float()*0.1 < 6 || v.Float()*0.1 > 26 {
				t.Errorf("climate.temp raw %v: want 60..260 (tenths of °C)", v)
			}
			if v := at("count"); v.Type != gjson.Number || strings.Contains(v.Raw, ".") {
				t.Errorf("count = %s, want an integer", v.Raw)
			}
			if v := at("occupied"); !v.IsBool() {
				t.Errorf("occupied = %s, want a bool", v.Raw)
			}
			tc.check(t, topic, js)
			_, again := d.Message(now.Add(time.Minute))
			if gjson.GetBytes(again, root+".count").Int() < at("count").Int() {
				t.Errorf("count fell between messages")
			}
		})
	}
}

func TestMQTTBadID(t *testing.T) {
	for _, id := range []string{"", "a/b", "x+", "#"} {
		if _, err := NewMQTTDevice(mqttProfile(profile.FormatJSON), id, 1); err == nil {
			t.Errorf("id %q accepted", id)
		}
	}
}

func TestMQTTPublishThroughMosquitto(t *testing.T) {
	broker := testenv.Mosquitto(t)
	p := mqttProfile(profile.FormatChirpStackV4)
	ids := []string{"0000000000000001", "0000000000000002"}
	var devs []*MQTTDevice
	for i, id := range ids {
		d, err := NewMQTTDevice(p, id, int64(i))
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, d)
	}
	connect := func(name string) paho.Client {
		c := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID(name))
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", name, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(100) })
		return c
	}
	sub := connect("test-sub")
	var mu sync.Mutex
	seen := map[string]int{}
	got := make(chan struct{}, 100)
	filter, _, _, _ := p.MQTT.Defaults()
	tok := sub.Subscribe(filter, 1, func(_ paho.Client, m paho.Message) {
		js := gjson.ParseBytes(m.Payload())
		if !js.Get("object.pm10").Exists() {
			t.Errorf("message on %s without object.pm10: %s", m.Topic(), m.Payload())
		}
		mu.Lock()
		seen[js.Get("deviceInfo.devEui").String()]++
		mu.Unlock()
		got <- struct{}{}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- PublishLoop(ctx, nil, connect("sim"), devs, 20*time.Millisecond) }()
	for i := 0; i < 4; i++ {
		select {
		case <-got:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d messages arrived", i)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("PublishLoop: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range ids {
		if seen[id] == 0 {
			t.Errorf("no message from %s (seen %v)", id, seen)
		}
	}
}
