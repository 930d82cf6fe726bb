package mqtt

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

func loadProfile(t *testing.T, path string) *profile.Profile {
	t.Helper()
	p, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func ws558ChirpStack(t *testing.T) *profile.Profile {
	return loadProfile(t, filepath.Join("..", "..", "..", "firmware-profiles", "milesight-ws558-chirpstack.yaml"))
}

// TestWS558VendorDecoder maps the uplink of the WS558 README's example
// (08310001 058164 07C90200 0374B208 068301000000 048001000000), decoded
// by Milesight's ws558-decoder.js, through the shipped profile: the
// switch states "on"/"off" are booleans.
func TestWS558VendorDecoder(t *testing.T) {
	p := ws558ChirpStack(t)
	m, err := Map(p.MQTT, "application/6d0b1f4e/device/24e124468d100558/event/up", fixture(t, "chirpstack_v4_ws558.json"), time.Date(2024, 5, 14, 19, 6, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]wire.Value{
		"voltage": wire.Float(222.6), "active_power": wire.Float(1), "power_factor": wire.Float(100),
		"total_current": wire.Float(2), "power_consumption": wire.Float(1),
		"switch_1": wire.Bool(true), "switch_2": wire.Bool(false),
	}
	if m.DeviceID != "24e124468d100558" || len(m.Readings) != len(want) {
		t.Fatalf("device %q, %d readings %+v; want %d", m.DeviceID, len(m.Readings), m.Readings, len(want))
	}
	for _, r := range m.Readings {
		if w := want[r.Point]; !r.Quality.Good() || !sameValue(r.Value, w) {
			t.Errorf("%s = %v %s %s, want %v", r.Point, r.Value, r.Quality, r.Reason, w)
		}
	}
}

func TestToBoolOnOff(t *testing.T) {
	f := &profile.Field{Name: "s", Path: "s", Type: profile.TypeBool}
	for in, want := range map[string]bool{`{"s":"on"}`: true, `{"s":"OFF"}`: false, `{"s":" On "}`: true, `{"s":"true"}`: true, `{"s":0}`: false} {
		m, err := Map(&profile.MQTT{Topic: "t", Fields: []profile.Field{*f}}, "t", []byte(in), time.Now())
		if err != nil || len(m.Readings) != 1 || !m.Readings[0].Quality.Good() || m.Readings[0].Value.B != want {
			t.Errorf("%s: %+v %v, want %v", in, m.Readings, err, want)
		}
	}
	m, _ := Map(&profile.MQTT{Topic: "t", Fields: []profile.Field{*f}}, "t", []byte(`{"s":"onn"}`), time.Now())
	if len(m.Readings) != 1 || m.Readings[0].Quality != wire.QualityBadDecode || !strings.Contains(m.Readings[0].Reason, "on/off") {
		t.Errorf("\"onn\": %+v, want bad_decode naming on/off", m.Readings)
	}
}

func TestBuildDownlink(t *testing.T) {
	cases := []struct {
		format, up       string
		topic, payload   string
		wantErrSubstring string
	}{
		{format: profile.FormatChirpStackV4, up: "application/6d0b1f4e/device/24e124468d100558/event/up",
			topic:   "application/6d0b1f4e/device/24e124468d100558/command/down",
			payload: `{"devEui":"24e124468d100558","confirmed":false,"fPort":85,"data":"CAEB"}`},
		{format: profile.FormatTTSV3, up: "v3/illuminazione@ttn/devices/ws558-lungarno-02/up",
			topic:   "v3/illuminazione@ttn/devices/ws558-lungarno-02/down/push",
			payload: `{"downlinks":[{"f_port":85,"frm_payload":"CAEB","priority":"NORMAL"}]}`},
		{format: profile.FormatChirpStackV4, up: "lora/24e124468d100558/up", wantErrSubstring: "expected application/{application_id}/device/{dev_eui}/event/up"},
		{format: profile.FormatTTSV3, up: "v3/app/devices/x/join", wantErrSubstring: "expected v3/{application id}@{tenant id}/devices/{device id}/up"},
		{format: profile.FormatJSON, up: "a/b", wantErrSubstring: "has no downlinks"},
	}
	for _, c := range cases {
		topic, payload, err := buildDownlink(c.format, c.up, 85, []byte{8, 1, 1}, time.Time{})
		if c.wantErrSubstring != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErrSubstring) {
				t.Errorf("%s: %v, want an error with %q", c.up, err, c.wantErrSubstring)
			}
			continue
		}
		if err != nil || topic != c.topic || string(payload) != c.payload {
			t.Errorf("%s:\n got %s %s %v\nwant %s %s", c.up, topic, payload, err, c.topic, c.payload)
		}
	}
}

// downlinkRig is a running source with one WS558, a network server's
// stand-in publishing its uplinks, and a subscriber to the downlinks.
type downlinkRig struct {
	src   *Source
	pub   paho.Client
	up    string // the uplink topic
	mu    sync.Mutex
	downs []paho.Message
}

func newDownlinkRig(t *testing.T, prof *profile.Profile, id, upTopic string) *downlinkRig {
	t.Helper()
	broker := testenv.Mosquitto(t)
	bm := NewMetrics(nil)
	src, err := New(Config{
		Devices:  []source.Device{{Name: "ws558-1", Profile: prof, Address: broker.URL, ID: id}},
		Logger:   testLogger(t),
		ClientID: fmt.Sprintf("ponte-test-%d", time.Now().UnixNano()), BrokerMetrics: bm,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = src.Run(ctx, (&collector{}).emit) }()
	t.Cleanup(func() { cancel(); <-done })
	testenv.Eventually(t, 15*time.Second, "subscribed", func() bool { return value(bm.Subscribed.WithLabelValues(broker.URL)) == 1 })
	r := &downlinkRig{src: src, pub: publisher(t, broker.URL), up: upTopic}
	sub := publisher(t, broker.URL)
	for _, f := range []string{"application/+/device/+/command/#", "v3/+/devices/+/down/#"} {
		if tok := sub.Subscribe(f, 1, func(_ paho.Client, m paho.Message) {
			r.mu.Lock()
			r.downs = append(r.downs, m)
			r.mu.Unlock()
		}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("subscribe %s: %v", f, tok.Error())
		}
	}
	return r
}

func (r *downlinkRig) downlinks() []paho.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]paho.Message(nil), r.downs...)
}

// write runs WritePoint in the background; the result arrives on the
// returned channel, the Sent detail on sent.
func (r *downlinkRig) write(point string, v float64, expires time.Time) (res <-chan writeResult, sent <-chan string) {
	resc, sentc := make(chan writeResult, 1), make(chan string, 1)
	go func() {
		rb, err := r.src.WritePoint(context.Background(), source.WriteRequest{
			Device: "ws558-1", Point: point, Value: v, Expires: expires,
			Rules: &downlinkOf(r.src.device("ws558-1").prof, point).Write,
			Sent:  func(d string) { sentc <- d },
		})
		resc <- writeResult{rb, err}
	}()
	return resc, sentc
}

type writeResult struct {
	readback float64
	err      error
}

// uplinkWith publishes fixture with the switch states replaced, and
// waits until the source has taken it as the device's last uplink.
func (r *downlinkRig) uplinkWith(t *testing.T, fixtureName, sw1, sw2 string) {
	t.Helper()
	s := string(fixture(t, fixtureName))
	s = strings.Replace(s, `"switch_1": "on"`, `"switch_1": "`+sw1+`"`, 1)
	s = strings.Replace(s, `"switch_2": "off"`, `"switch_2": "`+sw2+`"`, 1)
	publish(t, r.pub, r.up, []byte(s), false)
}

func (r *downlinkRig) heard(t *testing.T) {
	t.Helper()
	d := r.src.device("ws558-1")
	testenv.Eventually(t, 10*time.Second, "uplink taken", func() bool {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.lastUp == r.up
	})
}

// testDownlinkRoundTrip is the LoRaWAN write of issue 16 against a real
// Mosquitto: before any uplink the topic is unknown; after one, the
// downlink appears on the network server's documented topic with the
// documented JSON, and an uplink reading the switch back completes it.
func testDownlinkRoundTrip(t *testing.T, prof *profile.Profile, id, upTopic, fixtureName, downTopic, downJSON string) {
	r := newDownlinkRig(t, prof, id, upTopic)

	_, err := r.src.WritePoint(context.Background(), source.WriteRequest{Device: "ws558-1", Point: "switch_2", Value: 1, Expires: time.Now().Add(time.Minute)})
	if err == nil || !strings.Contains(err.Error(), "downlink topic unknown: no uplink from ws558-1 yet") {
		t.Fatalf("write before any uplink: %v, want downlink topic unknown", err)
	}
	if _, err := r.src.WritePoint(context.Background(), source.WriteRequest{Device: "nope", Point: "switch_2", Value: 1}); !errors.Is(err, source.ErrUnknownDevice) {
		t.Errorf("unknown device: %v, want ErrUnknownDevice", err)
	}

	r.uplinkWith(t, fixtureName, "off", "off")
	r.heard(t)
	expires := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	downJSON = strings.Replace(downJSON, "EXPIRES", expires.Format(time.RFC3339), 1)
	res, sent := r.write("switch_2", 1, expires)
	detail := wait(t, "Sent call", sent)
	testenv.Eventually(t, 10*time.Second, "downlink on the broker", func() bool { return len(r.downlinks()) == 1 })
	d := r.downlinks()[0]
	// QoS 1 to ChirpStack; The Things Stack's MQTT server takes QoS 0 only.
	wantQoS := map[string]byte{profile.FormatChirpStackV4: 1, profile.FormatTTSV3: 0}[prof.MQTT.Format]
	if d.Topic() != downTopic || string(d.Payload()) != downJSON || d.Qos() != wantQoS {
		t.Errorf("downlink %s %s qos %d\nwant %s %s qos %d", d.Topic(), d.Payload(), d.Qos(), downTopic, downJSON, wantQoS)
	}
	if !strings.Contains(detail, "080202") || !strings.Contains(detail, downTopic) {
		t.Errorf("Sent detail %q: want the hex payload and the topic", detail)
	}
	// An uplink still showing the old state does not complete the write;
	// the one after the switch does.
	r.uplinkWith(t, fixtureName, "off", "off")
	r.uplinkWith(t, fixtureName, "off", "on")
	got := wait(t, "write result", res)
	if got.err != nil || got.readback != 1 {
		t.Fatalf("write: readback %v, %v; want 1", got.readback, got.err)
	}
}

func TestDownlinkChirpStack(t *testing.T) {
	testDownlinkRoundTrip(t, ws558ChirpStack(t), "24E124468D100558",
		"application/6d0b1f4e/device/24e124468d100558/event/up", "chirpstack_v4_ws558.json",
		"application/6d0b1f4e/device/24e124468d100558/command/down",
		`{"devEui":"24e124468d100558","confirmed":false,"fPort":85,"data":"CAIC","expiresAt":"EXPIRES"}`)
}

func TestDownlinkTTS(t *testing.T) {
	testDownlinkRoundTrip(t, loadProfile(t, filepath.Join("testdata", "ws558-tts.yaml")), "24e124468d100559",
		"v3/illuminazione@ttn/devices/ws558-lungarno-02/up", "tts_v3_ws558.json",
		"v3/illuminazione@ttn/devices/ws558-lungarno-02/down/push",
		`{"downlinks":[{"f_port":85,"frm_payload":"CAIC","priority":"NORMAL"}]}`)
}

// TestDownlinkExpiry: without a read-back before expiry the write fails,
// saying what it last read; a second write to the device, queued behind
// it, is sent after it and completes.
func TestDownlinkExpiry(t *testing.T) {
	up := "application/6d0b1f4e/device/24e124468d100558/event/up"
	r := newDownlinkRig(t, ws558ChirpStack(t), "24e124468d100558", up)
	r.uplinkWith(t, "chirpstack_v4_ws558.json", "off", "off")
	r.heard(t)

	res, sent := r.write("switch_1", 1, time.Now().Add(2*time.Second))
	wait(t, "Sent call", sent)
	got := wait(t, "write result", res)
	if got.err == nil || !strings.Contains(got.err.Error(), "no read-back of switch_1 before expiry (no uplink since the downlink)") {
		t.Errorf("expired write without uplinks: %v", got.err)
	}

	res, sent = r.write("switch_1", 1, time.Now().Add(3*time.Second))
	wait(t, "Sent call", sent)
	// A write queued behind the first one sends nothing until it ends.
	res2, sent2 := r.write("switch_2", 1, time.Now().Add(time.Minute))
	r.uplinkWith(t, "chirpstack_v4_ws558.json", "off", "off")
	got = wait(t, "write result", res)
	if got.err == nil || !strings.Contains(got.err.Error(), "no read-back of switch_1 before expiry (last read 0)") {
		t.Errorf("expired write with a wrong read-back: %v", got.err)
	}
	wait(t, "Sent call of the queued write", sent2)
	r.uplinkWith(t, "chirpstack_v4_ws558.json", "off", "on")
	if got := wait(t, "queued write result", res2); got.err != nil || got.readback != 1 {
		t.Errorf("queued write: %v %v, want 1", got.readback, got.err)
	}
	testenv.Eventually(t, 10*time.Second, "three downlinks", func() bool { return len(r.downlinks()) == 3 })
	if got.err == nil || !strings.Contains(got.err.Error(), "drops the queued downlink at the command's expiry") {
		t.Errorf("ChirpStack expiry: %v, want it to say the network server drops the downlink", got.err)
	}
}

// TestDownlinkExpiryClearsTTSQueue: The Things Stack's downlinks carry no
// expiry, so a write that ends without a read-back replaces the device's
// queue by an empty one: the downlink is never delivered after the
// operator was told it failed.
func TestDownlinkExpiryClearsTTSQueue(t *testing.T) {
	up := "v3/illuminazione@ttn/devices/ws558-lungarno-02/up"
	r := newDownlinkRig(t, loadProfile(t, filepath.Join("testdata", "ws558-tts.yaml")), "24e124468d100559", up)
	r.uplinkWith(t, "tts_v3_ws558.json", "off", "off")
	r.heard(t)
	res, sent := r.write("switch_1", 1, time.Now().Add(2*time.Second))
	wait(t, "Sent call", sent)
	got := wait(t, "write result", res)
	if got.err == nil || !strings.Contains(got.err.Error(), "the device's downlink queue was cleared") {
		t.Errorf("expired write: %v, want the queue cleared", got.err)
	}
	testenv.Eventually(t, 10*time.Second, "the push and the replace", func() bool { return len(r.downlinks()) == 2 })
	d := r.downlinks()[1]
	if d.Topic() != "v3/illuminazione@ttn/devices/ws558-lungarno-02/down/replace" || string(d.Payload()) != `{"downlinks":[]}` {
		t.Errorf("after the expiry: %s %s, want an empty replace of the queue", d.Topic(), d.Payload())
	}
}
