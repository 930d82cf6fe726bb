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
)

// TestProbeModbusTimeoutHonoured: a controller answering 1.5 s late is
// read with --timeout 3s, as the agent reads it with a 3 s device timeout
// (probe once capped every request at 1 s), and fails with --timeout 1s.
func TestProbeModbusTimeoutHonoured(t *testing.T) {
	const signal = "../../firmware-profiles/signal-controller-status.yaml"
	addr, srv := simTCP(t, signal, 1)
	srv.Unit(1).SetFault(sim.FaultSlow)

	code, out, errs := run(t, "probe", "--profile", signal, "--modbus", addr, "--unit", "1", "--timeout", "3s", "--json")
	if code != ExitOK || strings.Contains(out, "bad_") {
		t.Fatalf("--timeout 3s on a device answering after %s: exit %d\n%s\n%s", sim.SlowDelay, code, out, errs)
	}
	code, out, _ = run(t, "probe", "--profile", signal, "--modbus", addr, "--unit", "1", "--timeout", "1s", "--json")
	if code != ExitFail || !strings.Contains(out, `"quality":"bad_comm"`) {
		t.Fatalf("--timeout 1s: exit %d, want %d with bad_comm readings:\n%s", code, ExitFail, out)
	}
}

// TestProbeBlockNotation: a failed read names its block as the profile
// writes addresses: the SDM630 profile's hex ("input 0x0000+..."), the
// signal controller's decimal ("holding 0+...").
func TestProbeBlockNotation(t *testing.T) {
	for _, c := range []struct{ path, want string }{
		{sdm630, "read input 0x0000+"},
		{"../../firmware-profiles/signal-controller-status.yaml", "read holding 0+"},
	} {
		addr, srv := simTCP(t, c.path, 1)
		srv.Unit(1).SetFault(sim.FaultException)
		_, out, _ := run(t, "probe", "--profile", c.path, "--modbus", addr, "--json")
		if !strings.Contains(out, c.want) {
			t.Errorf("%s: output lacks %q:\n%s", c.path, c.want, out)
		}
	}
}

// TestProbeMQTTSkipReasons: through a real Mosquitto, a probe that sees
// only another sensor's uplinks, malformed JSON and MAC-only uplinks of
// its own sensor says how many it saw, why it used none, and what to do.
func TestProbeMQTTSkipReasons(t *testing.T) {
	const pls = "../../firmware-profiles/bosch-pls-chirpstack.yaml"
	broker := testenv.Mosquitto(t)
	p, err := profile.Load(pls)
	if err != nil {
		t.Fatal(err)
	}
	other, err := sim.NewMQTTDevice(p, "70b3d57ed0001a2c", 1)
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.NewClientOptions().AddBroker(broker.URL).SetClientID("sim-pub"))
	if tok := c.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer c.Disconnect(100)
	const own = "application/app1/device/70b3d57ed0001a2b/event/up"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(150 * time.Millisecond)
		defer tick.Stop()
		for {
			topic, payload := other.Message(time.Now())
			c.Publish(topic, 0, false, payload)
			c.Publish(own, 0, false, []byte(`{"deviceInfo":{"devEui":"70b3d57ed0001a2b"`))
			c.Publish(own, 0, false, []byte(`{"deviceInfo":{"devEui":"70b3d57ed0001a2b"},"time":"`+time.Now().UTC().Format(time.RFC3339)+`","fPort":0}`))
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })

	code, out, errs := run(t, "probe", "--profile", pls, "--mqtt", broker.URL, "--id", "70B3D57ED0001A2B", "--timeout", "2s")
	if code != ExitFail || out != "" {
		t.Fatalf("exit %d, stdout %q; want %d and nothing printed", code, out, ExitFail)
	}
	for _, want := range []string{"used none:", "another device ID (70b3d57ed0001a2c)", "malformed JSON",
		"no application payload", "trigger an uplink", "10-15 minutes", "raise --timeout", "check --id"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errs)
		}
	}
	if !strings.Contains(errs, "saw ") {
		t.Errorf("stderr does not say how many messages it saw:\n%s", errs)
	}
}
