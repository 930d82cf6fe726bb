package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// runAgent starts an agent on the site config at path and returns it with
// a stop function that cancels it and returns Run's error.
func runAgent(t *testing.T, path string) (*Agent, func() error) {
	t.Helper()
	a, err := New(Config{Path: path, Version: "test", Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		ShutdownTimeout: 15 * time.Second, DrainTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once bool
	var runErr error
	stop := func() error {
		if !once {
			once = true
			cancel()
			select {
			case runErr = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("agent did not stop within 30s")
			}
		}
		return runErr
	}
	t.Cleanup(func() { _ = stop() })
	return a, stop
}

// TestEndToEnd runs the agent against simulated Modbus TCP meters, a
// LoRaWAN parking sensor published through a real Mosquitto, and a
// weather station on a pseudo-terminal, with a stand-in for ingest
// acknowledging what it receives.
func TestEndToEnd(t *testing.T) {
	broker := testenv.Mosquitto(t)
	ack := newAcknowledger(t, broker.URL, true)
	modbusAddr := startModbusSim(t, filepath.Join(shippedProfiles, "eastron-sdm630-v2.yaml"), 1, 2, 3)

	// A LoRaWAN parking sensor publishing through ChirpStack's format.
	pls, err := profile.Load(filepath.Join(shippedProfiles, "bosch-pls-chirpstack.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	bay, err := sim.NewMQTTDevice(pls, "70b3d57ed0052a01", 7)
	if err != nil {
		t.Fatal(err)
	}
	pub := mqttClient(t, broker.URL, "test-chirpstack")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = sim.PublishLoop(ctx, nil, pub, []*sim.MQTTDevice{bay}, 300*time.Millisecond) }()

	// A weather station talking NMEA on a serial line.
	agentSide, simSide := testenv.PtyPair(t)
	wxt, err := profile.Load(filepath.Join(shippedProfiles, "vaisala-wxt530-nmea.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	station, err := sim.NewLineDevice(wxt, 3)
	if err != nil {
		t.Fatal(err)
	}
	port, err := os.OpenFile(simSide, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	go func() { _ = station.Serve(ctx, port, 300*time.Millisecond) }()

	dir := t.TempDir()
	site := siteYAML("fi-test-01", broker.URL, dir, "127.0.0.1:0",
		modbusDevice("meter-1", modbusAddr, 1), modbusDevice("meter-2", modbusAddr, 2), modbusDevice("meter-3", modbusAddr, 3),
		fmt.Sprintf("  - {name: bay-1, profile: bosch-pls-chirpstack, address: %q, id: 70B3D57ED0052A01, location: {lon: 16.871, lat: 41.1226}, entity: urn:ngsi-ld:ParkingSpot:1}\n", broker.URL),
		fmt.Sprintf("  - {name: weather, profile: vaisala-wxt530-nmea, address: \"serial://%s?baud=19200\", interval: 300ms, location: {lon: 11.2632, lat: 43.7808}}\n", agentSide))
	path := filepath.Join(dir, "site.yaml")
	testenv.WriteFile(t, path, site)
	a, stop := runAgent(t, path)
	base := "http://" + a.Addr()

	want := []string{"meter-1", "meter-2", "meter-3", "bay-1", "weather"}
	testenv.Eventually(t, 20*time.Second, "readings of every device at ingest", func() bool {
		got := ack.devices()
		for _, d := range want {
			if got[d] == 0 {
				return false
			}
		}
		return true
	})

	for _, c := range []struct{ path, want string }{{"/healthz", "ok"}, {"/readyz", "ready"}} {
		t.Run(c.path, func(t *testing.T) {
			code, body := get(t, base+c.path)
			if code != 200 || strings.TrimSpace(body) != c.want {
				t.Errorf("%s: %d %q", c.path, code, body)
			}
		})
	}

	t.Run("status", func(t *testing.T) {
		var st Status
		testenv.Eventually(t, 10*time.Second, "every device ok and acks in /status", func() bool {
			_, body := get(t, base+"/status")
			st = Status{}
			if err := json.Unmarshal([]byte(body), &st); err != nil {
				t.Fatalf("status JSON: %v\n%s", err, body)
			}
			for _, d := range st.Devices {
				if d.State != StateOK || d.LastGood == nil {
					return false
				}
			}
			return st.Uplink.Connected && st.Buffer.AckedSeq > 0
		})
		if st.Gateway != "fi-test-01" || st.Version != "test" || !st.Ready || len(st.Devices) != len(want) {
			t.Errorf("status: %+v", st)
		}
		if st.Buffer.LastSeq < st.Buffer.AckedSeq || st.Buffer.Epoch == 0 || st.Uplink.SentSeq < st.Uplink.AckedSeq {
			t.Errorf("buffer/uplink positions inconsistent: %+v %+v", st.Buffer, st.Uplink)
		}
		for i, d := range st.Devices {
			if d.Name != want[i] || d.Readings == 0 || d.Location == nil {
				t.Errorf("device %d: %+v", i, d)
			}
		}
		if st.Devices[3].Kind != "mqtt" || st.Devices[3].Entity != "urn:ngsi-ld:ParkingSpot:1" {
			t.Errorf("bay: %+v", st.Devices[3])
		}
	})

	t.Run("metrics", func(t *testing.T) {
		code, body := get(t, base+"/metrics")
		if code != 200 {
			t.Fatalf("metrics: %d", code)
		}
		for _, m := range []string{
			`ponte_edge_device_up{device="meter-2"} 1`,
			`ponte_edge_agent_info{gateway="fi-test-01",version="test"} 1`,
			`ponte_edge_agent_ready 1`,
			`ponte_edge_agent_devices 5`,
			"ponte_edge_buffer_records ",
			"ponte_edge_mqtt_broker_connected{",
			"process_resident_memory_bytes ",
		} {
			if !strings.Contains(body, m) {
				t.Errorf("metrics lack %q", m)
			}
		}
	})

	// The meters' values are what the simulator serves: voltages near 230 V.
	t.Run("values", func(t *testing.T) {
		ack.mu.Lock()
		defer ack.mu.Unlock()
		n := 0
		for _, rec := range ack.records {
			r, err := wire.DecodeRecord(rec)
			if err != nil {
				t.Fatal(err)
			}
			if r.Point == "voltage_l1" && r.Quality.Good() {
				n++
				if f := r.Value.F; f < 220 || f > 240 {
					t.Errorf("%s voltage_l1 = %v", r.Device, f)
				}
			}
		}
		if n == 0 {
			t.Error("no good voltage_l1 reading")
		}
	})

	// The buffer drains: everything buffered up to now is acknowledged.
	last := a.Status().Buffer.LastSeq
	testenv.Eventually(t, 15*time.Second, "ingest to acknowledge the buffer", func() bool { return a.Status().Buffer.AckedSeq >= last })

	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	ack.check(t)
	testenv.Eventually(t, 5*time.Second, "offline status", func() bool {
		ack.mu.Lock()
		defer ack.mu.Unlock()
		return ack.status["fi-test-01"].State == wire.StateOffline
	})
}
