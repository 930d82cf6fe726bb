package mqtt

import (
	"strings"
	"testing"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
)

func TestValidate(t *testing.T) {
	park, noise, plain := parkingProfile(), noiseProfile(), plainProfile()
	noID := &profile.Profile{MQTT: &profile.MQTT{Format: profile.FormatJSON, Topic: "site/meter", Fields: plain.MQTT.Fields}}
	modbus := &profile.Profile{Kind: profile.KindModbus, Modbus: &profile.Modbus{}, MQTT: &profile.MQTT{}}
	badTopic := &profile.Profile{MQTT: &profile.MQTT{Format: profile.FormatJSON, Topic: "a/#/b"}}
	const url = "tcp://127.0.0.1:1883"
	cases := []struct {
		name    string
		devices []source.Device
		want    []string // substrings of the error; none: valid
	}{
		{name: "valid", devices: []source.Device{
			{Name: "a", Profile: park, Address: url, ID: "01"},
			{Name: "b", Profile: park, Address: "mqtt://127.0.0.1", ID: "02"},
			{Name: "c", Profile: noise, Address: url, ID: "03"},
			{Name: "d", Profile: noID, Address: url},
		}},
		{name: "no devices", want: []string{"no devices"}},
		{name: "every problem reported", devices: []source.Device{
			{Name: "", Profile: park, Address: url, ID: "1"},
			{Name: "x", Profile: nil, Address: url},
			{Name: "y", Profile: modbus, Address: url},
			{Name: "z", Profile: park, Address: "http://broker", ID: "1"},
			{Name: "w", Profile: park, Address: "tcp://", ID: "1"},
			{Name: "v", Profile: badTopic, Address: url},
		}, want: []string{"#0: no name", `"x": profile has no mqtt section`, `"y": profile kind "modbus"`, `"z": broker address "http://broker": scheme "http"`, `"w": broker address "tcp://": no host`, `"v": profile: topic filter "a/#/b": '#' must be the last level`}},
		{name: "duplicate name", devices: []source.Device{
			{Name: "a", Profile: park, Address: url, ID: "1"}, {Name: "a", Profile: park, Address: url, ID: "2"},
		}, want: []string{`"a": name used twice`}},
		{name: "missing id", devices: []source.Device{{Name: "a", Profile: park, Address: url}},
			want: []string{`"a": no id: the profile's payloads carry the device identity at "deviceInfo.devEui"`}},
		{name: "duplicate id on one broker, any case", devices: []source.Device{
			{Name: "a", Profile: park, Address: url, ID: "70B3"}, {Name: "b", Profile: noise, Address: "mqtt://127.0.0.1:1883", ID: "70b3"},
		}, want: []string{`"b": id "70b3" is also device "a"'s`}},
		{name: "same id on two brokers is fine", devices: []source.Device{
			{Name: "a", Profile: park, Address: url, ID: "70B3"}, {Name: "b", Profile: park, Address: "tcp://10.0.0.2:1883", ID: "70b3"},
		}},
		{name: "two devices without device_id on one topic", devices: []source.Device{
			{Name: "a", Profile: noID, Address: url}, {Name: "b", Profile: noID, Address: url},
		}, want: []string{`"b": device "a" has the same profile`}},
		{name: "negative interval", devices: []source.Device{{Name: "a", Profile: park, Address: url, ID: "1", Interval: -1}},
			want: []string{"interval -1ns is negative"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := Config{Devices: c.devices}
			err := cfg.Validate()
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", c.want)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseBroker(t *testing.T) {
	cases := []struct {
		in, url, key, display string
	}{
		{"tcp://127.0.0.1:1883", "tcp://127.0.0.1:1883", "tcp://127.0.0.1:1883", "tcp://127.0.0.1:1883"},
		{"mqtt://Broker.local", "tcp://broker.local:1883", "tcp://broker.local:1883", "tcp://broker.local:1883"},
		{"mqtts://ns.example.com", "ssl://ns.example.com:8883", "ssl://ns.example.com:8883", "ssl://ns.example.com:8883"},
		{"mqtts://gw:s3cret@ns.example.com:8883", "ssl://gw:s3cret@ns.example.com:8883", "ssl://gw@ns.example.com:8883", "ssl://gw:xxxxx@ns.example.com:8883"},
		{"wss://ns.example.com/mqtt", "wss://ns.example.com:443/mqtt", "wss://ns.example.com:443/mqtt", "wss://ns.example.com:443/mqtt"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			a, err := parseBroker(c.in)
			if err != nil {
				t.Fatal(err)
			}
			if a.url != c.url || a.key != c.key || a.display != c.display {
				t.Fatalf("got %+v, want url %q key %q display %q", a, c.url, c.key, c.display)
			}
		})
	}
}

func TestDispatch(t *testing.T) {
	park, noise := parkingProfile(), noiseProfile()
	brokers, err := plan([]source.Device{
		{Name: "bay-1", Profile: park, Address: "tcp://h:1883", ID: "AA01"},
		{Name: "slm-1", Profile: noise, Address: "tcp://h:1883", ID: "bb02"},
		{Name: "meter", Profile: &profile.Profile{MQTT: &profile.MQTT{Format: profile.FormatJSON, Topic: "site/meter"}}, Address: "tcp://h:1883"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := brokers[0]
	if len(brokers) != 1 || strings.Join(b.filters, " ") != "application/+/device/+/event/up site/meter" {
		t.Fatalf("brokers %d, filters %v: want one broker, each filter once", len(brokers), b.filters)
	}
	up := "application/x/device/y/event/up"
	cases := []struct {
		topic, payload string
		device, reason string
	}{
		{up, `{"deviceInfo":{"devEui":"aa01"}}`, "bay-1", ""},
		{up, `{"deviceInfo":{"devEui":"BB02"}}`, "slm-1", ""},
		{up, `{"deviceInfo":{"devEui":"cc03"}}`, "", "unknown_device"},
		{up, `{"deviceInfo":{}}`, "", "no_device_id"},
		{"site/meter", `{"kwh":1}`, "meter", ""},
		{"site/other", `{"kwh":1}`, "", "no_route"},
	}
	for _, c := range cases {
		t.Run(c.topic+" "+c.payload, func(t *testing.T) {
			d, _, reason := b.dispatch(c.topic, []byte(c.payload))
			name := ""
			if d != nil {
				name = d.Name
			}
			if name != c.device || reason != c.reason {
				t.Fatalf("dispatch = %q, %q; want %q, %q", name, reason, c.device, c.reason)
			}
		})
	}
}
