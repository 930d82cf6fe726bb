package uplink

import (
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// publisher is a plain MQTT client the test publishes with.
func publisher(t *testing.T, url string) paho.Client {
	t.Helper()
	c := paho.NewClient(paho.NewClientOptions().AddBroker(url).SetClientID("pub-" + t.Name()).SetCleanSession(true))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect publisher: %v", tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

func publishT(t *testing.T, c paho.Client, topic string, retained bool, payload []byte) {
	t.Helper()
	if tok := c.Publish(topic, 1, retained, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish to %s: %v", topic, tok.Error())
	}
}

func TestAckNeverComesKeepsRecords(t *testing.T) {
	broker := testenv.Mosquitto(t)
	a := newAcker(t, broker.URL, ackNone)
	b := openBuf(t)
	cfg := baseConfig(broker.URL)
	cfg.AckTimeout = 300 * time.Millisecond
	f := start(t, cfg, b)
	produceDurable(t, b, 0, 10)

	testenv.Eventually(t, 20*time.Second, "the unacknowledged batch re-sent twice", func() bool { return a.times(b.Epoch(), 10) >= 3 })
	if st := b.Stats(); st.Records != 10 || st.AckedSeq != 0 {
		t.Fatalf("without an ack the buffer holds %d records, acked %d; want 10, 0", st.Records, st.AckedSeq)
	}
	if got := metricValue(f.m.resends); got < 2 {
		t.Errorf("resends_total %v, want >= 2", got)
	}
	a.setMode(ackContig)
	drained(t, b, a, 10, 20*time.Second)
	a.check(t, b.Epoch(), 10)
}

func TestAcksIgnoredOrApplied(t *testing.T) {
	broker := testenv.Mosquitto(t)
	newAcker(t, broker.URL, ackNone)
	b := openBuf(t)
	cfg := baseConfig(broker.URL)
	cfg.AckTimeout = time.Minute
	f := start(t, cfg, b)
	pub := publisher(t, broker.URL)
	produceDurable(t, b, 0, 10)
	testenv.Eventually(t, 10*time.Second, "10 readings sent", func() bool { return f.Status().SentSeq == 10 })

	ep := b.Epoch()
	ack := func(gw string, epoch, seq uint64) []byte {
		return wire.EncodeAck(wire.Ack{Gateway: gw, Epoch: epoch, Seq: seq})
	}
	steps := []struct {
		name    string
		payload []byte
		bad     string // reason counted, "" for a valid ack
		records uint64 // buffer records left afterwards
	}{
		{"other epoch", ack(testGW, ep+1, 10), reasonEpoch, 10},
		{"other gateway", ack("gw-other", ep, 10), reasonGateway, 10},
		{"not an ack", []byte(`{"gateway":`), reasonDecode, 10},
		{"unknown field", []byte(`{"gateway":"gw-test-1","epoch":1,"seq":1,"x":1}`), reasonDecode, 10},
		{"partial", ack(testGW, ep, 4), "", 6},
		{"duplicate", ack(testGW, ep, 4), "", 6},
		{"older", ack(testGW, ep, 2), "", 6},
		// Ingest's mark ahead of what this process sent (its saved ack
		// lagged after a crash): counted, and frees what was sent.
		{"beyond what was sent", ack(testGW, ep, 11), reasonBeyond, 0},
		{"after everything, beyond", ack(testGW, ep, 1<<40), reasonBeyond, 0},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			counter := f.m.acks
			if st.bad != "" {
				counter = f.m.badAcks.WithLabelValues(st.bad)
			}
			before := metricValue(counter)
			publishT(t, pub, cfg.Topics.Ack(testGW), false, st.payload)
			testenv.Eventually(t, 10*time.Second, "the ack counted", func() bool { return metricValue(counter) == before+1 })
			testenv.Eventually(t, 10*time.Second, "the buffer freed", func() bool { return b.Stats().Records <= st.records })
			if got := b.Stats().Records; got != st.records {
				t.Errorf("buffer holds %d records, want %d", got, st.records)
			}
		})
	}
	if got := f.Status().AckedSeq; got != 10 {
		t.Errorf("status acked %d, want 10", got)
	}
}

// TestRefusedInAck: a forwarder with OnAck asks for refused readings in
// its acknowledgements (wire.FlagAckRefused); an ack reporting some is
// applied (the refused readings are freed: ingest dead-lettered them),
// counted, and handed to OnAck. Without OnAck batches carry no flag, so
// they stay version 2.
func TestRefusedInAck(t *testing.T) {
	broker := testenv.Mosquitto(t)
	a := newAcker(t, broker.URL, ackNone)
	b := openBuf(t)
	cfg := baseConfig(broker.URL)
	cfg.AckTimeout = time.Minute
	got := make(chan wire.Ack, 4)
	cfg.OnAck = func(a wire.Ack) { got <- a }
	f := start(t, cfg, b)
	produceDurable(t, b, 0, 10)
	testenv.Eventually(t, 10*time.Second, "10 readings sent", func() bool { return a.times(b.Epoch(), 10) > 0 })
	a.mu.Lock()
	flags := a.flags
	a.mu.Unlock()
	if flags != wire.FlagAckRefused {
		t.Fatalf("batch flags %b, want FlagAckRefused", flags)
	}
	ack := wire.Ack{Gateway: testGW, Epoch: b.Epoch(), Seq: 10, Refused: []wire.Refused{{
		Device: "dev-1", Count: 3, Reason: "time_out_of_range", LastSeq: 9, LastPoint: "p", LastValue: "8", LastTime: time.Now().Add(time.Hour).UTC()}}}
	publishT(t, publisher(t, broker.URL), cfg.Topics.Ack(testGW), false, wire.EncodeAck(ack))
	select {
	case a := <-got:
		if len(a.Refused) != 1 || a.Refused[0].Device != "dev-1" || a.Refused[0].Count != 3 || a.Seq != 10 {
			t.Fatalf("OnAck got %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("OnAck not called")
	}
	testenv.Eventually(t, 10*time.Second, "the refused readings freed", func() bool { return b.Stats().Records == 0 })
	if n := metricValue(f.m.refused); n != 3 {
		t.Errorf("refused_readings_total %v, want 3", n)
	}

	b2 := openBuf(t)
	cfg2 := baseConfig(broker.URL)
	cfg2.Gateway, cfg2.ClientID = testGW+"-plain", ""
	start(t, cfg2, b2)
	produceDurable(t, b2, 0, 1)
	testenv.Eventually(t, 10*time.Second, "the plain gateway's batch", func() bool { return a.times(b2.Epoch(), 1) > 0 })
	a.mu.Lock()
	flags = a.flags
	a.mu.Unlock()
	if flags != 0 {
		t.Errorf("a forwarder without OnAck sends flags %b, want none", flags)
	}
}

func TestUndecodableRecordsAreSkippedAndFreed(t *testing.T) {
	broker := testenv.Mosquitto(t)
	a := newAcker(t, broker.URL, ackMax)
	b := openBuf(t)
	cfg := baseConfig(broker.URL)
	cfg.BatchMaxReadings = 10
	cfg.ReplayBatchReadings = 10 // batches of this size, backlog or not
	f := start(t, cfg, b)

	bad := map[uint64]bool{1: true, 5: true, 10: true, 11: true, 17: true}
	for s := uint64(31); s <= 40; s++ {
		bad[s] = true // one whole read of nothing but garbage, at the end
	}
	var recs [][]byte
	for s := uint64(1); s <= 40; s++ {
		if bad[s] {
			recs = append(recs, []byte("\xffnot a reading"))
			continue
		}
		r := reading(int(s - 1))
		recs = append(recs, wire.AppendRecord(nil, &r))
	}
	if _, err := b.Append(recs); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 20*time.Second, "the buffer freed, garbage included", func() bool {
		st := b.Stats()
		return st.Records == 0 && st.AckedSeq == 40
	})
	if got := metricValue(f.m.badRecords); got != float64(len(bad)) {
		t.Errorf("bad_records_total %v, want %d", got, len(bad))
	}
	for s := uint64(1); s <= 40; s++ {
		if got, want := a.times(b.Epoch(), s), !bad[s]; (got > 0) != want {
			t.Errorf("seq %d arrived %d times; good reading: %v", s, got, want)
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range append(a.bad, a.disorder...) {
		t.Errorf("acknowledger: %s", s)
	}
}

// TestWindowBound holds acknowledgements back: no more than Window
// batches go out, and the rest follows once ingest acknowledges.
func TestWindowBound(t *testing.T) {
	broker := testenv.Mosquitto(t)
	a := newAcker(t, broker.URL, ackNone)
	b := openBuf(t)
	cfg := baseConfig(broker.URL)
	cfg.BatchMaxReadings = 10
	cfg.ReplayBatchReadings = 10        // batches of this size, backlog or not
	cfg.Window, cfg.ReplayWindow = 3, 3 // the backlog's window too
	cfg.AckTimeout = time.Minute
	f := start(t, cfg, b)
	produceDurable(t, b, 0, 100)

	testenv.Eventually(t, 10*time.Second, "a full window", func() bool { return f.Status().InFlight == 3 })
	time.Sleep(300 * time.Millisecond) // room for a window overrun to show
	if got, st := a.distinct(), f.Status(); got != 30 || st.SentSeq != 30 || st.InFlight != 3 {
		t.Errorf("with a window of 3 batches of 10: ingest saw %d readings, sent %d, in flight %d; want 30, 30, 3", got, st.SentSeq, st.InFlight)
	}
	if got := metricValue(f.m.inFlight); got != 3 {
		t.Errorf("in_flight_batches %v, want 3", got)
	}
	a.setMode(ackContig)
	// The acknowledger answers the next batch it gets; nudge it with an
	// ack of what it already has.
	publishT(t, publisher(t, broker.URL), cfg.Topics.Ack(testGW), false, wire.EncodeAck(wire.Ack{Gateway: testGW, Epoch: b.Epoch(), Seq: 30}))
	drained(t, b, a, 100, 20*time.Second)
	a.check(t, b.Epoch(), 100)
}

// TestBrokerUnreachableAtStart starts the forwarder while the broker
// cannot be reached: it keeps trying and delivers once it can.
func TestBrokerUnreachableAtStart(t *testing.T) {
	broker := testenv.Mosquitto(t)
	p := newProxy(t, "127.0.0.1:"+itoa(broker.Port))
	p.Cut()
	a := newAcker(t, broker.URL, ackContig)
	b := openBuf(t)
	f := start(t, baseConfig(proxyURL(p)), b)
	produceDurable(t, b, 0, 300)
	testenv.Eventually(t, 10*time.Second, "failed attempts", func() bool { return metricValue(f.m.connects.WithLabelValues("error")) >= 3 })
	if a.distinct() != 0 || f.Status().Connected {
		t.Fatalf("delivered through a cut link")
	}
	p.Heal()
	drained(t, b, a, 300, 20*time.Second)
	a.check(t, b.Epoch(), 300)
}
