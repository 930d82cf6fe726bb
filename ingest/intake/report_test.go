package intake_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// TestReportsAndPublish: the intake hands every gateway's report to
// OnReport, and Publish reaches a gateway subscribed to its command topic
// (on a real Mosquitto); without a connection Publish says so.
func TestReportsAndPublish(t *testing.T) {
	b := testenv.Mosquitto(t)
	var mu sync.Mutex
	var got []string
	p := startPipeline(t, pipeOpts{url: b.URL, clientID: "ingest-a", sink: ingesttest.NewMemSink(),
		onReport: func(topic string, payload []byte) {
			mu.Lock()
			got = append(got, topic+" "+string(payload))
			mu.Unlock()
		}})
	gw, err := ingesttest.Connect(b.URL, "gw1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Disconnect(100)
	cmds := make(chan string, 1)
	if tok := gw.Subscribe(topics.Cmd("gw1"), 1, func(_ paho.Client, m paho.Message) { cmds <- string(m.Payload()) }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	if err := p.mqtt.Publish(context.Background(), topics.Cmd("gw1"), []byte("cmd-1")); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-cmds:
		if c != "cmd-1" {
			t.Fatalf("gateway received %q", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the command did not reach the gateway")
	}
	for _, gwID := range []string{"gw1", "gw2"} {
		if tok := gw.Publish(topics.Report(gwID), 1, false, []byte("r-"+gwID)); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish report: %v", tok.Error())
		}
	}
	testenv.Eventually(t, 10*time.Second, "both reports handed over", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 2
	})
	if got[0] != "ponte/gw/gw1/report r-gw1" || got[1] != "ponte/gw/gw2/report r-gw2" {
		t.Fatalf("reports %q", got)
	}

	idle, err := intake.NewMQTT(intake.MQTTConfig{URL: b.URL, Topics: topics, Logger: quiet}, p.svc)
	if err != nil {
		t.Fatal(err)
	}
	if err := idle.Publish(context.Background(), topics.Cmd("gw1"), []byte("x")); !errors.Is(err, intake.ErrNotConnected) {
		t.Fatalf("publish without a connection: %v", err)
	}
}

// TestReportFloodDoesNotStallIntake: while the commands' service is
// stuck, a gateway's flood of reports fills the report queue; the rest
// are dropped and counted, and paho's delivery goroutine goes on with
// other gateways' messages (here a status) instead of waiting (issue 16
// review, item 1).
func TestReportFloodDoesNotStallIntake(t *testing.T) {
	b := testenv.Mosquitto(t)
	release := make(chan struct{})
	statuses := make(chan wire.Status, 10)
	p := newService(t, pipeOpts{sink: ingesttest.NewMemSink()})
	reg := prometheus.NewRegistry()
	m, err := intake.NewMQTT(intake.MQTTConfig{URL: b.URL, ClientID: "ingest-flood", Topics: topics, Logger: quiet,
		ReportQueue: 4, Registerer: reg,
		OnStatus: func(st wire.Status) { statuses <- st },
		OnReport: func(string, []byte) { <-release }}, p.svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); m.Run(ctx) }()
	defer func() { close(release); cancel(); <-done }()
	testenv.Eventually(t, 10*time.Second, "intake connected", m.Connected)

	gw, err := ingesttest.Connect(b.URL, "gw1", "", "")
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Disconnect(100)
	for i := 0; i < 30; i++ {
		if tok := gw.Publish(topics.Report("gw1"), 1, false, []byte("r")); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish report %d: %v", i, tok.Error())
		}
	}
	if tok := gw.Publish(topics.Status("gw2"), 1, false, wire.EncodeStatus(wire.Status{Gateway: "gw2", State: wire.StateOnline})); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("publish status: %v", tok.Error())
	}
	select {
	case st := <-statuses:
		if st.Gateway != "gw2" {
			t.Fatalf("status of %q", st.Gateway)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("another gateway's status waited behind the stuck reports")
	}
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("metrics: %v %v", mfs, err)
	}
	if n := mfs[0].GetMetric()[0].GetCounter().GetValue(); n < 25 {
		t.Fatalf("dropped %v reports, want at least 25 (30 sent, 1 handed over, 4 queued)", n)
	}
}
