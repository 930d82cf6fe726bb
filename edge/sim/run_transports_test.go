package sim

import (
	"bufio"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/tidwall/gjson"
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
