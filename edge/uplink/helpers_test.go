package uplink

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const testGW = "gw-test-1"

// openBuf opens a buffer in a fresh directory with a fast group commit;
// it is closed when the test ends (after the forwarder, registered later).
func openBuf(t testing.TB) *buffer.Buffer {
	t.Helper()
	b, err := buffer.Open(context.Background(), buffer.Config{Dir: t.TempDir(), SyncInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatalf("open buffer: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := b.Close(ctx); err != nil {
			t.Errorf("close buffer: %v", err)
		}
	})
	return b
}

// reading i is the test reading given sequence number i+1 in a fresh
// buffer: its integer value says which it is.
func reading(i int) wire.Reading {
	return wire.Reading{
		Device: fmt.Sprintf("dev-%d", i%7), Point: "count", Unit: "1",
		Value: wire.Int(int64(i)), Time: time.Unix(1_700_000_000, int64(i)*1000).UTC(),
	}
}

// produce appends readings from..from+n-1 and returns the commit.
func produce(t testing.TB, b *buffer.Buffer, from, n int) buffer.Commit {
	t.Helper()
	recs := make([][]byte, n)
	for i := range recs {
		r := reading(from + i)
		recs[i] = wire.AppendRecord(nil, &r)
	}
	c, err := b.Append(recs)
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	return c
}

// produceDurable appends and waits until durable.
func produceDurable(t testing.TB, b *buffer.Buffer, from, n int) {
	t.Helper()
	c := produce(t, b, from, n)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Wait(ctx); err != nil {
		t.Fatalf("wait durable: %v", err)
	}
}

// baseConfig is a forwarder config with test-friendly timings.
func baseConfig(broker string) Config {
	return Config{
		Gateway:      testGW,
		Broker:       broker,
		BatchMaxWait: 20 * time.Millisecond,
		AckTimeout:   2 * time.Second,
		BackoffBase:  20 * time.Millisecond,
		BackoffMax:   200 * time.Millisecond,
		KeepAlive:    2 * time.Second,
		Version:      "test",
		Registerer:   prometheus.NewRegistry(),
	}
}

// running is a forwarder whose Run goroutine the test owns.
type running struct {
	*Forwarder
	cancel context.CancelFunc
	done   chan error
}

// start creates and runs a forwarder; it is stopped when the test ends.
func start(t testing.TB, cfg Config, b *buffer.Buffer) *running {
	t.Helper()
	f, err := New(cfg, b)
	if err != nil {
		t.Fatalf("new forwarder: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{Forwarder: f, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- f.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels Run and waits for it (bounded); it may be called twice.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("Run did not return within 20s of cancel")
		return nil
	}
}

func metricValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		panic(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return 0
}

// ackMode is how the test acknowledger answers.
type ackMode int

const (
	// ackContig acknowledges the highest sequence number up to which it
	// has seen every one: a lost reading stalls it, which a test notices.
	ackContig ackMode = iota
	// ackNone never acknowledges.
	ackNone
	// ackMax acknowledges the highest sequence number seen, as an ingest
	// that acknowledges each batch it wrote does.
	ackMax
)

// arrival is one batch as the acknowledger received it.
type arrival struct {
	at       time.Time
	distinct int // distinct sequence numbers seen after this batch
}

// acker is the stand-in for ingest: it subscribes to every gateway's
// batches, checks and records each (epoch, seq), and acknowledges.
type acker struct {
	t      testing.TB
	client paho.Client // replaced by restart, on the test goroutine
	topics wire.Topics
	url    string
	tls    *tls.Config

	mu       sync.Mutex
	mode     ackMode
	seen     map[[2]uint64]int // (epoch, seq) -> times received
	maxSeq   uint64            // highest seq seen
	contig   uint64
	epoch    uint64
	flags    uint64 // of the last batch
	batches  int
	dups     int // readings received again
	disorder []string
	bad      []string
	arrivals []arrival
}

// newAcker connects the acknowledger straight to the broker; it
// reconnects and resubscribes by itself when the broker restarts.
func newAcker(t testing.TB, brokerURL string, mode ackMode) *acker {
	t.Helper()
	return newAckerTLS(t, brokerURL, mode, nil)
}

// newAckerTLS is newAcker for a TLS broker.
func newAckerTLS(t testing.TB, brokerURL string, mode ackMode, tlsCfg *tls.Config) *acker {
	t.Helper()
	a := &acker{t: t, mode: mode, seen: make(map[[2]uint64]int), url: brokerURL, tls: tlsCfg}
	if err := a.connect(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.client.Disconnect(0) })
	return a
}

// connect connects a new client of the acknowledger and waits until it
// is subscribed.
func (a *acker) connect() error {
	subscribed := make(chan struct{}, 1)
	opts := paho.NewClientOptions().AddBroker(a.url).SetClientID(fmt.Sprintf("acker-%d", time.Now().UnixNano())).
		SetCleanSession(true).SetAutoReconnect(true).SetMaxReconnectInterval(100 * time.Millisecond).
		SetConnectRetry(true).SetConnectRetryInterval(50 * time.Millisecond).
		SetOnConnectHandler(func(c paho.Client) {
			tok := c.Subscribe(a.topics.UpFilter(""), 1, a.handle)
			if tok.WaitTimeout(5*time.Second) && tok.Error() == nil {
				select {
				case subscribed <- struct{}{}:
				default:
				}
			}
		})
	if a.tls != nil {
		opts.SetTLSConfig(a.tls)
	}
	a.client = paho.NewClient(opts)
	a.client.Connect()
	select {
	case <-subscribed:
		return nil
	case <-time.After(10 * time.Second):
		return errors.New("acknowledger did not subscribe within 10s")
	}
}

// restart stops the acknowledger for down and starts it again, as an
// ingest restart does: batches published meanwhile are lost to it (clean
// session), what it has written it keeps.
// It may run on any goroutine.
func (a *acker) restart(t testing.TB, down time.Duration) {
	a.client.Disconnect(0)
	time.Sleep(down)
	if err := a.connect(); err != nil {
		t.Error(err)
	}
}

func (a *acker) handle(c paho.Client, m paho.Message) {
	b, err := wire.Decode(m.Payload())
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.bad = append(a.bad, err.Error())
		return
	}
	gw, _, err := a.topics.Gateway(m.Topic())
	if err != nil || gw != b.Gateway {
		a.bad = append(a.bad, fmt.Sprintf("batch of %q on topic %s", b.Gateway, m.Topic()))
		return
	}
	a.batches++
	a.epoch, a.flags = b.Epoch, b.Flags
	for i, s := range b.Seqs {
		k := [2]uint64{b.Epoch, s}
		a.seen[k]++
		if a.seen[k] > 1 {
			a.dups++
			continue
		}
		if s <= a.maxSeq {
			a.disorder = append(a.disorder, fmt.Sprintf("new seq %d after %d", s, a.maxSeq))
		}
		a.maxSeq = max(a.maxSeq, s)
		if r := b.Readings[i]; r.Value.I != int64(s-1) || r != reading(int(s-1)) {
			a.bad = append(a.bad, fmt.Sprintf("seq %d carries %+v", s, r))
		}
	}
	for a.seen[[2]uint64{b.Epoch, a.contig + 1}] > 0 {
		a.contig++
	}
	a.arrivals = append(a.arrivals, arrival{at: time.Now(), distinct: len(a.seen)})
	ack := uint64(0)
	switch a.mode {
	case ackContig:
		ack = a.contig
	case ackMax:
		ack = a.maxSeq
	}
	if ack > 0 {
		c.Publish(a.topics.Ack(b.Gateway), 1, false, wire.EncodeAck(wire.Ack{Gateway: b.Gateway, Epoch: b.Epoch, Seq: ack}))
	}
}

func (a *acker) setMode(m ackMode) {
	a.mu.Lock()
	a.mode = m
	a.mu.Unlock()
}

// times returns how often (epoch, seq) arrived.
func (a *acker) times(epoch, seq uint64) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen[[2]uint64{epoch, seq}]
}

func (a *acker) distinct() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.seen)
}

// forgiveDisorder logs and clears the out-of-order arrivals seen so far,
// for outages in which the broker itself lost confirmed batches.
func (a *acker) forgiveDisorder(t testing.TB) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.disorder) > 0 {
		t.Logf("acknowledger: %d readings arrived after later ones (resent after the broker lost them), e.g. %s", len(a.disorder), a.disorder[0])
	}
	a.disorder = nil
}

// check fails the test unless exactly seqs 1..n of epoch arrived, new ones
// in increasing order, each with the reading appended under it.
func (a *acker) check(t testing.TB, epoch uint64, n int) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range a.bad {
		t.Errorf("acknowledger: %s", s)
	}
	for _, s := range a.disorder {
		t.Errorf("acknowledger: out of order: %s", s)
	}
	if len(a.seen) != n {
		t.Errorf("acknowledger saw %d distinct readings, want %d", len(a.seen), n)
	}
	for s := uint64(1); s <= uint64(n); s++ {
		if a.seen[[2]uint64{epoch, s}] == 0 {
			t.Errorf("reading seq %d of epoch %d never arrived", s, epoch)
			break
		}
	}
	if a.contig != uint64(n) {
		t.Errorf("contiguous up to %d, want %d", a.contig, n)
	}
}

// newProxy is a proxy to the broker at target that the test can cut.
func newProxy(t testing.TB, target string) *testenv.Proxy { return testenv.StartProxy(t, target) }

// proxyURL is the proxy's broker URL for paho.
func proxyURL(p *testenv.Proxy) string { return "tcp://" + p.Addr() }

func itoa(i int) string { return fmt.Sprint(i) }
