package sim

import (
	"bufio"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/tidwall/gjson"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
)

const airYAML = `model: Test Air Station
manufacturer: Ponte
source: test profile for ponte-sim
category: air
kind: mqtt
mqtt:
  format: json
  topic: city/+/air
  device_id: id
  root: data
  fields:
    - {name: pm10, path: pm10, type: float, unit: ug/m3}
    - {name: no2, path: gases.no2, type: float, unit: ug/m3}
`

const weatherYAML = `model: Test Weather
manufacturer: Ponte
source: test profile for ponte-sim
category: weather
kind: serial
serial:
  framing: {start: "$", end: "\r\n"}
  mode: free_running
  checksum: {kind: nmea_xor}
  records:
    - name: mda
      regex: '^WIMDA,(?P<temp>-?\d+\.\d),C$'
      example: 'WIMDA,21.5,C*0D'
      fields:
        - {name: temperature, group: temp, type: float, unit: "°C"}
`

// runSim runs the simulator in process until the test ends.
func runSim(t *testing.T, args ...string) {
	t.Helper()
	o, err := ParseArgs(args, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, nil, o) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

func TestRunMQTT(t *testing.T) {
	broker := testenv.Mosquitto(t)
	sub := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID("run-test"))
	if tok := sub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer sub.Disconnect(100)
	msgs := make(chan paho.Message, 100)
	if tok := sub.Subscribe("city/+/air", 1, func(_ paho.Client, m paho.Message) { msgs <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	runSim(t, "--profile", writeProfile(t, airYAML), "--mqtt", broker.URL, "--mqtt-ids", "st1,st2",
		"--interval", "50ms", "--fault", "st2=timeout")
	seen := map[string]int{}
	for len(seen) == 0 || seen["st1"] < 3 {
		select {
		case m := <-msgs:
			js := gjson.ParseBytes(m.Payload())
			id := js.Get("id").String()
			if m.Topic() != "city/"+id+"/air" || !js.Get("data.gases.no2").Exists() {
				t.Errorf("message on %s: %s", m.Topic(), m.Payload())
			}
			seen[id]++
		case <-time.After(10 * time.Second):
			t.Fatalf("messages seen: %v", seen)
		}
	}
	if seen["st2"] != 0 {
		t.Errorf("st2 under timeout fault published %d messages", seen["st2"])
	}
}

func TestRunSerial(t *testing.T) {
	a, b := testenv.PtyPair(t)
	path := writeProfile(t, weatherYAML)
	p, err := profile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	port := openPty(t, b)
	runSim(t, "--profile", path, "--serial", a, "--interval", "50ms", "--time-scale", "3600")
	sc := bufio.NewScanner(readerFunc(port.Read))
	for n := 0; n < 3; {
		if !sc.Scan() {
			t.Fatalf("after %d frames: %v", n, sc.Err())
		}
		line := strings.TrimPrefix(strings.TrimSuffix(sc.Text(), "\r"), "$")
		if line == "" {
			continue
		}
		data, err := p.Serial.Checksum.Verify(line)
		if err != nil || !p.Serial.Records[0].Re.MatchString(data) {
			t.Fatalf("line %q does not match the profile's regex", line)
		}
		verifyChecksum(t, profile.ChecksumNMEAXOR, line)
		n++
	}
}

// TestClockZone: the simulated clock reads the hour of the day in its zone
// (Italy by default), whatever the machine's.
func TestClockZone(t *testing.T) {
	rome, err := zone("")
	if err != nil {
		t.Fatal(err)
	}
	now := NewClock(1, rome).Now()
	if now.Location().String() != DefaultZone {
		t.Errorf("clock in %s, want %s", now.Location(), DefaultZone)
	}
	if _, err := zone("Mars/Olympus"); err == nil {
		t.Error("an unknown zone accepted")
	}
	_, err = ParseArgs([]string{"--profile", "p.yaml", "--modbus-tcp", "127.0.0.1:0", "--zone", "Mars/Olympus"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), `--zone "Mars/Olympus"`) {
		t.Errorf("--zone Mars/Olympus: %v", err)
	}
}

// TestAcceleratedMQTTStampsRealTime: with a fast clock the values run
// ahead, but MQTT messages carry the real time, which ingest accepts.
func TestAcceleratedMQTTStampsRealTime(t *testing.T) {
	d, err := NewMQTTDevice(mqttProfile(profile.FormatJSON), "70b3d57ed0001a2b", 1)
	if err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(10 * time.Hour)
	real := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	d.SetStamp(func() time.Time { return real })
	_, payload := d.Message(future)
	if !strings.Contains(string(payload), real.Format(time.RFC3339Nano)) || strings.Contains(string(payload), future.UTC().Format(time.RFC3339Nano)) {
		t.Errorf("payload %s: want the stamp %s, not the simulated time", payload, real.Format(time.RFC3339Nano))
	}
}
