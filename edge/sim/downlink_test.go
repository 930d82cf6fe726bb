package sim

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/ponte-city/ponte/edge/source"
	mqttsrc "github.com/ponte-city/ponte/edge/source/mqtt"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

func ws558(t *testing.T, format string) *profile.Profile {
	t.Helper()
	p, err := profile.Load(filepath.Join("..", "..", "firmware-profiles", "milesight-ws558-chirpstack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	p.MQTT.Format = format // same fields and downlinks through the other network server
	return p
}

// TestDownlinkDecode: the simulated WS558 takes the frames of Milesight's
// encoder (controlSwitch) and reports the switch as its decoder would.
func TestDownlinkDecode(t *testing.T) {
	d, err := NewMQTTDevice(ws558(t, profile.FormatChirpStackV4), "24e124468d100558", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := d.DownlinkTopics(); len(got) != 1 || !strings.HasSuffix(got[0], "/device/24e124468d100558/command/down") {
		t.Fatalf("downlink topics %v", got)
	}
	for _, c := range []struct {
		data  string // base64
		point string
		word  string
	}{{"CAEB", "switch_1", "on"}, {"CAEA", "switch_1", "off"}, {"CAIC", "switch_2", "on"}, {"CAIA", "switch_2", "off"}} {
		w, err := d.Downlink([]byte(`{"devEui":"24E124468D100558","confirmed":false,"fPort":85,"data":"` + c.data + `"}`))
		if err != nil || len(w) != 1 || w[0].Point != c.point {
			t.Fatalf("%s: %v %v", c.data, w, err)
		}
		_, up := d.Message(time.Now())
		if got := gjson.GetBytes(up, "object."+c.point).String(); got != c.word {
			t.Errorf("after %s: %s = %q, want %q", c.data, c.point, got, c.word)
		}
	}
	for _, bad := range []string{
		`{"devEui":"0000000000000001","fPort":85,"data":"CAEB"}`, // another device
		`{"devEui":"24e124468d100558","fPort":86,"data":"CAEB"}`, // another port
		`{"devEui":"24e124468d100558","fPort":85,"data":"CAMD"}`, // both switches: no template
		`{"devEui":"24e124468d100558","fPort":85,"data":"CAEF"}`, // 5: not in the enum
		`not json`,
	} {
		if w, err := d.Downlink([]byte(bad)); err == nil || len(w) != 0 {
			t.Errorf("%s: %v %v, want an error and nothing set", bad, w, err)
		}
	}
	tts, err := NewMQTTDevice(ws558(t, profile.FormatTTSV3), "24e124468d100559", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := tts.DownlinkTopics(); len(got) != 2 || !strings.HasSuffix(got[0], "/devices/eui-24e124468d100559/down/push") {
		t.Errorf("tts downlink topics %v", got)
	}
	if w, err := tts.Downlink([]byte(`{"downlinks":[{"f_port":85,"frm_payload":"CAIC","priority":"NORMAL"}]}`)); err != nil || len(w) != 1 || w[0] != (Written{"switch_2", 1}) {
		t.Errorf("tts downlink: %v %v", w, err)
	}
}

// TestCommandRoundTrip writes a WS558's switch through Ponte's MQTT source
// to the simulator over a real Mosquitto, for each network server: the
// source's downlink reaches the simulated device, which reports the
// switch at once, and the source reads it back.
func TestCommandRoundTrip(t *testing.T) {
	for _, format := range []string{profile.FormatChirpStackV4, profile.FormatTTSV3} {
		t.Run(format, func(t *testing.T) {
			broker := testenv.Mosquitto(t)
			p := ws558(t, format)
			dev, err := NewMQTTDevice(p, "24E124468D100558", 3)
			if err != nil {
				t.Fatal(err)
			}
			devs := []*MQTTDevice{dev}
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			c, err := connectMQTT(ctx, broker.URL, DownlinkHandler(nil, devs))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Disconnect(100) })

			src, err := mqttsrc.New(mqttsrc.Config{
				Devices:  []source.Device{{Name: "ws558-lungarno", Profile: p, Address: broker.URL, ID: "24e124468d100558"}},
				ClientID: fmt.Sprintf("ponte-edge-test-%d", time.Now().UnixNano()),
			})
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan wire.Reading, 64)
			go src.Run(ctx, func(rs []wire.Reading) source.Commit {
				for _, r := range rs {
					select {
					case got <- r:
					default:
					}
				}
				return source.Resolved(nil)
			})
			// Uplinks every 100 ms until the source has heard one: only
			// then does it know the downlink topic.
			loop, stopLoop := context.WithCancel(ctx)
			go PublishLoop(loop, nil, c, devs, 100*time.Millisecond)
			testenv.Eventually(t, 15*time.Second, "an uplink at the source", func() bool {
				select {
				case <-got:
					return true
				default:
					return false
				}
			})
			stopLoop()

			for _, v := range []float64{1, 0} {
				var sent string
				rb, err := src.WritePoint(ctx, source.WriteRequest{
					Device: "ws558-lungarno", Point: "switch_2", Value: v, Rules: &p.MQTT.Downlinks[1].Write,
					Expires: time.Now().Add(20 * time.Second), Sent: func(d string) { sent = d },
				})
				if err != nil || rb != v {
					t.Fatalf("write switch_2=%v: read back %v, %v (sent %q)", v, rb, err, sent)
				}
			}
		})
	}
}

// FuzzDownlink: no downlink payload panics the simulated device, and one
// that sets a point sets a value the profile's write rules allow.
func FuzzDownlink(f *testing.F) {
	f.Add(`{"devEui":"24e124468d100558","confirmed":false,"fPort":85,"data":"CAEB"}`, false)
	f.Add(`{"downlinks":[{"f_port":85,"frm_payload":"CAIC","priority":"NORMAL"}]}`, true)
	f.Add(`{"downlinks":[{"f_port":85,"frm_payload":null}]}`, true)
	f.Add(`{"devEui":"24e124468d100558","fPort":85,"data":"CAEF"}`, false)
	p, err := profile.Load(filepath.Join("..", "..", "firmware-profiles", "milesight-ws558-chirpstack.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	tts := *p
	m := *p.MQTT
	m.Format = profile.FormatTTSV3
	tts.MQTT = &m
	f.Fuzz(func(t *testing.T, payload string, useTTS bool) {
		prof := p
		if useTTS {
			prof = &tts
		}
		d, err := NewMQTTDevice(prof, "24e124468d100558", 1)
		if err != nil {
			t.Fatal(err)
		}
		ws, _ := d.Downlink([]byte(payload))
		for _, w := range ws {
			wp, err := prof.Writable(w.Point)
			if err != nil || wp.Write.Check(w.Value, wp.Unit) != nil {
				t.Fatalf("%s set %s=%v, which the profile does not allow", payload, w.Point, w.Value)
			}
		}
	})
}
