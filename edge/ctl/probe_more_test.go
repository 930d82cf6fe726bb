package ctl

import (
	"context"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestProbeModbusRTU probes unit 7 of three slaves sharing one RS-485 line
// (a socat pty pair), as the technician's rtu:// address does.
func TestProbeModbusRTU(t *testing.T) {
	const aqt = "../../firmware-profiles/vaisala-aqt420.yaml"
	simEnd, ourEnd := testenv.PtyPair(t)
	p, err := profile.Load(aqt)
	if err != nil {
		t.Fatal(err)
	}
	var units []*sim.ModbusUnit
	for _, id := range []uint8{1, 7, 9} {
		u, err := sim.NewModbusUnit(p, id, int64(id))
		if err != nil {
			t.Fatal(err)
		}
		units = append(units, u)
	}
	if err := units[1].SetValue("no2", wire.Float(41.5)); err != nil {
		t.Fatal(err)
	}
	serveRTU(t, simEnd, units...)

	code, out, errs := run(t, "probe", "--profile", aqt, "--modbus", "rtu://"+ourEnd+"?baud=9600&parity=E", "--unit", "7", "--json")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	// 41.5 as float32 is 42 26 00 00; the profile's CDAB order puts the low word first.
	if !strings.Contains(out, `{"point":"no2","value":41.5,"unit":"ug/m3","raw":"00004226","quality":"good"}`) {
		t.Fatalf("no2 line missing or wrong:\n%s", out)
	}
	if units[0].Requests() != 0 || units[2].Requests() != 0 {
		t.Fatalf("other slaves were asked: %d, %d requests", units[0].Requests(), units[2].Requests())
	}
}

// TestProbeMQTT waits for a ChirpStack uplink of one DevEUI through a real
// Mosquitto, ignoring another sensor on the same application.
func TestProbeMQTT(t *testing.T) {
	const pls = "../../firmware-profiles/bosch-pls-chirpstack.yaml"
	broker := testenv.Mosquitto(t)
	p, err := profile.Load(pls)
	if err != nil {
		t.Fatal(err)
	}
	var devs []*sim.MQTTDevice
	for _, id := range []string{"70b3d57ed0001a2b", "70b3d57ed0001a2c"} {
		d, err := sim.NewMQTTDevice(p, id, 1)
		if err != nil {
			t.Fatal(err)
		}
		devs = append(devs, d)
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID("sim-pub"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = sim.PublishLoop(ctx, quiet(), c, devs, 200*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	code, out, errs := run(t, "probe", "--profile", pls, "--mqtt", broker.URL, "--id", "70B3D57ED0001A2B", "--json", "--timeout", "10s")
	if code != ExitOK {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	for _, want := range []string{`"point":"occupied"`, `"point":"temperature"`, `"point":"battery"`, `70b3d57ed0001a2b`} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "70b3d57ed0001a2c") {
		t.Fatalf("probe printed another device's uplink:\n%s", out)
	}
}
