package uplink

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// TestReplayBatches: a backlog goes out in replay batches (up to
// ReplayBatchReadings) while more than two live batches wait; every
// reading arrives once, acknowledged.
func TestReplayBatches(t *testing.T) {
	broker := testenv.Mosquitto(t)
	a := newAcker(t, broker.URL, ackContig)
	buf := openBuf(t)
	const backlog = 25_000
	for i := 0; i < backlog; i += 5000 {
		produceDurable(t, buf, i, 5000)
	}
	cfg := baseConfig(broker.URL)
	cfg.BatchMaxReadings, cfg.ReplayBatchReadings = 1000, 10_000
	start(t, cfg, buf)
	testenv.Eventually(t, 60*time.Second, "the backlog drained", func() bool { return buf.Stats().Records == 0 })
	if n := a.distinct(); n != backlog {
		t.Fatalf("the acknowledger saw %d distinct readings, want %d", n, backlog)
	}
	a.mu.Lock()
	batches := a.batches
	a.mu.Unlock()
	// 10,000 + 10,000 + 5,000: each read found more than two live
	// batches waiting (batches of 1,000 would take 25).
	if batches != 3 {
		t.Errorf("%d batches for a backlog of %d readings, want 3 replay batches", batches, backlog)
	}
	t.Logf("%d readings in %d batches", backlog, batches)
}

// TestReplayBatchConfig: replay batches are never smaller than live ones,
// and fit a wire batch.
func TestReplayBatchConfig(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.BatchMaxReadings, c.ReplayBatchReadings = 2000, 1000 }, "replay_batch_readings: 1000 is outside [batch_max_readings 2000, 100000]"},
		{func(c *Config) { c.ReplayBatchBytes = 2 << 20 }, "replay_batch_bytes: 2097152 is outside [batch_max_bytes 262144, 1048576)"},
		{func(c *Config) { c.Window, c.ReplayWindow = 8, 2 }, "replay_window: 2 is outside [window 8, 1024]"},
	} {
		cfg := baseConfig("tcp://127.0.0.1:1883")
		tc.mod(&cfg)
		if err := cfg.withDefaults().Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate = %v, want %q", err, tc.want)
		}
	}
	cfg := baseConfig("tcp://127.0.0.1:1883")
	cfg.BatchMaxReadings = 20_000
	cfg = cfg.withDefaults()
	if cfg.ReplayBatchReadings != 20_000 || cfg.ReplayBatchBytes != DefaultReplayBatchBytes {
		t.Errorf("defaults with batch_max_readings 20000: %d, %d", cfg.ReplayBatchReadings, cfg.ReplayBatchBytes)
	}
}

// TestReplayWindow: through a backlog, ReplayWindow replay batches await
// their acks at once; a replay paced by ReplayRate (live-size batches)
// keeps to Window.
func TestReplayWindow(t *testing.T) {
	for _, tc := range []struct {
		name            string
		backlog, window int
		rate            float64
	}{
		{"replay", 200_000, 16, 0},
		{"paced", 20_000, 4, 1e6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			broker := testenv.Mosquitto(t)
			a := newAcker(t, broker.URL, ackNone)
			buf := openBuf(t)
			for i := 0; i < tc.backlog; i += 1000 {
				produceDurable(t, buf, i, 1000)
			}
			cfg := baseConfig(broker.URL)
			cfg.BatchMaxReadings, cfg.ReplayBatchReadings, cfg.Window, cfg.ReplayWindow = 1000, 10_000, 4, 16
			cfg.AckTimeout, cfg.ReplayRate = time.Hour, tc.rate
			start(t, cfg, buf)
			sent := func() int { a.mu.Lock(); defer a.mu.Unlock(); return a.batches }
			testenv.Eventually(t, 30*time.Second, fmt.Sprintf("%d batches sent", tc.window), func() bool { return sent() >= tc.window })
			// Nothing is acknowledged: the sender must stop at the window.
			time.Sleep(300 * time.Millisecond)
			if n := sent(); n != tc.window {
				t.Errorf("%d batches sent without an ack, want the window of %d", n, tc.window)
			}
		})
	}
}
