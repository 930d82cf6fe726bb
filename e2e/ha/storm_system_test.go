//go:build ha

package ha

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/backoff"
	"github.com/ponte-city/ponte/internal/influxtest"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// startStorm starts the reconnect storm's system: the three-node cluster
// with n gateway users, InfluxDB, and one ingest instance (broker.nats,
// dedup.nats; no twin: the storm is on the MQTT side, see
// TestReconnectStorm).
func startStorm(t *testing.T, n int, opts natstest.Options) *system {
	t.Helper()
	bin := buildIngest(t)
	s := &system{dir: t.TempDir(), ingestPass: testenv.Secret(t), gwPass: map[string]string{}, token: testenv.Secret(t)}
	for i := 1; i <= n; i++ {
		s.gwPass[stormID(i)] = testenv.Secret(t)
	}
	s.nats = natstest.Start(t, natstest.Options{Nodes: 3, Config: natsAccounts(t, s.ingestPass, s.gwPass), MQTT: opts.MQTT, JetStream: opts.JetStream})
	s.influx = influxtest.Start(t)
	s.a = s.newInstance(t, bin, "a", "")
	s.a.proc.Start()
	return s
}

// stormID is the ID of storm gateway i (1-based).
func stormID(i int) string { return fmt.Sprintf("storm%04d", i) }

// stormGW is one simulated gateway of the storm and the times it came
// back after the kill (Unix nanoseconds; 0: not yet).
type stormGW struct {
	*ingesttest.Gateway
	c mqtt.Client
	// ackedAtKill is the gateway's acknowledged seq when the node died.
	ackedAtKill uint64
	connected   atomic.Int64
	subscribed  atomic.Int64
	acked       atomic.Int64
}

// killClock is the time a node was killed, shared by the gateways' hooks
// (0: before the kill).
type killClock struct{ at atomic.Int64 }

// mark stores now in v once, if the kill has happened.
func (k *killClock) mark(v *atomic.Int64) {
	if k.at.Load() != 0 {
		v.CompareAndSwap(0, time.Now().UnixNano())
	}
}

// connectStorm connects n gateways, each to first and then to the other
// nodes (rotated by gateway, so that their reconnections spread), with
// the edge's rewind on every connection; at most 50 connect at a time.
func connectStorm(t *testing.T, s *system, n int, first *natstest.Node, kill *killClock) []*stormGW {
	t.Helper()
	var others []string
	for _, node := range s.nats.Nodes {
		if node != first {
			others = append(others, node.MQTT)
		}
	}
	gws := make([]*stormGW, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 50)
	var wg sync.WaitGroup
	for i := range gws {
		g := &stormGW{Gateway: &ingesttest.Gateway{ID: stormID(i + 1), Epoch: 3, Topics: wire.Topics{Prefix: "ponte"},
			Batch: stormBatch, Window: stormWindow, Pipeline: true, Rewind: true, ResendAfter: stormResend,
			AckQoS0: true, Retry: &backoff.Policy{Base: time.Second, Max: time.Minute, Jitter: backoff.Full}}}
		g.OnConnect = func() { kill.mark(&g.connected) }
		g.OnSubscribed = func() { kill.mark(&g.subscribed) }
		gws[i] = g
		urls := []string{first.MQTT, others[i%len(others)], others[(i+1)%len(others)]}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			c, err := g.ConnectAny(urls, s.gwPass[g.ID])
			if err != nil {
				errs <- err
				return
			}
			g.c = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, g := range gws {
			g.c.Disconnect(0)
		}
	})
	return gws
}

// runAll runs every gateway up to total readings at once and returns when
// all are acknowledged, or the errors of those that were not when ctx
// ended.
func runAll(ctx context.Context, gws []*stormGW, total uint64) []error {
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, g := range gws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := g.Run(ctx, g.c, total); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return errs
}

// rssSampler samples a process's VmRSS every 100ms and keeps the peak of
// each phase.
type rssSampler struct {
	mu    sync.Mutex
	peaks map[string]int64
	phase string
	errs  int
}

// sample runs until ctx ends, reading pid() (0: not running) each time.
func (r *rssSampler) sample(ctx context.Context, pid func() int) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		kb, err := vmRSS(pid())
		r.mu.Lock()
		if err != nil {
			r.errs++
		} else if kb > r.peaks[r.phase] {
			r.peaks[r.phase] = kb
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// enter starts a new phase: later samples count towards its peak.
func (r *rssSampler) enter(phase string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.phase = phase
}

// peak returns a phase's peak VmRSS in kB.
func (r *rssSampler) peak(phase string) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peaks[phase]
}

// vmRSS reads the VmRSS line of /proc/<pid>/status, in kB.
func vmRSS(pid int) (int64, error) {
	if pid == 0 {
		return 0, fmt.Errorf("not running")
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no VmRSS line", pid)
}

// spread describes durations as p50/p99/max.
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	slices.Sort(ds)
	q := func(p float64) time.Duration { return ds[int(p*float64(len(ds)-1))].Round(10 * time.Millisecond) }
	return fmt.Sprintf("p50 %v, p99 %v, max %v", q(0.50), q(0.99), ds[len(ds)-1].Round(10*time.Millisecond))
}

// since returns the durations from kill to each gateway's time in at
// (those still 0 are counted in missing).
func since(kill int64, gws []*stormGW, at func(*stormGW) int64) (ds []time.Duration, missing int) {
	for _, g := range gws {
		if v := at(g); v != 0 {
			ds = append(ds, time.Duration(v-kill))
		} else {
			missing++
		}
	}
	return ds, missing
}
