package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/edge/command"
	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/edge/source/mqtt"
	"github.com/ponte-city/ponte/edge/uplink"
	"github.com/ponte-city/ponte/internal/site"
)

// Defaults for zero Config fields.
const (
	DefaultShutdownTimeout = 20 * time.Second
	DefaultDrainTimeout    = 5 * time.Second
)

// Errors callers may branch on.
var (
	// ErrRunning is returned by Run when the Agent runs already or ran.
	ErrRunning = errors.New("agent already started")
	// ErrNotRunning is returned by Reload when Run is not running.
	ErrNotRunning = errors.New("agent not running")
	// ErrRestartNeeded is wrapped by Reload's error when a setting that
	// only a restart applies changed.
	ErrRestartNeeded = errors.New("restart needed")
)

// Config configures an Agent.
type Config struct {
	// Path is the site config file, read by New and again by Reload.
	Path string
	// Load adjusts how the site config is read (profiles directory).
	Load site.Options
	// Version is the agent's version, shown in /status, the metrics and
	// the uplink status message.
	Version string
	// Logger receives the agent's logs (nil: discard).
	Logger *slog.Logger
	// Registry receives every metric and is served on /metrics (nil: a
	// new registry with the Go and process collectors).
	Registry *prometheus.Registry
	// ShutdownTimeout bounds the whole shutdown (default 20s).
	ShutdownTimeout time.Duration
	// DrainTimeout is how long, at most, shutdown waits for ingest to
	// acknowledge what is buffered while the uplink is connected
	// (default 5s; what is left is sent at the next start).
	DrainTimeout time.Duration
}

// Validate checks c.
func (c Config) Validate() error {
	var errs []error
	if c.Path == "" {
		errs = append(errs, errors.New("agent config: path: required (the site config file)"))
	}
	if c.ShutdownTimeout < 0 {
		errs = append(errs, fmt.Errorf("agent config: shutdown timeout %s is negative", c.ShutdownTimeout))
	}
	if c.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("agent config: drain timeout %s is negative", c.DrainTimeout))
	}
	return errors.Join(errs...)
}

// Agent is one edge gateway's agent. Create it with New and call Run once;
// Status, Reload and Addr may be called from any goroutine.
type Agent struct {
	cfg         Config
	log         *slog.Logger
	reg         *prometheus.Registry
	m           *metrics
	srcMetrics  *source.Metrics
	mqttMetrics *mqtt.Metrics
	rec         *recorder
	tails       *tailHub
	listener    net.Listener
	started     time.Time

	mu      sync.Mutex
	site    *Site
	initial []namedSource

	buf     atomic.Pointer[buffer.Buffer]
	up      atomic.Pointer[uplinker]
	cmds    atomic.Pointer[command.Executor]
	writers atomic.Pointer[writerSet] // device -> the running source that writes it
	ready   atomic.Bool
	running atomic.Bool
	reloads chan reloadRequest
	stopped chan struct{} // closed when the sources' supervisor has ended
}

// reloadRequest hands a checked site and its sources to the supervisor.
type reloadRequest struct {
	site *Site
	srcs []namedSource
	done chan struct{}
}

// New reads the site config, checks it and everything built from it
// (sources, uplink settings and TLS files), and binds the HTTP listener,
// so that a bad config or a busy port fails here, before anything runs.
func New(cfg Config) (*Agent, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	site, err := Load(cfg.Path, cfg.Load)
	if err != nil {
		return nil, err
	}
	for _, w := range site.SecretWarnings() {
		w.Log(log)
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	a := &Agent{
		cfg: cfg, log: log, reg: reg, site: site, started: time.Now(),
		m:           newMetrics(reg),
		srcMetrics:  source.NewMetrics(reg),
		mqttMetrics: mqtt.NewMetrics(reg),
		reloads:     make(chan reloadRequest),
		stopped:     make(chan struct{}),
	}
	a.rec = newRecorder(nil, log, a.m)
	a.tails = newTailHub()
	a.m.info.WithLabelValues(site.Gateway.ID, cfg.Version).Set(1)
	if _, err := uplinkConfig(site, nil, cfg.Version, log); err != nil {
		return nil, err
	}
	if a.initial, err = a.buildSources(site); err != nil {
		return nil, err
	}
	a.listener, err = net.Listen("tcp", site.HTTP.Listen)
	if err != nil {
		return nil, fmt.Errorf("local HTTP API on %s (http.listen): %w", site.HTTP.Listen, err)
	}
	return a, nil
}

// Addr is the local HTTP API's address (useful when http.listen has port 0).
func (a *Agent) Addr() string { return a.listener.Addr().String() }

func (a *Agent) currentSite() *Site {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.site
}

// Run opens the buffer and runs the sources, the forwarder and the HTTP
// API until ctx is cancelled, then shuts down in order (see the package
// docs) and returns nil; or returns the error of a part that failed,
// after shutting the others down.
func (a *Agent) Run(ctx context.Context) (err error) {
	if !a.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer close(a.stopped)
	site := a.currentSite()
	buf, err := buffer.Open(ctx, buffer.Config{Dir: site.Buffer.Dir, MaxBytes: int64(site.Buffer.MaxBytes),
		MaxAge: site.Buffer.MaxAge.D(), SegmentBytes: int64(site.Buffer.SegmentBytes), SyncInterval: site.Buffer.SyncInterval.D(),
		Logger: a.log.With("part", "buffer"), Registerer: a.reg})
	if err != nil {
		a.listener.Close()
		return err // buffer.Open names the directory

	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
		defer cancel()
		if cerr := buf.Close(cctx); cerr != nil {
			a.log.Error("close buffer", "err", cerr)
			err = errors.Join(err, fmt.Errorf("close buffer: %w", cerr))
		}
	}()
	var fw atomic.Pointer[uplink.Forwarder]
	cmds, err := a.newExecutor(site, site.Buffer.Dir, reportVia(&fw))
	if err != nil {
		a.listener.Close()
		return err
	}
	f, err := newUplink(site, buf, a.cfg.Version, a.log.With("part", "uplink"), a.reg, a.rec, cmds)
	if err != nil {
		a.listener.Close()
		return err
	}
	fw.Store(f)
	var up uplinker = forwarder{f}
	a.rec.buf = buf
	a.buf.Store(buf)
	a.up.Store(&up)
	a.cmds.Store(cmds)

	srv := &http.Server{Handler: a.handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(), slog.LevelWarn)}
	srv.RegisterOnShutdown(a.tails.close) // live readings streams end, so Shutdown need not wait for them
	srcCtx, stopSources := context.WithCancel(context.Background())
	defer stopSources()
	upCtx, stopUplink := context.WithCancel(context.Background())
	defer stopUplink()
	srcDone, upDone := make(chan struct{}), make(chan struct{})

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(a.listener); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("local HTTP API: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		defer close(srcDone)
		a.supervise(srcCtx, site)
		return nil
	})
	g.Go(func() error {
		defer close(upDone)
		if err := up.Run(upCtx); err != nil {
			return fmt.Errorf("uplink: %w", err)
		}
		return nil
	})
	cmdCtx, stopCommands := context.WithCancel(context.Background())
	defer stopCommands()
	g.Go(func() error { return cmds.Run(cmdCtx) })
	g.Go(func() error {
		<-gctx.Done()
		stopCommands() // a write in progress ends failed; queued commands wait for ingest's resend
		a.shutdown(srv, buf, up, stopSources, srcDone, stopUplink, upDone)
		return nil
	})
	a.log.Info("agent running", "gateway", site.Gateway.ID, "version", a.cfg.Version, "devices", len(site.Devices),
		"http", a.Addr(), "buffer", site.Buffer.Dir, "epoch", buf.Epoch())
	return g.Wait()
}

// shutdown stops the parts in order, within ShutdownTimeout: sources, the
// last appends made durable, a bounded drain of the uplink, the uplink,
// the HTTP API. The buffer is closed by Run.
func (a *Agent) shutdown(srv *http.Server, buf *buffer.Buffer, up uplinker, stopSources func(), srcDone <-chan struct{},
	stopUplink func(), upDone <-chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.ShutdownTimeout)
	defer cancel()
	a.log.Info("agent stopping")
	a.ready.Store(false)
	a.m.ready.Set(0)
	stopSources()
	select {
	case <-srcDone:
	case <-ctx.Done():
		a.log.Error("sources did not stop in time")
	}
	if err := a.rec.wait(ctx); err != nil {
		a.log.Error("last readings not durable", "err", err)
	}
	a.drain(ctx, buf, up)
	stopUplink()
	select {
	case <-upDone:
	case <-ctx.Done():
		a.log.Error("uplink did not stop in time")
	}
	if err := srv.Shutdown(ctx); err != nil {
		a.log.Warn("local HTTP API shutdown", "err", err)
		_ = srv.Close()
	}
}

// drain waits, at most DrainTimeout, for ingest to acknowledge every
// durable reading, while the uplink is connected.
func (a *Agent) drain(ctx context.Context, buf *buffer.Buffer, up uplinker) {
	ctx, cancel := context.WithTimeout(ctx, a.cfg.DrainTimeout)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		st := up.status()
		last := buf.Stats().DurableSeq
		if st.AckedSeq >= last || !st.Connected {
			if st.AckedSeq < last {
				a.log.Info("uplink down: buffered readings will be sent at the next start", "acked_seq", st.AckedSeq, "durable_seq", last)
			}
			return
		}
		select {
		case <-ctx.Done():
			a.log.Info("drain timed out: buffered readings will be sent at the next start", "acked_seq", st.AckedSeq, "durable_seq", last)
			return
		case <-tick.C:
		}
	}
}
