package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/ponte-city/ponte/ingest/broker"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/ingest/influx"
	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/ingest/replica"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/throttle"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/alarms"
	"github.com/ponte-city/ponte/twin/api"
	"github.com/ponte-city/ponte/twin/ngsild/subs"
	"github.com/ponte-city/ponte/twin/opendata"
)

// Options are what a caller may set beyond the configuration file.
type Options struct {
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Registry receives every metric (default a new registry with the Go
	// and process collectors).
	Registry *prometheus.Registry
	// Sink replaces the InfluxDB sink (tests, benchmarks).
	Sink service.Sink
	// Applier receives newly written readings (the twin; optional).
	Applier service.Applier
	// Started, if set, is called once everything listens.
	Started func(Addrs)
}

// Addrs are the addresses Run listens on.
type Addrs struct {
	// HTTP is the public listener: the HTTP intake, the twin's API and
	// pages (HTTPS when the configuration has http.tls).
	HTTP string
	// Ops is the operations listener: /metrics, /healthz, /readyz.
	Ops string
	// BrokerURL is the broker ingest connects to (the embedded one's
	// address when embedded).
	BrokerURL string
	// Embedded reports whether the broker is the embedded one.
	Embedded bool
	// Twin is the digital twin, when the configuration has one.
	Twin twin.Reader
}

// Run runs ingest until ctx is done, then stops every part within about
// ten seconds.
func Run(ctx context.Context, cfg *config.Config, opts Options) (err error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	reg := opts.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	closeCtx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 10*time.Second)
	}

	store, err := openDedup(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer store.Close()
	inv, err := openInventory(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer inv.close()
	dl, err := deadletter.Open(deadletter.Config{Dir: cfg.DeadLetter.Dir, MaxBytes: cfg.DeadLetter.MaxBytes, Logger: log, Registerer: reg})
	if err != nil {
		return err
	}
	sink := opts.Sink
	if sink == nil {
		is, err := influx.New(influx.Config{
			URL: cfg.Influx.URL, Token: cfg.Influx.Token, Org: cfg.Influx.Org, Bucket: cfg.Influx.Bucket,
			Measurement: cfg.Influx.Measurement, BatchSize: cfg.Influx.BatchSize,
			FlushInterval: cfg.Influx.FlushInterval.D(), Timeout: cfg.Influx.Timeout.D(),
			RetryBase: cfg.Influx.RetryBase.D(), RetryMax: cfg.Influx.RetryMax.D(), ProbeInterval: cfg.Influx.ProbeInterval.D(),
			Logger: log.With("component", "influx"), Registerer: reg,
		}, inv.meta())
		if err != nil {
			return fmt.Errorf("ingest: influx sink: %w", err)
		}
		defer func() {
			c, cancel := closeCtx()
			defer cancel()
			err = errors.Join(err, is.Close(c))
		}()
		sink = influxSink{is}
	}
	var addrs Addrs
	var tw *twin.Twin
	var alarmEngine *alarms.Engine
	var rep *replica.Replica
	var alarmSync *replica.Alarms
	if cfg.Twin != nil {
		if tw, err = buildTwin(cfg, inv.get(), log, reg); err != nil {
			return err
		}
		if rep, err = openReplica(ctx, cfg, tw, log, reg); err != nil {
			return err
		} else if rep != nil {
			defer rep.Close()
		}
		if opts.Applier == nil {
			opts.Applier = appliedLog{next: twinApplier(tw, rep), log: log.With("component", "twin")}
		}
		addrs.Twin = tw
		var shared alarms.Shared
		if rep != nil {
			if alarmSync, err = openAlarms(ctx, rep); err != nil {
				return err
			}
			shared = alarmSync
		}
		if alarmEngine, err = buildAlarms(cfg, tw, shared, log, reg); err != nil {
			return err
		}
	}
	svcCfg := service.Config{
		Sink: sink, Applier: opts.Applier, Dedup: store, DeadLetter: dl,
		// The applied stream's follower applies a seq once however often
		// it is published: publish before the commit (see ingest/replica).
		ApplyBeforeCommit: rep != nil,
		Gateways:          inv.gatewayIDs(), Devices: inv.get().Devices(), UnknownDevices: cfg.UnknownDevices, MaxNewDevices: cfg.MaxNewDevices,
		MaxAge: cfg.MaxAge.D(), MaxFuture: cfg.MaxFuture.D(), Workers: cfg.Workers, QueueLen: cfg.Queue,
		Logger: log, Registerer: reg,
	}
	svc, err := service.New(svcCfg)
	if err != nil {
		return err
	}

	addrs.BrokerURL = cfg.Broker.URL
	user, pass := cfg.Broker.Username, cfg.Broker.Password
	var embedded *broker.Broker
	if addrs.BrokerURL == "" && cfg.Broker.NATS == nil {
		if pass == "" {
			pass = randomSecret()
		}
		brokerTLS, certOK := inv.brokerTLS(cfg.Broker.TLS.Embedded())
		b, err := broker.Start(broker.Config{Listen: cfg.Broker.Listen, Topics: cfg.Topics(), Gateways: cfg.Passwords(), GatewayHashes: cfg.PasswordHashes(),
			IngestUser: user, IngestPassword: pass, Limits: cfg.Broker.Limits.Embedded(), TLS: brokerTLS, CertOK: certOK,
			Registerer: reg, Logger: log})
		if err != nil {
			return err
		}
		defer func() {
			c, cancel := closeCtx()
			defer cancel()
			err = errors.Join(err, b.Close(c))
		}()
		addrs.BrokerURL, addrs.Embedded = b.URL(), true
		embedded = b
	}
	if err := inv.attach(svc, embedded, tw); err != nil {
		return err
	}
	cmds, err := buildCommands(cfg, tw, inv, opts.Sink == nil, log, reg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, cmds.close()) }()
	rel := newReleaser(svc, log.With("component", "status"))
	onStatus := both(statusTo(tw), both(rel.offer, both(svc.StatusSeen, cmds.onStatus())))
	var mq uplink
	if cfg.Broker.NATS != nil {
		mq, addrs.BrokerURL, err = natsUplink(cfg, svc, onStatus, cmds, log, reg)
	} else {
		var m *intake.MQTT
		m, err = intake.NewMQTT(intake.MQTTConfig{URL: addrs.BrokerURL, ClientID: cfg.Broker.ClientID,
			Username: user, Password: pass, Topics: cfg.Topics(), ShareGroup: cfg.Broker.ShareGroup,
			OnStatus: onStatus, OnReport: cmds.onReport(), Logger: log.With("component", "mqtt"), Registerer: reg}, svc)
		if err == nil {
			mq = m
			cmds.attach(m.Publish)
		}
	}
	if err != nil {
		return err
	}
	callout, err := natsCallout(cfg, inv, log, reg)
	if err != nil {
		return err
	}

	guard, err := throttle.New(throttle.Config{Listener: intake.ListenerHTTP, Burst: cfg.HTTP.AuthBurst,
		Refill: cfg.HTTP.AuthRefill.D(), Logger: log.With("component", "http"), Registerer: reg})
	if err != nil {
		return fmt.Errorf("ingest: http: %w", err)
	}
	gwGuard, err := throttle.New(throttle.Config{Listener: intake.ListenerHTTP, Burst: cfg.HTTP.AuthGatewayBurst,
		Refill: cfg.HTTP.AuthRefill.D(), Logger: log.With("component", "http"), Registerer: reg})
	if err != nil {
		return fmt.Errorf("ingest: http: %w", err)
	}
	mux := http.NewServeMux()
	var subsMgr *subs.Manager
	var recorders []*opendata.Recorder
	intake.NewHTTP(intake.HTTPConfig{Tokens: cfg.Tokens(), Ready: svc.Ready, Timeout: cfg.HTTP.RequestTimeout.D(),
		Guard: guard, GatewayGuard: gwGuard, Logger: log.With("component", "http")}, svc).Register(mux)
	var twinAPI *api.API
	if tw != nil {
		alarmsH := alarmEngine.ScopedHandler(alarms.ScopeSees(tw, api.ScopeOf))
		if subsMgr, err = buildSubscriptions(cfg, tw, log, reg); err != nil {
			return err
		}
		if twinAPI, err = mountTwin(mux, cfg, tw, alarmsH, subsHandler(subsMgr), cmds.handler(), log, reg); err != nil {
			return err
		}
		if recorders, err = mountOpenData(mux, cfg, tw, log, reg); err != nil {
			return err
		}
	}
	registerReplay(mux, cfg, svc, svcCfg, store, log)
	if cfg.Enrolment != nil {
		// Enrolment is served only when the configuration has operators
		// (config checks it), who issue its tokens.
		// The twin API's operator check: a tenant's operators provision
		// and see the gateways of their tenant (enrol.HTTPConfig.Caller).
		op := operatorOnly(cfg.Twin.Tokens, guard)
		if twinAPI != nil {
			op = twinAPI.Operator
		}
		inv.register(mux, op, guard, log)
	}
	opsMux := http.NewServeMux()
	intake.RegisterOps(opsMux, reg,
		intake.Check{Name: "sink", OK: svc.Ready},
		intake.Check{Name: "mqtt", OK: mq.Connected})
	opsMux.Handle("/status", statusHandler(svc, func() bool { return svc.Ready() && mq.Connected() }))
	servers, err := listen(cfg, mux, opsMux, &addrs)
	if err != nil {
		return err
	}
	defer servers.close()

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return svc.Run(gctx) })
	g.Go(func() error { return mq.Run(gctx) })
	g.Go(func() error { return rel.run(gctx) })
	if callout != nil {
		g.Go(func() error { return callout(gctx) })
	}
	if cmds != nil {
		g.Go(func() error { return cmds.svc.Run(gctx) })
	}
	if tw != nil {
		g.Go(func() error {
			if err := tw.Run(gctx); err != nil && gctx.Err() == nil {
				return fmt.Errorf("ingest: twin: %w", err)
			}
			return nil
		})
		g.Go(func() error { return alarmEngine.Run(gctx) })
		if subsMgr != nil {
			g.Go(func() error { return subsMgr.Run(gctx) })
		}
		for _, r := range recorders {
			g.Go(func() error { return r.Run(gctx) })
		}
		if rep != nil {
			g.Go(func() error { return rep.Run(gctx, tw) })
			g.Go(func() error { return alarmSync.Run(gctx, alarmEngine) })
		}
	}
	servers.run(gctx, g, closeCtx)
	log.Info("ingest running", "http", addrs.HTTP, "https", cfg.HTTP.TLS != nil, "ops", addrs.Ops, "broker", addrs.BrokerURL, "embedded_broker", addrs.Embedded)
	if opts.Started != nil {
		opts.Started(addrs)
	}
	return g.Wait()
}

func randomSecret() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// openDedup opens the dedup state: the replicated bucket of dedup.nats
// when configured (instances on several machines), else the files in
// state_dir.
func openDedup(ctx context.Context, cfg *config.Config, log *slog.Logger) (dedup.Store, error) {
	if kc, ok := cfg.KV(); ok {
		kc.Logger = log
		s, err := dedup.OpenKV(ctx, kc)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := dedup.Open(dedup.Config{Dir: cfg.StateDir, Logger: log})
	if err != nil {
		return nil, err
	}
	return s, nil
}
