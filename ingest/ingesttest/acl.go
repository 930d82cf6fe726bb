package ingesttest

import (
	"slices"
	"sync"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/wire"
)

// Creds are an MQTT user's name and password.
type Creds struct{ User, Password string }

// CheckCommandACL checks a broker's ACL for commands (issue 16) at url:
// ingest reads every gateway's reports and writes every gateway's
// commands; gw1 reads its own command topic and publishes its own
// reports; gw2 can neither read gw1's commands (SUBACK refused, and in
// any case nothing delivered) nor publish on gw1's report topic. The
// gateways' IDs are their users' names.
func CheckCommandACL(t *testing.T, url string, topics wire.Topics, ingest, gw1, gw2 Creds) {
	t.Helper()
	connect := func(id string, c Creds) mqtt.Client {
		t.Helper()
		cl, err := Connect(url, id, c.User, c.Password)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cl.Disconnect(100) })
		return cl
	}
	var mu sync.Mutex
	var got []string
	inbox := func(who string) mqtt.MessageHandler {
		return func(_ mqtt.Client, m mqtt.Message) {
			mu.Lock()
			got = append(got, who+" "+m.Topic()+" "+string(m.Payload()))
			mu.Unlock()
		}
	}
	received := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
	subscribe := func(c mqtt.Client, filter string, h mqtt.MessageHandler) byte {
		t.Helper()
		tok := c.Subscribe(filter, 1, h)
		if !tok.WaitTimeout(10 * time.Second) {
			t.Fatalf("subscribe %s: no SUBACK", filter)
		}
		return tok.(*mqtt.SubscribeToken).Result()[filter]
	}
	publish := func(c mqtt.Client, topic, payload string) {
		tok := c.Publish(topic, 1, false, payload)
		tok.WaitTimeout(5 * time.Second) // a refused QoS 1 publish may cost the connection
	}
	wait := func(what string, want string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !slices.Contains(received(), want) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %q never arrived; received %q", what, want, received())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	ing := connect("ponte-ingest-acl", ingest)
	if code := subscribe(ing, topics.ReportFilter(), inbox("ingest")); code != 1 {
		t.Fatalf("ingest subscribing every report: SUBACK %#x, want 1", code)
	}
	g1 := connect("ponte-edge-"+gw1.User, gw1)
	g2 := connect("ponte-edge-"+gw2.User, gw2)
	if code := subscribe(g1, topics.Cmd(gw1.User), inbox(gw1.User)); code != 1 {
		t.Fatalf("%s subscribing its own commands: SUBACK %#x, want 1", gw1.User, code)
	}
	code := subscribe(g2, topics.Cmd(gw1.User), inbox(gw2.User))
	t.Logf("%s subscribing %s's commands: SUBACK %#x", gw2.User, gw1.User, code)

	// A forged report first, then the genuine one: only the genuine
	// reaches ingest.
	publish(g2, topics.Report(gw1.User), "forged by "+gw2.User)
	publish(g1, topics.Report(gw1.User), "genuine")
	wait("gw1's own report", "ingest "+topics.Report(gw1.User)+" genuine")
	publish(ing, topics.Cmd(gw1.User), "command")
	wait("ingest's command to gw1", gw1.User+" "+topics.Cmd(gw1.User)+" command")
	// One more round trip through gw1, so that anything the broker routed
	// to gw2 before has arrived too.
	publish(g1, topics.Report(gw1.User), "last")
	wait("gw1's second report", "ingest "+topics.Report(gw1.User)+" last")
	for _, m := range received() {
		switch m {
		case "ingest " + topics.Report(gw1.User) + " genuine", "ingest " + topics.Report(gw1.User) + " last",
			gw1.User + " " + topics.Cmd(gw1.User) + " command":
		default:
			t.Errorf("the ACL let through %q", m)
		}
	}
	if code != 0x80 && code != 1 && code != 0 {
		t.Errorf("SUBACK %#x", code)
	}
}
