package uplink

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// Commands reach OnCommand on every connection, also after the broker
// restarted and forgot the subscription; reports reach the report topic
// once PublishReport returns; OnConnect runs at each connection; with no
// connection PublishReport says ErrNotConnected.
func TestCommandsAndReports(t *testing.T) {
	testenv.Integration(t, "mosquitto")
	broker := testenv.Mosquitto(t)
	newAcker(t, broker.URL, ackMax)
	cmds := make(chan []byte, 10)
	var connects atomic.Int32
	cfg := baseConfig(broker.URL)
	cfg.OnCommand = func(p []byte) { cmds <- p }
	cfg.OnConnect = func() { connects.Add(1) }
	f := start(t, cfg, openBuf(t))
	testenv.Eventually(t, 10*time.Second, "the forwarder connected", func() bool { return f.Status().Connected && connects.Load() == 1 })

	var topics wire.Topics
	reports := make(chan []byte, 10)
	sub := publisher(t, broker.URL)
	if tok := sub.Subscribe(topics.Report(testGW), 1, func(_ paho.Client, m paho.Message) { reports <- m.Payload() }); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe to reports: %v", tok.Error())
	}
	sendCmd := func(id string) {
		t.Helper()
		now := time.Now().UTC()
		data, err := wire.EncodeCommand(&wire.Command{ID: id, Device: "lamp-1", Point: "line_level", Value: 40, Issued: now, Expires: now.Add(time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		publishT(t, sub, topics.Cmd(testGW), false, data)
		select {
		case got := <-cmds:
			c, err := wire.DecodeCommand(got)
			if err != nil || c.ID != id {
				t.Fatalf("OnCommand got %q (%v), want command %s", got, err, id)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("command %s did not reach OnCommand", id)
		}
	}
	sendCmd("c-1")
	publishT(t, sub, topics.Cmd("another-gw"), false, []byte(`{"v":1}`))

	rb := 40.0
	want := &wire.Report{ID: "c-1", Gateway: testGW, Status: wire.StatusApplied, Readback: &rb, At: time.Now().UTC().Truncate(time.Millisecond)}
	if err := f.PublishReport(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-reports:
		r, err := wire.DecodeReport(got)
		if err != nil || r.ID != "c-1" || r.Status != wire.StatusApplied || *r.Readback != 40 || !r.At.Equal(want.At) {
			t.Fatalf("report %q (%v)", got, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("report not on the report topic")
	}

	broker.Restart(100 * time.Millisecond)
	testenv.Eventually(t, 20*time.Second, "reconnected after the broker restart", func() bool { return f.Status().Connected && connects.Load() == 2 })
	sub.Disconnect(0) // it lost its session with the broker; a new one takes its client ID
	sub = publisher(t, broker.URL)
	sendCmd("c-2")
	select {
	case got := <-cmds:
		t.Errorf("a command for another gateway reached OnCommand: %q", got)
	default:
	}

	broker.Stop()
	testenv.Eventually(t, 20*time.Second, "the forwarder noticed the broker is gone", func() bool { return !f.Status().Connected })
	if err := f.PublishReport(context.Background(), want); !errors.Is(err, ErrNotConnected) {
		t.Errorf("PublishReport without a connection: %v, want ErrNotConnected", err)
	}
}
