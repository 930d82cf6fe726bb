package agent

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestReload adds a device and removes one while the agent runs: the
// buffer and uplink carry on, sequence numbers continue without a gap, and
// the removed device stops producing. A reload that needs a restart, and
// one of a broken config, are refused and change nothing.
func TestReload(t *testing.T) {
	broker := testenv.Mosquitto(t)
	ack := newAcknowledger(t, broker.URL, true)
	addr := startModbusSim(t, filepath.Join(shippedProfiles, "eastron-sdm630-v2.yaml"), 1, 2, 3)
	dir := t.TempDir()
	path := filepath.Join(dir, "site.yaml")
	m1, m2, m3 := modbusDevice("meter-1", addr, 1), modbusDevice("meter-2", addr, 2), modbusDevice("meter-3", addr, 3)
	testenv.WriteFile(t, path, siteYAML("gw-reload", broker.URL, dir, "127.0.0.1:0", m1, m2))
	a, stop := runAgent(t, path)
	ctx := context.Background()

	testenv.Eventually(t, 15*time.Second, "readings of meter-1 and meter-2", func() bool {
		d := ack.devices()
		return d["meter-1"] > 0 && d["meter-2"] > 0
	})
	if err := a.Reload(ctx); err != nil {
		t.Fatalf("reload of an unchanged config: %v", err)
	}
	before := a.Status().Buffer.LastSeq

	testenv.WriteFile(t, path, siteYAML("gw-reload", broker.URL, dir, "127.0.0.1:0", m1, m3))
	if err := a.Reload(ctx); err != nil {
		t.Fatalf("reload: %v", err)
	}
	cut := a.Status().Buffer.LastSeq // meter-2's source has stopped: none of its readings comes later
	testenv.Eventually(t, 15*time.Second, "readings of meter-3", func() bool { return ack.devices()["meter-3"] > 0 })
	var names []string
	for _, d := range a.Status().Devices {
		names = append(names, d.Name)
	}
	if strings.Join(names, ",") != "meter-1,meter-3" {
		t.Errorf("devices after reload: %v", names)
	}
	if st := a.Status(); st.Buffer.LastSeq <= before {
		t.Errorf("last seq %d did not move on from %d", st.Buffer.LastSeq, before)
	}

	// The uplink section changed: refused, the devices stay.
	testenv.WriteFile(t, path, strings.Replace(siteYAML("gw-reload", broker.URL, dir, "127.0.0.1:0", m1), "ack_timeout: 2s", "ack_timeout: 3s", 1))
	if err := a.Reload(ctx); !errors.Is(err, ErrRestartNeeded) || !strings.Contains(err.Error(), "uplink changed") {
		t.Errorf("reload with a changed uplink: %v, want ErrRestartNeeded naming uplink", err)
	}
	// A broken config: refused with the line.
	testenv.WriteFile(t, path, siteYAML("gw-reload", broker.URL, dir, "127.0.0.1:0", m1, m1))
	if err := a.Reload(ctx); err == nil || !strings.Contains(err.Error(), `site.yaml:13: devices[1].name: duplicate device name "meter-1"`) {
		t.Errorf("reload of a broken config: %v", err)
	}
	if n := len(a.Status().Devices); n != 2 {
		t.Errorf("refused reloads changed the devices: %d", n)
	}

	_, metrics := get(t, "http://"+a.Addr()+"/metrics")
	for _, m := range []string{`ponte_edge_agent_reloads_total{result="ok"} 2`, `ponte_edge_agent_reloads_total{result="refused"} 1`,
		`ponte_edge_agent_reloads_total{result="error"} 1`, `ponte_edge_device_up{device="meter-3"} 1`} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %q", m)
		}
	}
	if strings.Contains(metrics, `device="meter-2"`) {
		t.Error("metrics still show the removed meter-2")
	}

	last := a.Status().Buffer.LastSeq
	testenv.Eventually(t, 15*time.Second, "ingest to acknowledge the buffer", func() bool { return a.Status().Buffer.AckedSeq >= last })
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := ack.check(t); got < last {
		t.Errorf("ingest received up to seq %d, buffer had %d", got, last)
	}
	ack.mu.Lock()
	defer ack.mu.Unlock()
	for k, rec := range ack.records {
		r, err := wire.DecodeRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		if r.Device == "meter-2" && k.seq > cut {
			t.Errorf("meter-2 reading at seq %d, after the reload at seq %d", k.seq, cut)
			break
		}
	}
}
