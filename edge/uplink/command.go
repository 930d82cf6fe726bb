package uplink

import (
	"context"
	"errors"
	"fmt"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/wire"
)

// Commands (issue 16). With Config.OnCommand set, every connection
// subscribes to the gateway's command topic (Topics.Cmd) with QoS 1 in
// the same OnConnect handler as the acks, so a broker that restarted and
// forgot the subscription gets it again. The session stays clean: a
// command published while the gateway is away is not queued by the
// broker; ingest publishes again every command without a final report
// when the gateway's status comes back online, and the executor
// (edge/command) answers a command ID it has seen with the report it
// kept, so redeliveries are harmless.
//
// PublishReport publishes a report with QoS 1 on Topics.Report and
// returns once the broker's PUBACK arrived: the executor records a
// report as delivered only then, and publishes again after a reconnect
// (Config.OnConnect) what was not.

// ErrNotConnected is returned by PublishReport while the forwarder has no
// connection.
var ErrNotConnected = errors.New("uplink: not connected")

// PublishReport publishes r on the gateway's report topic with QoS 1 and
// waits for the broker's acknowledgement, bounded by ctx and the connect
// timeout. It may be called from any goroutine. ErrNotConnected means no
// connection is up; any error means the report may not have reached the
// broker.
func (f *Forwarder) PublishReport(ctx context.Context, r *wire.Report) error {
	data, err := wire.EncodeReport(r)
	if err != nil {
		return fmt.Errorf("publish report %s: %w", r.ID, err)
	}
	c := f.cur.Load()
	if c == nil {
		return fmt.Errorf("publish report %s: %w", r.ID, ErrNotConnected)
	}
	if err := waitToken(ctx, c.client.Publish(f.report, 1, false, data), f.cfg.ConnectTimeout); err != nil {
		return fmt.Errorf("publish report %s to %s: %w", r.ID, f.report, err)
	}
	return nil
}

// onCommand is paho's handler for the command topic; it hands a copy of
// the payload to Config.OnCommand, which must not block.
func (f *Forwarder) onCommand(_ paho.Client, msg paho.Message) {
	f.cfg.OnCommand(append([]byte(nil), msg.Payload()...))
}

// subscribeAll makes the connection's subscriptions: the acks, and the
// commands when the agent takes them.
func (f *Forwarder) subscribeAll(cl paho.Client) error {
	if err := subscribe(cl, f.ack, f.ackQoS(), f.cfg.ConnectTimeout, f.onAck); err != nil {
		return err
	}
	if f.cfg.OnCommand == nil {
		return nil
	}
	return subscribe(cl, f.cmd, 1, f.cfg.ConnectTimeout, f.onCommand)
}
