package uplink

import (
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
