package intake_test

import (
	"context"
	"os"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/influx"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestShippedNATSAccounts runs a cluster with deploy/nats/accounts.conf
// as shipped: ingest logs in with its user; a gateway's batches reach
// ingest and its acks come back; another gateway publishing on its topic
// is dropped by the server, and may not subscribe to its acks.
func TestShippedNATSAccounts(t *testing.T) {
	accounts, err := os.ReadFile("../../deploy/nats/accounts.conf")
	if err != nil {
		t.Fatal(err)
	}
	const owner, stranger = "fi-lighting-q2-0042", "ba-murat-cavour-piccinni"
	password := func(id string) string { return "CHANGE-ME-" + id + "-placeholder" }
	c := natstest.Start(t, natstest.Options{Nodes: 3, Config: string(accounts)})
	sub := newCounting()
	startJS(t, clusterURLs(c, 1), sub, func(cfg *intake.JetStreamConfig) {
		cfg.User, cfg.Password = "ponte-ingest", "CHANGE-ME-ingest-password-placeholder"
	})

	st, err := ingesttest.Connect(c.Nodes[0].MQTT, stranger, stranger, password(stranger))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Disconnect(50)
	if tok := st.Publish(topics.Up(owner), 1, false, ingesttest.BatchFor(owner, 42, 1000, 1009)); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("stranger's publish: %v", tok.Error())
	}
	tok := st.Subscribe(topics.Ack(owner), 1, func(paho.Client, paho.Message) {})
	if !tok.WaitTimeout(30 * time.Second) {
		t.Fatal("stranger's subscribe: no SUBACK")
	}
	if got := tok.(*paho.SubscribeToken).Result()[topics.Ack(owner)]; got != 0x80 {
		t.Errorf("stranger's subscription to %s granted (SUBACK %#x); want refused (0x80)", topics.Ack(owner), got)
	}

	g := &ingesttest.Gateway{ID: owner, Epoch: 42, Topics: topics, Batch: 10}
	gc, err := g.Connect(c.Nodes[0].MQTT, password(owner))
	if err != nil {
		t.Fatal(err)
	}
	defer gc.Disconnect(50)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := g.Run(ctx, gc, 30); err != nil {
		t.Fatal(err)
	}
	if n := sub.counts()[owner+"/1000"]; n != 0 {
		t.Errorf("the stranger's batch on %s reached ingest %d times", topics.Up(owner), n)
	}
	if n := sub.counts()[owner+"/1"]; n == 0 {
		t.Error("the owner's batch did not reach ingest")
	}
}

// realPipeline is the ingest service writing to InfluxDB (or sink), fed
// by a JetStream intake on urls; stateDir is its dedup state.
func realPipeline(t *testing.T, urls []string, sink service.Sink, stateDir string) (*pipeline, *jsIntake) {
	t.Helper()
	p := newService(t, pipeOpts{sink: sink, stateDir: stateDir})
	in := startJS(t, urls, p.svc, nil)
	return p, in
}

// influxSink adapts the InfluxDB sink to the pipeline (as ingest/app).
type influxSink struct{ *influx.Sink }

func (s influxSink) Write(ctx context.Context, gateway string, readings []wire.Reading) ([]service.Rejected, error) {
	rej, err := s.Sink.Write(ctx, gateway, readings)
	out := make([]service.Rejected, len(rej))
	for i, r := range rej {
		out[i] = service.Rejected{Reading: r.Reading, Reason: r.Reason}
	}
	return out, err
}

// TestJetStreamInflux: two ingest instances (real pipeline, one dedup
// state, one real InfluxDB) consume the shared durable through nodes 2
// and 3 while gateways publish on node 1; every reading is in InfluxDB
// once, applied once over both twins, and acknowledged to its gateway.
func TestJetStreamInflux(t *testing.T) {
	const gateways, total = 3, 3000
	db := influxtest.Start(t)
	c := startNATS(t, gateways)
	is, err := influx.New(influx.Config{URL: db.URL, Bucket: db.Bucket, Logger: quiet}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { is.Close(context.Background()) })
	state := t.TempDir()
	p1, _ := realPipeline(t, clusterURLs(c, 1), influxSink{is}, state)
	p2, _ := realPipeline(t, clusterURLs(c, 2), influxSink{is}, state)
	runGatewaysOn(t, c.Nodes[0].MQTT, gatewayIDs(gateways), total, 100, 3*time.Minute)
	var n int64
	for _, field := range []string{"p0", "p1", "p2", "p3"} { // the points of ingesttest.ReadingFor
		n += db.Count(t, `SELECT count("`+field+`") FROM "ponte"`)
	}
	if n != gateways*total {
		t.Errorf("InfluxDB holds %d readings; want %d", n, gateways*total)
	}
	applied := p1.applier.Total() + p2.applier.Total()
	if applied != gateways*total {
		t.Errorf("applied %d readings over both instances; want %d", applied, gateways*total)
	}
	t.Logf("instance 1 applied %d, instance 2 %d", p1.applier.Total(), p2.applier.Total())
}

// TestJetStreamNodeKill: the node the intake is connected to is killed
// with SIGKILL mid-stream; the intake reconnects to another node and
// continues; every reading is written and applied once.
func TestJetStreamNodeKill(t *testing.T) {
	const gateways, total = 2, 6000
	c := startNATS(t, gateways)
	sink := ingesttest.NewMemSink()
	p, in := realPipeline(t, clusterURLs(c, 0, 1, 2), sink, "")
	diagnoseJS(t, c, []*jsIntake{in}, p.reg)
	server := in.Server()
	var victim, gwNode *natstest.Node
	for _, n := range c.Nodes {
		if n.Name == server {
			victim = n
		} else if gwNode == nil {
			gwNode = n
		}
	}
	if victim == nil {
		t.Fatalf("intake connected to %q, none of the nodes", server)
	}
	go func() {
		for sink.Len() < 1500 {
			time.Sleep(5 * time.Millisecond)
		}
		victim.Kill()
	}()
	gws := runGatewaysOn(t, gwNode.MQTT, gatewayIDs(gateways), total, 50, 3*time.Minute)
	if victim.Running() {
		t.Fatal("the node was not killed during the run")
	}
	if now := in.Server(); now == server || now == "" {
		t.Errorf("intake on %q after its node %s was killed", now, server)
	}
	checkOnce(t, sink.Points(), gws, total, p.applier)
	testenv.Eventually(t, 30*time.Second, "intake connected", in.Connected)
}
