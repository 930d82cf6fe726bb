package natstest_test

import (
	"fmt"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/internal/natstest"
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
