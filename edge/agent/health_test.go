package agent

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestDeviceCounts: the uplink's device counts are /status's states: ok
// is up; failing and refused are bad; a device not read yet is neither.
func TestDeviceCounts(t *testing.T) {
	r := testRecorder(t, "ok", "failing", "refused", "unknown")
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	r.emit([]wire.Reading{
		{Device: "ok", Point: "v", Value: wire.Int(1), Time: t0},                                   // seq 1
		{Device: "failing", Point: "v", Time: t0, Quality: wire.QualityBadComm, Reason: "timeout"}, // seq 2
		{Device: "refused", Point: "v", Value: wire.Int(1), Time: t0},                              // seq 3
	})
	if up, bad := r.deviceCounts(); up != 2 || bad != 1 {
		t.Errorf("before ingest's report: up %d, bad %d; want 2 up (ok, refused read well), 1 bad", up, bad)
	}
	r.acked(wire.Ack{Seq: 3, Refused: []wire.Refused{{Device: "refused", Count: 1, Reason: "unknown_device", LastSeq: 3}}})
	up, bad := r.deviceCounts()
	if up != 1 || bad != 2 {
		t.Errorf("up %d, bad %d; want 1 up, 2 bad (failing, refused), unknown in neither", up, bad)
	}
	// The same states /status shows.
	byState := map[string]int{}
	for _, s := range r.states() {
		byState[deviceStatus(s).State]++
	}
	if byState[StateOK] != up || byState[StateFailing]+byState[StateRefused] != bad || byState[StateUnknown] != 1 {
		t.Errorf("/status states %v disagree with up %d, bad %d", byState, up, bad)
	}
}

// TestStatusHealthDevices runs the agent with one simulated meter that
// answers and one whose address nobody serves, with no ingest
// acknowledging: the gateway's periodic status says 1 device up, 1 bad,
// and readings buffered.
func TestStatusHealthDevices(t *testing.T) {
	broker := testenv.Mosquitto(t)
	ack := newAcknowledger(t, broker.URL, false)
	live := startModbusSim(t, filepath.Join(shippedProfiles, "eastron-sdm630-v2.yaml"), 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close() // nothing listens there now: every poll is refused

	dir := t.TempDir()
	cfg := siteYAML("gw-health", broker.URL, dir, "127.0.0.1:0",
		modbusDevice("meter-live", live, 1), modbusDevice("meter-dead", dead, 1))
	cfg = strings.Replace(cfg, "  backoff_max: 1s\n", "  backoff_max: 1s\n  status_interval: 1s\n", 1)
	path := filepath.Join(dir, "site.yaml")
	testenv.WriteFile(t, path, cfg)
	a, _ := runAgent(t, path)

	var got wire.Status
	testenv.Eventually(t, 30*time.Second, "a status with 1 device up and 1 bad, readings buffered", func() bool {
		s, ok := ack.lastStatus("gw-health")
		got = s
		return ok && s.State == wire.StateOnline && s.Health != nil &&
			s.Health.DevicesUp == 1 && s.Health.DevicesBad == 1 && s.Health.Buffered > 0
	})
	if got.Health.Oldest.IsZero() {
		t.Errorf("health %+v: no oldest time with readings buffered", got.Health)
	}
	// Nothing is acknowledged, so the buffer holds every reading appended
	// so far: the status can only lag it.
	if st := a.Status(); got.Health.Buffered > st.Buffer.Records {
		t.Errorf("status said %d buffered, the buffer now holds %d (nothing was acknowledged)", got.Health.Buffered, st.Buffer.Records)
	}
	states := map[string]string{}
	for _, d := range a.Status().Devices {
		states[d.Name] = d.State
	}
	if states["meter-live"] != StateOK || states["meter-dead"] != StateFailing {
		t.Errorf("/status device states %v, want meter-live ok, meter-dead failing", states)
	}
}
