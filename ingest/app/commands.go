package app

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/command"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// commands is the commands' service as Run wires it: built before the
// MQTT intake (which hands it reports and statuses), publishing through
// the intake once that exists.
type commands struct {
	svc *command.Service
	pub atomic.Pointer[func(ctx context.Context, topic string, payload []byte) error]
	// audit is the InfluxDB audit writer (nil with a test sink).
	audit *command.InfluxAudit
}

// errNoPublisher is the publish error before the intake is attached.
var errNoPublisher = errors.New("ingest: commands: the broker connection is not up yet")

// buildCommands returns the commands' service, or nil when commands are
// off (no twin or no operator tokens, commands.enabled: false). The
// intake of either broker (MQTT, or JetStream on a NATS cluster: see
// natsUplink) feeds it reports and statuses and publishes its commands.
// withInflux writes the audit to cfg.Influx too.
func buildCommands(cfg *config.Config, tw *twin.Twin, inv *inventory, withInflux bool, log *slog.Logger, reg prometheus.Registerer) (*commands, error) {
	cc, on := cfg.CommandsOn()
	if !on || tw == nil {
		return nil, nil
	}
	c := &commands{}
	var points command.AuditPoints
	if withInflux {
		c.audit = command.NewInfluxAudit(cfg.Influx.URL, cfg.Influx.Token, cfg.Influx.Org, cfg.Influx.Bucket, cfg.Influx.Timeout.D())
		points = c.audit
	}
	svc, err := command.New(command.Config{
		Lookup: lookupTarget(tw, inv), Topics: cfg.Topics(), Publish: c.publish,
		AuditDir: cc.AuditDir, AuditMaxBytes: cc.AuditMaxBytes, AuditRetention: time.Duration(cc.AuditRetentionDays) * 24 * time.Hour,
		ContinueBrokenAudit: cc.AuditContinueBroken, AuditPoints: points,
		Expiry: cc.Expiry.D(), MaxExpiry: cc.MaxExpiry.D(), Grace: cc.Grace.D(), Resend: cc.Resend.D(),
		DeviceBurst: cc.DeviceRate.Burst, DeviceRefill: cc.DeviceRate.Refill.D(),
		OperatorBurst: cc.OperatorRate.Burst, OperatorRefill: cc.OperatorRate.Refill.D(),
		MaxOpen: cc.MaxOpen, MaxOpenPerOperator: cc.MaxOpenPerOperator, FinalWait: cc.FinalWait.D(), KeepEnded: cc.KeepEnded.D(),
		ReportBurst: cc.ReportRate.Burst, ReportRefill: cc.ReportRate.Refill.D(),
		Logger: log.With("component", "commands"), Registerer: reg,
	})
	if err != nil {
		if c.audit != nil {
			c.audit.Close()
		}
		return nil, err
	}
	c.svc = svc
	return c, nil
}

// attach makes publish go through p.
func (c *commands) attach(p func(ctx context.Context, topic string, payload []byte) error) {
	if c != nil {
		c.pub.Store(&p)
	}
}

func (c *commands) publish(ctx context.Context, topic string, payload []byte) error {
	p := c.pub.Load()
	if p == nil {
		return errNoPublisher
	}
	return (*p)(ctx, topic, payload)
}

// onReport is the intake's report callback (nil without commands).
func (c *commands) onReport() func(topic string, payload []byte) {
	if c == nil {
		return nil
	}
	return c.svc.HandleReport
}

// onStatus is the intake's status callback (nil without commands).
func (c *commands) onStatus() func(wire.Status) {
	if c == nil {
		return nil
	}
	return c.svc.OnStatus
}

// close closes the audit log and the InfluxDB client.
func (c *commands) close() error {
	if c == nil {
		return nil
	}
	if c.audit != nil {
		defer c.audit.Close()
	}
	return c.svc.Close()
}

// lookupTarget resolves a site's entity through the twin (its gateway,
// device and latest values) and the inventory (the device's profile).
func lookupTarget(tw *twin.Twin, inv *inventory) func(string) (command.Target, bool) {
	return func(entity string) (command.Target, bool) {
		e, ok := tw.Entity(entity)
		if !ok || e.Kind != twin.KindSite {
			return command.Target{}, false
		}
		t := command.Target{Entity: e.ID, Gateway: e.Gateway, Device: e.Device, Current: map[string]float64{}}
		if d, ok := inv.get().Device(e.Gateway, e.Device); ok {
			t.Profile = d.LoadedProfile()
		}
		for name, a := range e.Attrs {
			switch v := a.Value.(type) {
			case float64:
				t.Current[name] = v
			case int64:
				t.Current[name] = float64(v)
			case bool:
				t.Current[name] = map[bool]float64{false: 0, true: 1}[v]
			}
		}
		return t, true
	}
}

// handler is the commands' API for api.Config.Commands (nil without
// commands: the API answers 503).
func (c *commands) handler() http.Handler {
	if c == nil {
		return nil
	}
	return c.svc.Handler()
}
