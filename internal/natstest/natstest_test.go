package natstest_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
)

func connect(t *testing.T, url, id string) mqtt.Client {
	t.Helper()
	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID(id).SetCleanSession(false).SetAutoReconnect(false))
	if tok := c.Connect(); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %s: %v", id, url, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(100) })
	return c
}

// TestCluster: three nodes form a cluster; an MQTT QoS 1 message published
// on one node reaches a subscriber on another; a node killed with SIGKILL
// comes back on its ports and store and rejoins.
func TestCluster(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	if len(c.Nodes) != 3 {
		t.Fatalf("%d nodes", len(c.Nodes))
	}
	got := make(chan string, 10)
	sub := connect(t, c.Nodes[1].MQTT, "sub")
	if tok := sub.Subscribe("ponte/test/+", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m.Topic() + "=" + string(m.Payload()) }); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	pub := connect(t, c.Nodes[0].MQTT, "pub")
	for i := range 3 {
		if tok := pub.Publish(fmt.Sprintf("ponte/test/%d", i), 1, false, "x"); !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %d: %v", i, tok.Error())
		}
	}
	seen := map[string]bool{}
	for len(seen) < 3 {
		select {
		case m := <-got:
			seen[m] = true
		case <-time.After(30 * time.Second):
			t.Fatalf("received %v, want ponte/test/0..2 across nodes", seen)
		}
	}

	c.Nodes[2].Kill()
	if c.Nodes[2].Running() {
		t.Fatal("node 3 still running after Kill")
	}
	c.Nodes[2].Start(t)
	if !c.Nodes[2].Running() {
		t.Fatal("node 3 not running after Start")
	}
	connect(t, c.Nodes[2].MQTT, "after-restart")
}

// TestReplicatedStream: a stream with three replicas keeps what it
// acknowledged through a kill -9 of its leader's node, read from another.
func TestReplicatedStream(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	js := natstest.JetStream(t, c.URLs(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := js.Publish(ctx, fmt.Sprintf("t.%d", i), []byte("x")); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader := info.Cluster.Leader
	var killed *natstest.Node
	for _, n := range c.Nodes {
		if n.Name == leader {
			killed = n
		}
	}
	if killed == nil {
		t.Fatalf("leader %q is none of the nodes", leader)
	}
	killed.Kill()
	testenv.Eventually(t, time.Minute, "a new leader holding the 10 messages", func() bool {
		// Short calls: a request sent to the dead node while the client
		// reconnects is lost, not answered.
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		info, err := s.Info(ctx)
		return err == nil && info.Cluster.Leader != "" && info.Cluster.Leader != leader && info.State.Msgs == 10
	})
	killed.Start(t)
}
