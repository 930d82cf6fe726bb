package app_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// TestStatusReleasesGap: a gateway whose buffer dropped the readings a
// gap waits for says so in its retained status; ingest then acknowledges
// past the gap (and not before).
func TestStatusReleasesGap(t *testing.T) {
	dir := t.TempDir()
	cfg, _ := writeConfig(t, dir, "", "", 1)
	sink := ingesttest.NewMemSink()
	addrs := start(t, cfg, app.Options{Sink: sink, Applier: ingesttest.NewCountingApplier()})
	topics := cfg.Topics()
	gw, err := ingesttest.Connect(addrs.BrokerURL, "gw1", "gw1", password("gw1"))
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Disconnect(50)
	acks := make(chan wire.Ack, 16)
	tok := gw.Subscribe(topics.Ack("gw1"), 1, func(_ paho.Client, m paho.Message) {
		if a, err := wire.DecodeAck(m.Payload()); err == nil {
			acks <- a
		}
	})
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	next := func(what string) wire.Ack {
		t.Helper()
		select {
		case a := <-acks:
			return a
		case <-time.After(20 * time.Second):
			t.Fatalf("no ack for %s", what)
		}
		return wire.Ack{}
	}
	publish := func(payload []byte, retained bool, topic string) {
		t.Helper()
		if tok := gw.Publish(topic, 1, retained, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish to %s: %v", topic, tok.Error())
		}
	}
	publish(ingesttest.BatchRetaining("gw1", 5, 1, 10, 1), false, topics.Up("gw1"))
	if a := next("1-10"); a.Seq != 10 {
		t.Fatalf("ack %d, want 10", a.Seq)
	}
	// 11-20 never arrive; the gateway still holds them: no ack past 10.
	publish(ingesttest.BatchRetaining("gw1", 5, 21, 30, 11), false, topics.Up("gw1"))
	if a := next("21-30"); a.Seq != 10 {
		t.Fatalf("ack %d past a gap the gateway holds, want 10", a.Seq)
	}
	// The open gap is visible on the ops listener.
	if st := opsStatusOf(t, addrs.Ops); len(st.Gaps) != 1 || st.Gaps[0].Gateway != "gw1" || st.Gaps[0].Missing != 10 || st.Gaps[0].Mark != 10 {
		t.Fatalf("/status %+v, want gw1 acknowledged to 10 with 10 missing", st)
	}
	// Its buffer drops 11-30 at the cap; the status says it holds from 31.
	publish(wire.EncodeStatus(wire.Status{Gateway: "gw1", State: wire.StateOnline, Time: time.Now().UTC(), Epoch: 5, Retained: 31}), true, topics.Status("gw1"))
	// A replay of 21-30 is acknowledged once the status is applied (the
	// status is applied off the MQTT goroutine, so resend until it is).
	deadline := time.Now().Add(20 * time.Second)
	for {
		publish(ingesttest.BatchRetaining("gw1", 5, 21, 30, 11), false, topics.Up("gw1"))
		if a := next("the replay"); a.Seq == 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway's status never released the gap")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := sink.Len(); n != 20 {
		t.Fatalf("%d points written, want 20 (1-10 and 21-30, once)", n)
	}
	if st := opsStatusOf(t, addrs.Ops); len(st.Gaps) != 0 {
		t.Fatalf("/status after the release: %+v", st)
	}
}

// opsStatusOf reads /status from the ops listener.
func opsStatusOf(t *testing.T, ops string) struct {
	Ready bool
	Gaps  []service.Gap
} {
	t.Helper()
	var st struct {
		Ready bool
		Gaps  []service.Gap
	}
	resp, err := http.Get("http://" + ops + "/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("/status: %v", err)
	}
	return st
}
