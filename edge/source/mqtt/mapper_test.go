package mqtt

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

type wantReading struct {
	point  string
	value  wire.Value
	q      wire.Quality
	reason string // substring of Reason for bad readings
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestMapFixtures(t *testing.T) {
	cases := []struct {
		name     string
		prof     *profile.Profile
		payload  []byte
		received time.Time
		wantID   string
		wantTime time.Time
		issue    TimeIssue
		want     []wantReading
		missing  []string
	}{
		{
			name: "chirpstack parking", prof: parkingProfile(), payload: fixture(t, "chirpstack_v4_parking.json"),
			received: mustTime("2024-05-14T07:42:19Z"),
			wantID:   "70b3d5e75e001a2c", wantTime: mustTime("2024-05-14T07:42:18.823500726Z"),
			want: []wantReading{
				{point: "occupied", value: wire.Bool(true)},
				{point: "battery", value: wire.Float(3610 * 0.001)},
				{point: "temperature", value: wire.Int(14)},
			},
		},
		{
			name: "chirpstack noise", prof: noiseProfile(), payload: fixture(t, "chirpstack_v4_noise.json"),
			received: mustTime("2024-05-14T21:15:04Z"),
			wantID:   "a84041000181c2e1", wantTime: mustTime("2024-05-14T21:15:03.112874Z"),
			want: []wantReading{
				{point: "laeq", value: wire.Float(61.3)},
				{point: "lamax", value: wire.Float(78.9)},
				{point: "la90", value: wire.Float(52.1)},
				{point: "battery", value: wire.Int(97)},
				{point: "alarm", value: wire.Bool(false)},
			},
		},
		{
			name: "tts air", prof: airProfile(), payload: fixture(t, "tts_v3_air.json"),
			received: mustTime("2024-05-14T09:30:13Z"),
			wantID:   "0004A30B001C0530", wantTime: mustTime("2024-05-14T09:30:12.404619374Z"),
			want: []wantReading{
				{point: "pm2_5", value: wire.Float(12.4)},
				{point: "pm10", value: wire.Float(20.1)},
				{point: "no2", value: wire.Int(38)},
				{point: "temperature", value: wire.Float(18.3)},
				{point: "humidity", value: wire.Float(64)},
			},
		},
		{
			name: "tts abp device without dev_eui falls back to device_id", prof: airProfile(),
			payload:  []byte(strings.Replace(string(fixture(t, "tts_v3_air.json")), `"dev_eui": "0004A30B001C0530",`, "", 1)),
			received: mustTime("2024-05-14T09:30:13Z"),
			wantID:   "aq-piazza-liberta-01", wantTime: mustTime("2024-05-14T09:30:12.404619374Z"),
			want: []wantReading{
				{point: "pm2_5", value: wire.Float(12.4)},
				{point: "pm10", value: wire.Float(20.1)},
				{point: "no2", value: wire.Int(38)},
				{point: "temperature", value: wire.Float(18.3)},
				{point: "humidity", value: wire.Float(64)},
			},
		},
		{
			name: "plain json", prof: plainProfile(), payload: fixture(t, "plain_noise.json"),
			received: mustTime("2024-05-14T21:15:01Z"),
			wantID:   "slm-07", wantTime: mustTime("2024-05-14T21:15:00Z"),
			want: []wantReading{
				{point: "laeq", value: wire.Float(58.4)},
				{point: "lamax", value: wire.Float(71.2)},
				{point: "overload", value: wire.Bool(false)},
				{point: "firmware", value: wire.String("2.1")},
			},
		},
		{
			name: "codec emitted only changed fields", prof: parkingProfile(),
			payload:  []byte(`{"deviceInfo":{"devEui":"70b3d5e75e001a2c"},"time":"2024-05-14T07:42:18Z","data":"AA==","object":{"occupied":false}}`),
			received: mustTime("2024-05-14T07:42:18Z"),
			wantID:   "70b3d5e75e001a2c", wantTime: mustTime("2024-05-14T07:42:18Z"),
			want:    []wantReading{{point: "occupied", value: wire.Bool(false)}},
			missing: []string{"battery", "temperature"},
		},
		{
			name: "wrong types, fractions, null and range", prof: parkingProfile(),
			payload:  []byte(`{"deviceInfo":{"devEui":"x"},"time":"2024-05-14T07:42:18Z","data":"AA==","object":{"occupied":"maybe","battery":5000,"temperature":14.5}}`),
			received: mustTime("2024-05-14T07:42:18Z"),
			wantID:   "x", wantTime: mustTime("2024-05-14T07:42:18Z"),
			want: []wantReading{
				{point: "occupied", q: wire.QualityBadDecode, reason: `object.occupied: expected a boolean`},
				{point: "battery", value: wire.Float(5), q: wire.QualityBadRange, reason: "outside range [2, 4]"},
				{point: "temperature", q: wire.QualityBadDecode, reason: "object.temperature: expected an integer, got number 14.5 (has a fraction)"},
			},
		},
		{
			name: "huge numbers", prof: noiseProfile(),
			payload:  []byte(`{"deviceInfo":{"devEui":"x"},"time":"2024-05-14T07:42:18Z","data":"AA==","object":{"LAeq":1e400,"LAmax":-1e999,"LA90":null,"battery":99999999999999999999,"alarm":[1]}}`),
			received: mustTime("2024-05-14T07:42:18Z"),
			wantID:   "x", wantTime: mustTime("2024-05-14T07:42:18Z"),
			want: []wantReading{
				{point: "laeq", q: wire.QualityBadDecode, reason: "out of the float64 range"},
				{point: "lamax", q: wire.QualityBadDecode, reason: "out of the float64 range"},
				{point: "la90", q: wire.QualityBadDecode, reason: "object.LA90: expected a number, got null"},
				{point: "battery", q: wire.QualityBadDecode, reason: "out of the int64 range"},
				{point: "alarm", q: wire.QualityBadDecode, reason: "got array [1]"},
			},
		},
		{
			name: "64-bit integer keeps every digit", prof: &profile.Profile{MQTT: &profile.MQTT{
				Format: profile.FormatJSON, Fields: []profile.Field{{Name: "energy", Path: "e", Type: profile.TypeInt}, {Name: "n", Path: "n", Type: profile.TypeInt}},
			}},
			payload:  []byte(`{"e":9007199254740993,"n":"1e3"}`),
			received: mustTime("2024-05-14T07:42:18Z"), wantTime: mustTime("2024-05-14T07:42:18Z"),
			want: []wantReading{{point: "energy", value: wire.Int(9007199254740993)}, {point: "n", value: wire.Int(1000)}},
		},
		{
			name: "codec failed: data but no object", prof: parkingProfile(),
			payload:  []byte(`{"deviceInfo":{"devEui":"x"},"time":"2024-05-14T07:42:18Z","fPort":2,"data":"AQ4aDg=="}`),
			received: mustTime("2024-05-14T07:42:18Z"),
			wantID:   "x", wantTime: mustTime("2024-05-14T07:42:18Z"),
			want: []wantReading{
				{point: "occupied", q: wire.QualityBadDecode, reason: "object: absent"},
				{point: "battery", q: wire.QualityBadDecode, reason: "object: absent"},
				{point: "temperature", q: wire.QualityBadDecode, reason: "object: absent"},
			},
		},
		{
			name: "object is not an object", prof: parkingProfile(),
			payload:  []byte(`{"deviceInfo":{"devEui":"x"},"time":"2024-05-14T07:42:18Z","data":"AQ==","object":"oops"}`),
			received: mustTime("2024-05-14T07:42:18Z"),
			wantID:   "x", wantTime: mustTime("2024-05-14T07:42:18Z"),
			want: []wantReading{
				{point: "occupied", q: wire.QualityBadDecode, reason: `object: expected an object, got string "oops"`},
				{point: "battery", q: wire.QualityBadDecode, reason: "expected an object"},
				{point: "temperature", q: wire.QualityBadDecode, reason: "expected an object"},
			},
		},
		{
			name: "time absent", prof: plainProfile(), payload: []byte(`{"id":"a","laeq":50}`),
			received: mustTime("2024-05-14T07:42:18Z"), wantID: "a", wantTime: mustTime("2024-05-14T07:42:18Z"), issue: TimeAbsent,
			want: []wantReading{{point: "laeq", value: wire.Float(50)}}, missing: []string{"lamax", "overload", "firmware"},
		},
		{
			name: "time unparsable", prof: plainProfile(), payload: []byte(`{"id":"a","ts":"yesterday","laeq":50}`),
			received: mustTime("2024-05-14T07:42:18Z"), wantID: "a", wantTime: mustTime("2024-05-14T07:42:18Z"), issue: TimeUnparsable,
			want: []wantReading{{point: "laeq", value: wire.Float(50)}}, missing: []string{"lamax", "overload", "firmware"},
		},
		{
			name: "time as unix milliseconds", prof: plainProfile(), payload: []byte(`{"id":7,"ts":1715672538500,"laeq":50}`),
			received: mustTime("2024-05-14T07:42:20Z"), wantID: "7", wantTime: time.UnixMilli(1715672538500).UTC(),
			want: []wantReading{{point: "laeq", value: wire.Float(50)}}, missing: []string{"lamax", "overload", "firmware"},
		},
		{
			name: "absurd time is kept and flagged", prof: plainProfile(), payload: []byte(`{"id":"a","ts":"1970-01-01T00:00:07Z","laeq":50}`),
			received: mustTime("2024-05-14T07:42:18Z"), wantID: "a", wantTime: mustTime("1970-01-01T00:00:07Z"), issue: TimeSkewed,
			want: []wantReading{{point: "laeq", value: wire.Float(50)}}, missing: []string{"lamax", "overload", "firmware"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Map(c.prof.MQTT, "some/topic", c.payload, c.received)
			if err != nil {
				t.Fatal(err)
			}
			if m.DeviceID != c.wantID {
				t.Errorf("device ID %q, want %q", m.DeviceID, c.wantID)
			}
			if !m.Time.Equal(c.wantTime) || m.TimeIssue != c.issue {
				t.Errorf("time %v (%q), want %v (%q)", m.Time, m.TimeIssue, c.wantTime, c.issue)
			}
			if strings.Join(m.Missing, ",") != strings.Join(c.missing, ",") {
				t.Errorf("missing %v, want %v", m.Missing, c.missing)
			}
			if len(m.Readings) != len(c.want) {
				t.Fatalf("got %d readings %+v, want %d", len(m.Readings), m.Readings, len(c.want))
			}
			units := map[string]string{}
			for _, f := range c.prof.MQTT.Fields {
				units[f.Name] = f.Unit
			}
			for i, w := range c.want {
				r := m.Readings[i]
				if r.Point != w.point || r.Quality != w.q || r.Unit != units[w.point] || !r.Time.Equal(c.wantTime) || r.Device != "" {
					t.Errorf("reading %d: %+v, want point %s quality %s unit %q", i, r, w.point, w.q, units[w.point])
				}
				if w.reason == "" && r.Reason != "" || !strings.Contains(r.Reason, w.reason) {
					t.Errorf("reading %s: reason %q, want it to contain %q", w.point, r.Reason, w.reason)
				}
				if (w.q == wire.QualityGood || w.q == wire.QualityBadRange) && !sameValue(r.Value, w.value) {
					t.Errorf("reading %s: value %v (%s), want %v (%s)", w.point, r.Value, r.Value.Kind, w.value, w.value.Kind)
				}
			}
		})
	}
}

func sameValue(a, b wire.Value) bool {
	if a.Kind != b.Kind {
		return false
	}
	if a.Kind == wire.KindFloat {
		return math.Abs(a.F-b.F) <= 1e-9*math.Max(1, math.Abs(b.F))
	}
	return a == b
}

func TestMapWholeMessageErrors(t *testing.T) {
	cases := []struct {
		name    string
		prof    *profile.Profile
		payload string
		want    error
		detail  string
	}{
		{"not JSON", parkingProfile(), "\x01\x02garbage", ErrNotJSON, "invalid JSON"},
		{"truncated JSON", parkingProfile(), `{"deviceInfo":{"devEui":"x"`, ErrNotJSON, "invalid JSON"},
		{"empty", parkingProfile(), ``, ErrNotJSON, "invalid JSON"},
		{"array", parkingProfile(), `[{"deviceInfo":{}}]`, ErrNotJSON, "found array"},
		{"number", plainProfile(), `42`, ErrNotJSON, "found number 42"},
		{"no devEui", parkingProfile(), `{"deviceInfo":{"devEui":""},"object":{}}`, ErrNoDeviceID, `"deviceInfo.devEui"`},
		{"devEui is an object", parkingProfile(), `{"deviceInfo":{"devEui":{"a":1}},"object":{}}`, ErrNoDeviceID, `"deviceInfo.devEui"`},
		{"tts without any id", airProfile(), `{"end_device_ids":{},"uplink_message":{}}`, ErrNoDeviceID, `"end_device_ids.dev_eui"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Map(c.prof.MQTT, "application/a/device/b/event/up", []byte(c.payload), time.Now())
			var pe *PayloadError
			if !errors.Is(err, c.want) || !errors.As(err, &pe) {
				t.Fatalf("error %v, want a *PayloadError wrapping %v", err, c.want)
			}
			if pe.Topic != "application/a/device/b/event/up" || !strings.Contains(err.Error(), c.detail) || !strings.Contains(err.Error(), pe.Topic) {
				t.Fatalf("error %q should name the topic and contain %q", err, c.detail)
			}
		})
	}
}

func TestMapEmptyUplink(t *testing.T) {
	cases := []struct {
		name    string
		prof    *profile.Profile
		payload string
	}{
		{"chirpstack without data", parkingProfile(), `{"deviceInfo":{"devEui":"x"},"time":"2024-05-14T07:42:18Z","fCnt":3}`},
		{"tts without frm_payload", airProfile(), `{"end_device_ids":{"dev_eui":"x"},"received_at":"2024-05-14T07:42:18Z","uplink_message":{"f_cnt":3}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := Map(c.prof.MQTT, "t", []byte(c.payload), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if !m.Empty || len(m.Readings) != 0 || m.DeviceID != "x" {
				t.Fatalf("got %+v, want an empty uplink of device x", m)
			}
		})
	}
}

func TestDeviceID(t *testing.T) {
	cases := []struct {
		name    string
		prof    *profile.Profile
		payload string
		want    string
		ok      bool
	}{
		{"chirpstack", parkingProfile(), string(fixture(t, "chirpstack_v4_parking.json")), "70b3d5e75e001a2c", true},
		{"tts dev_eui", airProfile(), string(fixture(t, "tts_v3_air.json")), "0004A30B001C0530", true},
		{"tts explicit path gets no fallback", &profile.Profile{MQTT: &profile.MQTT{Format: profile.FormatTTSV3, DeviceID: "end_device_ids.dev_eui"}},
			`{"end_device_ids":{"device_id":"d"}}`, "", false},
		{"no path", &profile.Profile{MQTT: &profile.MQTT{Format: profile.FormatJSON}}, `{"id":"a"}`, "", false},
		{"numeric id", plainProfile(), `{"id":17}`, "17", true},
		{"bool id", plainProfile(), `{"id":true}`, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, ok := DeviceID(c.prof.MQTT, []byte(c.payload))
			if got != c.want || ok != c.ok {
				t.Fatalf("DeviceID = %q, %v; want %q, %v", got, ok, c.want, c.ok)
			}
		})
	}
}
