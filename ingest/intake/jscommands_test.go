package intake_test

import (
	"context"
	"errors"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/internal/testenv"
)

// TestJetStreamReportConsumerName: the per-instance consumer's name is
// made of characters a consumer's name may hold.
func TestJetStreamReportConsumerName(t *testing.T) {
	cfg := intake.JetStreamConfig{URLs: []string{"nats://127.0.0.1:4222"}, Name: "ingest a.1/*>", Topics: topics}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.ReportConsumer(), "ponte-ingest-reports-ingest_a_1___"; got != want {
		t.Errorf("ReportConsumer %q, want %q", got, want)
	}
	if got, want := cfg.ReportSubject(), "ponte.gw.*.report"; got != want {
		t.Errorf("ReportSubject %q, want %q", got, want)
	}
	js, err := intake.NewJetStream(cfg, newCounting())
	if err != nil {
		t.Fatal(err)
	}
	if err := js.Publish(context.Background(), topics.Cmd("gw1"), []byte("{}")); !errors.Is(err, intake.ErrNotConnected) {
		t.Errorf("Publish before Run: %v, want ErrNotConnected", err)
	}
}

type report struct{ topic, payload string }

// TestJetStreamCommandsAndReports: on a three-node cluster, a command
// published through the intake reaches a gateway subscribed at QoS 1 on
// another node at QoS 1; the gateway's QoS 1 report reaches OnReport; a
// report sent while the instance is stopped reaches it when it runs
// again under the same name (its durable consumer kept it).
func TestJetStreamCommandsAndReports(t *testing.T) {
	testenv.Integration(t, "a three-node NATS cluster")
	c := startNATS(t, 1)
	reports := make(chan report, 16)
	mod := func(cfg *intake.JetStreamConfig) {
		cfg.Name = "ingest-a"
		cfg.OnReport = func(topic string, payload []byte) { reports <- report{topic, string(payload)} }
	}
	in := startJS(t, clusterURLs(c, 0), newCounting(), mod)

	gw, err := ingesttest.Connect(c.Nodes[1].MQTT, "ponte-edge-gw1", "gw1", "pw-gw1")
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Disconnect(50)
	cmds := make(chan paho.Message, 4)
	if tok := gw.Subscribe(topics.Cmd("gw1"), 1, func(_ paho.Client, m paho.Message) { cmds <- m }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	testenv.Eventually(t, 20*time.Second, "the command stored", func() bool {
		return in.Publish(ctx, topics.Cmd("gw1"), []byte(`{"id":"c1"}`)) == nil
	})
	select {
	case m := <-cmds:
		if m.Qos() != 1 || m.Topic() != topics.Cmd("gw1") || string(m.Payload()) != `{"id":"c1"}` {
			t.Fatalf("the gateway received QoS %d on %s: %s", m.Qos(), m.Topic(), m.Payload())
		}
	case <-ctx.Done():
		t.Fatal("no command reached the gateway")
	}

	send := func(payload string) {
		t.Helper()
		if tok := gw.Publish(topics.Report("gw1"), 1, false, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("report: %v", tok.Error())
		}
	}
	wait := func(payload string) {
		t.Helper()
		for {
			select {
			case r := <-reports:
				if r.topic != topics.Report("gw1") {
					t.Fatalf("report on %q", r.topic)
				}
				if r.payload == payload {
					return
				}
			case <-ctx.Done():
				t.Fatalf("report %s not received", payload)
			}
		}
	}
	send("r1")
	wait("r1")
	in.stop()
	send("r2")
	startJS(t, clusterURLs(c, 2), newCounting(), mod)
	wait("r2")
}
