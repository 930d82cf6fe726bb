package uplink

import (
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/internal/testenv"
)

// drained waits until ingest has acknowledged everything and the buffer
// holds nothing.
func drained(t *testing.T, b *buffer.Buffer, a *acker, n int, timeout time.Duration) {
	t.Helper()
	testenv.Eventually(t, timeout, "every reading acknowledged and the buffer empty", func() bool {
		st := b.Stats()
		return a.distinct() >= n && st.Records == 0 && st.AckedSeq == uint64(n)
	})
}

func TestSteadyFlow(t *testing.T) {
	broker := testenv.Mosquitto(t)
	a := newAcker(t, broker.URL, ackContig)
	b := openBuf(t)
	cfg := baseConfig(broker.URL)
	cfg.BatchMaxReadings = 100
	cfg.ReplayBatchReadings = 100     // batches of this size, backlog or not
	cfg.AckTimeout = 30 * time.Second // no resend in a steady flow
	f := start(t, cfg, b)

	const chunks, per = 100, 50
	for i := range chunks {
		produce(t, b, i*per, per)
		time.Sleep(2 * time.Millisecond)
	}
	n := chunks * per
	drained(t, b, a, n, 30*time.Second)
	a.check(t, b.Epoch(), n)
	if a.dups != 0 {
		t.Errorf("%d readings arrived twice in a steady flow", a.dups)
	}
	st := f.Status()
	if !st.Connected || st.AckedSeq != uint64(n) || st.SentSeq != uint64(n) || st.LastAck.IsZero() {
		t.Errorf("status %+v, want connected, acked and sent %d", st, n)
	}
	if got := metricValue(f.m.readings); got != float64(n) {
		t.Errorf("readings_sent_total %v, want %d", got, n)
	}
	if got := metricValue(f.m.ackedSeq); got != float64(n) {
		t.Errorf("acked_seq %v, want %d", got, n)
	}
	if got := metricValue(f.m.resends); got != 0 {
		t.Errorf("resends_total %v, want 0", got)
	}
	if got := metricValue(f.m.publishTime); got != metricValue(f.m.batches) || got == 0 {
		t.Errorf("publish_seconds has %v samples for %v batches", got, metricValue(f.m.batches))
	}
	testenv.Eventually(t, 5*time.Second, "no batch in flight", func() bool { return f.Status().InFlight == 0 })
	if err := f.stop(t); err != nil {
		t.Errorf("Run returned %v after cancel, want nil", err)
	}
}

// TestOutages cuts the uplink while readings keep coming, in the two ways
// the field does it: the link (a proxy the test controls) and the broker.
func TestOutages(t *testing.T) {
	cases := []struct {
		name   string
		outage func(p *testenv.Proxy, broker *testenv.Broker, a *acker)
		// lossy: the broker (persistence off, killed) may lose batches it
		// had already confirmed; the gateway resends them after the ack
		// timeout, so they arrive after later ones. Every reading must
		// still arrive, once, and the buffer drain; ingest holds its acks
		// at such a gap until it fills.
		lossy bool
	}{
		{"link cut", func(p *testenv.Proxy, _ *testenv.Broker, _ *acker) {
			p.Cut()
			time.Sleep(700 * time.Millisecond)
			p.Heal()
		}, false},
		{"broker restart", func(_ *testenv.Proxy, broker *testenv.Broker, _ *acker) {
			broker.Restart(500 * time.Millisecond)
		}, true},
		{"ingest restart", func(_ *testenv.Proxy, _ *testenv.Broker, a *acker) {
			a.restart(t, 500*time.Millisecond)
		}, false},
		{"two cuts in a row", func(p *testenv.Proxy, _ *testenv.Broker, _ *acker) {
			for range 2 {
				p.Cut()
				time.Sleep(300 * time.Millisecond)
				p.Heal()
				time.Sleep(50 * time.Millisecond)
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			broker := testenv.Mosquitto(t)
			p := newProxy(t, "127.0.0.1:"+itoa(broker.Port))
			a := newAcker(t, broker.URL, ackContig)
			b := openBuf(t)
			cfg := baseConfig(proxyURL(p))
			cfg.BatchMaxReadings = 200
			cfg.ReplayBatchReadings = 200 // batches of this size, backlog or not
			cfg.AckTimeout = time.Second
			f := start(t, cfg, b)

			testenv.Eventually(t, 10*time.Second, "connected", func() bool { return f.Status().Connected })
			const per = 40
			n := 0
			step := func(rounds int) {
				for range rounds {
					produce(t, b, n, per)
					n += per
					time.Sleep(5 * time.Millisecond)
				}
			}
			step(30)
			testenv.Eventually(t, 10*time.Second, "readings flowing", func() bool { return a.distinct() > 0 })
			done := make(chan struct{})
			go func() { tc.outage(p, broker, a); close(done) }()
			for waiting := true; waiting; {
				select {
				case <-done:
					waiting = false
				default:
					step(1) // appends go on during the outage
				}
			}
			step(30)
			drained(t, b, a, n, 60*time.Second)
			if tc.lossy {
				a.forgiveDisorder(t)
			}
			a.check(t, b.Epoch(), n)
			if got := metricValue(f.m.connects.WithLabelValues("ok")); got < 2 && tc.name != "ingest restart" {
				t.Errorf("connects_total{ok} %v, want a reconnection", got)
			}
			t.Logf("%d readings, %d received again, %v resends", n, a.dups, metricValue(f.m.resends))
		})
	}
}

// TestAckQoS0: with AckQoS0 the ack subscription is granted at QoS 0 (as
// a NATS cluster is spared a consumer per gateway) and every reading is
// still acknowledged.
func TestAckQoS0(t *testing.T) {
	broker := testenv.Mosquitto(t)
	a := newAcker(t, broker.URL, ackContig)
	b := openBuf(t)
	cfg := baseConfig(broker.URL)
	cfg.AckQoS0 = true
	f := start(t, cfg, b)
	if got := f.ackQoS(); got != 0 {
		t.Fatalf("ack subscription at QoS %d, want 0", got)
	}
	produce(t, b, 0, 500)
	drained(t, b, a, 500, 30*time.Second)
	a.check(t, b.Epoch(), 500)
}
