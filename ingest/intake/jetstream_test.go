package intake_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// runGatewaysOn runs the gateways ids over MQTT on url, each publishing
// total readings in batches of batch, and fails t unless every reading is
// acknowledged (over MQTT, QoS 1) within limit.
func runGatewaysOn(t testing.TB, url string, ids []string, total, batch uint64, limit time.Duration) []*ingesttest.Gateway {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	errs := make(chan error, len(ids))
	gws := make([]*ingesttest.Gateway, len(ids))
	for i, id := range ids {
		g := &ingesttest.Gateway{ID: id, Epoch: 42, Topics: topics, Batch: batch, ResendAfter: 3 * time.Second}
		gws[i] = g
		c, err := g.Connect(url, "pw-"+id)
		if err != nil {
			t.Fatal(err)
		}
		go func() { defer c.Disconnect(50); errs <- g.Run(ctx, c, total) }()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	for _, g := range gws {
		if sub, refused := g.Subscribed(); t.Failed() || refused > 0 {
			t.Logf("gateway %s: acked up to %d, %d batches published (resends included); ack subscription granted %v, %d attempts refused",
				g.ID, g.Acked(), g.Sent(), sub, refused)
		}
	}
	return gws
}

// TestJetStreamTwoIntakes: gateways publish over MQTT on node 1; two
// intakes, connected to nodes 2 and 3, share the durable consumer. Every
// batch reaches the pipeline, every gateway receives its acknowledgements
// over MQTT, and both intakes take part.
func TestJetStreamTwoIntakes(t *testing.T) {
	const gateways, total, batch = 4, 2000, 100
	c := startNATS(t, gateways)
	s1, s2 := newCounting(), newCounting()
	startJS(t, clusterURLs(c, 1), s1, nil)
	startJS(t, clusterURLs(c, 2), s2, nil)
	waitPulls(t, c, 2)
	ids := gatewayIDs(gateways)
	runGatewaysOn(t, c.Nodes[0].MQTT, ids, total, batch, 2*time.Minute)
	extra := checkBatches(t, ids, total, batch, s1, s2)
	n1, n2 := len(s1.counts()), len(s2.counts())
	t.Logf("intake 1 took %d batches, intake 2 %d; %d submitted again (gateway resends)", n1, n2, extra)
	if n1 == 0 || n2 == 0 {
		t.Errorf("one intake did all the work (%d, %d)", n1, n2)
	}
}

// gatewayClient connects a paho client to url as user, with a persistent
// session unless clean; handler receives what arrives for the session's
// subscriptions.
func gatewayClient(t testing.TB, url, clientID, user string, clean bool, handler paho.MessageHandler) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker(url).SetClientID(clientID).SetUsername(user).SetPassword("pw-" + user).
		SetCleanSession(clean).SetAutoReconnect(false).SetStore(intake.MemoryStore()).SetDefaultPublishHandler(handler)
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: %v", clientID, url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(50) })
	return c
}

// TestJetStreamAckQoS1: the intake's acknowledgement reaches the gateway
// as an MQTT QoS 1 message: a gateway whose persistent session subscribed
// to its ack topic on node 1, and which is offline when ingest
// acknowledges, gets the ack (QoS 1) when it comes back, on node 3.
func TestJetStreamAckQoS1(t *testing.T) {
	c := startNATS(t, 1)
	sub := newCounting()
	in := startJS(t, clusterURLs(c, 1), sub, func(cfg *intake.JetStreamConfig) { cfg.AckStored = true })
	gw := gatewayClient(t, c.Nodes[0].MQTT, "gw1", "gw1", false, func(paho.Client, paho.Message) {})
	if _, err := ingesttest.Subscribe(gw, topics.Ack("gw1"), nil, time.Minute); err != nil {
		t.Fatal(err)
	}
	gw.Disconnect(50)

	pub := gatewayClient(t, c.Nodes[0].MQTT, "gw1-pub", "gw1", true, nil)
	if tok := pub.Publish(topics.Up("gw1"), 1, false, ingesttest.BatchFor("gw1", 42, 1, 10)); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	testenv.Eventually(t, 30*time.Second, "the intake published the ack", func() bool {
		return in.counter(t, "ponte_ingest_jetstream_gateway_acks_total", "result", "ok") >= 1
	})

	got := make(chan paho.Message, 4)
	gatewayClient(t, c.Nodes[2].MQTT, "gw1", "gw1", false, func(_ paho.Client, m paho.Message) { got <- m })
	select {
	case m := <-got:
		a, err := wire.DecodeAck(m.Payload())
		if err != nil {
			t.Fatal(err)
		}
		if m.Topic() != topics.Ack("gw1") || m.Qos() != 1 || a.Gateway != "gw1" || a.Epoch != 42 || a.Seq != 10 {
			t.Fatalf("got %s qos %d %+v; want the ack of seq 10 on %s at QoS 1", m.Topic(), m.Qos(), a, topics.Ack("gw1"))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway's session never received the ack stored while it was offline")
	}
}

// TestJetStreamRedelivery: a batch whose processing fails (sink down) is
// handed back and delivered again, then processed; nothing is lost.
func TestJetStreamRedelivery(t *testing.T) {
	const total, batch = 1000, 100
	c := startNATS(t, 1)
	sub := newCounting()
	sub.fail = func(_ string, n int) bool { return n == 1 } // every batch fails once
	in := startJS(t, clusterURLs(c, 1, 2), sub, nil)
	runGatewaysOn(t, c.Nodes[0].MQTT, gatewayIDs(1), total, batch, 2*time.Minute)
	checkBatches(t, gatewayIDs(1), total, batch, sub)
	for k, n := range sub.counts() {
		if n < 2 {
			t.Errorf("batch %s submitted %d times; want a failure and a redelivery", k, n)
		}
	}
	if n := in.counter(t, "ponte_ingest_jetstream_messages_total", "outcome", "nak"); n < total/batch {
		t.Errorf("%v batches handed back; want at least %d", n, total/batch)
	}
	if n := in.counter(t, "ponte_ingest_jetstream_redelivered_total"); n < total/batch {
		t.Errorf("%v redeliveries counted; want at least %d", n, total/batch)
	}
}

// TestJetStreamInProgress: batches the pipeline works on for longer than
// the consumer's ack wait (InfluxDB slow or down) are not delivered to
// the other instance meanwhile: the intake's progress reports hold them.
func TestJetStreamInProgress(t *testing.T) {
	const batches = 20
	c := startNATS(t, 1)
	s1, s2 := newCounting(), newCounting()
	s1.hold, s2.hold = 3500*time.Millisecond, 3500*time.Millisecond
	short := func(cfg *intake.JetStreamConfig) { cfg.AckWait = time.Second }
	i1 := startJS(t, clusterURLs(c, 1), s1, short)
	i2 := startJS(t, clusterURLs(c, 2), s2, short)
	// A publisher that never resends: every submission beyond one per
	// batch would be a redelivery.
	pub := gatewayClient(t, c.Nodes[0].MQTT, "gw1-pub", "gw1", true, nil)
	for i := range uint64(batches) {
		first := i*10 + 1
		if tok := pub.Publish(topics.Up("gw1"), 1, false, ingesttest.BatchFor("gw1", 42, first, first+9)); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}
	acked := func() float64 {
		return i1.counter(t, "ponte_ingest_jetstream_messages_total", "outcome", "acked") +
			i2.counter(t, "ponte_ingest_jetstream_messages_total", "outcome", "acked")
	}
	testenv.Eventually(t, time.Minute, "every batch acknowledged", func() bool { return acked() >= batches })
	if extra := checkBatches(t, gatewayIDs(1), batches*10, 10, s1, s2); extra > 0 {
		t.Errorf("%d batches were delivered again while an instance still worked on them", extra)
	}
	if r := i1.counter(t, "ponte_ingest_jetstream_redelivered_total") + i2.counter(t, "ponte_ingest_jetstream_redelivered_total"); r > 0 {
		t.Errorf("%v redeliveries", r)
	}
	if p := i1.counter(t, "ponte_ingest_jetstream_progress_total") + i2.counter(t, "ponte_ingest_jetstream_progress_total"); p == 0 {
		t.Error("no progress reports were sent: the test did not outlast the ack wait")
	}
}

// last returns the last state received of gateway gw ("" none).
func (l *statusLog) last(gw string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.all) - 1; i >= 0; i-- {
		if l.all[i].Gateway == gw {
			return l.all[i].State
		}
	}
	return ""
}

// TestJetStreamStatusEveryInstance: the fleet's state is the same on every
// instance. Two intakes both receive a gateway's "online" status and,
// when its link is cut, the "offline" of its last will published by the
// node; an intake started afterwards starts from the last status of each
// gateway.
func TestJetStreamStatusEveryInstance(t *testing.T) {
	c := startNATS(t, 1)
	logs := []*statusLog{{}, {}, {}}
	withLog := func(l *statusLog) func(*intake.JetStreamConfig) {
		return func(cfg *intake.JetStreamConfig) { cfg.OnStatus = l.add }
	}
	startJS(t, clusterURLs(c, 1), newCounting(), withLog(logs[0]))
	startJS(t, clusterURLs(c, 2), newCounting(), withLog(logs[1]))

	proxy := testenv.StartProxy(t, strings.TrimPrefix(c.Nodes[0].MQTT, "tcp://"))
	offline := wire.EncodeStatus(wire.Status{Gateway: "gw1", State: "offline", Time: time.Now().UTC()})
	o := paho.NewClientOptions().AddBroker("tcp://"+proxy.Addr()).SetClientID("gw1").SetUsername("gw1").SetPassword("pw-gw1").
		SetCleanSession(true).SetAutoReconnect(false).SetKeepAlive(2*time.Second).SetStore(intake.MemoryStore()).
		SetWill(topics.Status("gw1"), string(offline), 1, true)
	gw := paho.NewClient(o)
	if tok := gw.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer gw.Disconnect(50)
	online := wire.EncodeStatus(wire.Status{Gateway: "gw1", State: "online", Time: time.Now().UTC()})
	if tok := gw.Publish(topics.Status("gw1"), 1, true, online); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("publish the status: %v", tok.Error())
	}
	for i, l := range logs[:2] {
		testenv.Eventually(t, time.Minute, fmt.Sprintf("intake %d seeing gw1 online", i+1), func() bool { return l.last("gw1") == "online" })
	}
	proxy.Cut()
	for i, l := range logs[:2] {
		testenv.Eventually(t, time.Minute, fmt.Sprintf("intake %d seeing gw1's last will", i+1), func() bool { return l.last("gw1") == "offline" })
	}
	startJS(t, clusterURLs(c, 0), newCounting(), withLog(logs[2]))
	testenv.Eventually(t, time.Minute, "a later intake starting from gw1's last status", func() bool { return logs[2].last("gw1") == "offline" })
	logs[2].mu.Lock()
	defer logs[2].mu.Unlock()
	if n := len(logs[2].all); n != 1 {
		t.Errorf("the later intake received %d statuses of gw1 (%+v); want only the last", n, logs[2].all)
	}
}

// mqttConsumers returns how many consumers nats-server's MQTT message
// stream ($MQTT_msgs) has, from node n's monitoring (-1: not found).
func mqttConsumers(t testing.TB, n *natstest.Node) int {
	t.Helper()
	resp, err := http.Get(n.Monitor + "/jsz?accounts=true&streams=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var jsz struct {
		Accounts []struct {
			Streams []struct {
				Name  string `json:"name"`
				State struct {
					Consumers int `json:"consumer_count"`
				} `json:"state"`
			} `json:"stream_detail"`
		} `json:"account_details"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jsz); err != nil {
		t.Fatal(err)
	}
	for _, a := range jsz.Accounts {
		for _, s := range a.Streams {
			if s.Name == "$MQTT_msgs" {
				return s.State.Consumers
			}
		}
	}
	return -1
}

// TestJetStreamAckQoS0: with the default plain acknowledgements, gateways
// subscribed at QoS 0 (edge/uplink's ack_qos: 0) receive every ack on
// whichever node they are connected to, and nats-server keeps no consumer
// for their subscriptions: a reconnect storm creates none. Gateways
// subscribed at QoS 1 receive the same acks.
func TestJetStreamAckQoS0(t *testing.T) {
	const gateways, total, batch = 4, 1000, 100
	c := startNATS(t, gateways)
	s := newCounting()
	startJS(t, clusterURLs(c, 1), s, nil)
	waitPulls(t, c, 1)
	ids := gatewayIDs(gateways)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errs := make(chan error, len(ids))
	for i, id := range ids {
		g := &ingesttest.Gateway{ID: id, Epoch: 42, Topics: topics, Batch: batch, ResendAfter: 3 * time.Second, AckQoS0: i%2 == 0}
		conn, err := g.Connect(c.Nodes[i%3].MQTT, "pw-"+id)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Disconnect(50)
		go func() { errs <- g.Run(ctx, conn, total) }()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	checkBatches(t, ids, total, batch, s)
	// Still connected: two gateways subscribed at QoS 1, one consumer
	// each; none for the two at QoS 0.
	got := -1
	testenv.Eventually(t, 30*time.Second, "the $MQTT_msgs stream's consumers reported", func() bool {
		got = mqttConsumers(t, c.Nodes[0])
		return got >= gateways/2
	})
	t.Logf("$MQTT_msgs consumers with every gateway connected: %d", got)
	if got != gateways/2 {
		t.Errorf("$MQTT_msgs has %d consumers for %d gateways subscribed at QoS 1 and %d at QoS 0", got, gateways/2, gateways/2)
	}
}
