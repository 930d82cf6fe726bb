package intake_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/intake"
	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/internal/natstest"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

const ingestUser, ingestPass = "ponte-ingest", "ingest-secret"

// natsAuth is the account block the tests' clusters run with: the same
// shape as deploy/nats/accounts.conf (ingest a NATS-only user with the
// JetStream API, the gateways' ack subjects and the store of their
// commands; each gateway an MQTT-only user confined to its own subjects).
func natsAuth(gateways ...string) string {
	var b strings.Builder
	b.WriteString("accounts {\n  PONTE {\n    jetstream: enabled\n    users: [\n")
	fmt.Fprintf(&b, `      { user: %q, password: %q, allowed_connection_types: ["STANDARD"],
        permissions: { publish: ["$JS.API.>", "$JS.ACK.>", "$JS.FC.>", "$MQTT.msgs.ponte.gw.*.ack", "ponte.gw.*.ack", "$MQTT.msgs.ponte.gw.*.cmd"], subscribe: ["_INBOX.>"] } }
`, ingestUser, ingestPass)
	for _, g := range gateways {
		fmt.Fprintf(&b, `      { user: %q, password: %q, allowed_connection_types: ["MQTT"],
        permissions: { publish: ["ponte.gw.%s.up", "ponte.gw.%s.status", "ponte.gw.%s.report"], subscribe: ["ponte.gw.%s.ack", "ponte.gw.%s.cmd"] } }
`, g, "pw-"+g, g, g, g, g, g)
	}
	b.WriteString("    ]\n  }\n}\n")
	return b.String()
}

func gatewayIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("gw%d", i+1)
	}
	return ids
}

// startNATS starts a three-node cluster where gateways gw1..gwN may log in.
func startNATS(t testing.TB, gateways int) *natstest.Cluster {
	t.Helper()
	return natstest.Start(t, natstest.Options{Nodes: 3, Config: natsAuth(gatewayIDs(gateways)...)})
}

// jsIntake is a running JetStream intake.
type jsIntake struct {
	*intake.JetStream
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan struct{}
}

// startJS runs a JetStream intake on urls feeding svc until the test ends.
func startJS(t testing.TB, urls []string, svc intake.Submitter, mod func(*intake.JetStreamConfig)) *jsIntake {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := intake.JetStreamConfig{URLs: urls, User: ingestUser, Password: ingestPass, Topics: topics,
		AckWait: 5 * time.Second, NakDelay: 100 * time.Millisecond, Logger: testLogger(), Registerer: reg}
	if mod != nil {
		mod(&cfg)
	}
	js, err := intake.NewJetStream(cfg, svc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &jsIntake{JetStream: js, reg: reg, cancel: cancel, done: make(chan struct{})}
	go func() { defer close(in.done); js.Run(ctx) }()
	t.Cleanup(in.stop)
	testenv.Eventually(t, 60*time.Second, "JetStream intake connected to "+strings.Join(urls, ","), js.Connected)
	return in
}

func (in *jsIntake) stop() {
	in.cancel()
	<-in.done
}

// counter returns the value of the intake's counter name with labels.
func (in *jsIntake) counter(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := in.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				ok := false
				for _, lp := range m.GetLabel() {
					ok = ok || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !ok {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// countingSubmitter is a fake pipeline: it decodes each batch, counts the
// submissions of each (gateway, first seq), and answers with the ack of
// the batch's last seq (every batch of the tests' gateways is complete).
type countingSubmitter struct {
	mu    sync.Mutex
	count map[string]int
	// fail, if set, makes a submission fail (not processed) when it
	// returns true, given the batch's key and how often it was submitted.
	fail func(key string, n int) bool
	// hold, if set, is how long each job is worked on before Done.
	hold time.Duration
}

func newCounting() *countingSubmitter { return &countingSubmitter{count: map[string]int{}} }

func (s *countingSubmitter) Submit(_ context.Context, j service.Job) error {
	b, err := wire.Decode(j.Payload)
	if err != nil || b.Gateway != j.Gateway || len(b.Seqs) == 0 {
		go j.Done(service.Result{Err: &service.InvalidError{Reason: "bad", Err: fmt.Errorf("decode: %v", err)}})
		return nil
	}
	key := fmt.Sprintf("%s/%d", b.Gateway, b.Seqs[0])
	s.mu.Lock()
	s.count[key]++
	n := s.count[key]
	s.mu.Unlock()
	if s.fail != nil && s.fail(key, n) {
		go j.Done(service.Result{Err: errors.New("sink down (test)")})
		return nil
	}
	done := func() {
		j.Done(service.Result{HasAck: true, Ack: wire.Ack{Gateway: b.Gateway, Epoch: b.Epoch, Seq: b.Seqs[len(b.Seqs)-1]}})
	}
	if s.hold > 0 {
		time.AfterFunc(s.hold, done)
	} else {
		go done()
	}
	return nil
}

// counts returns a copy of the submissions per batch.
func (s *countingSubmitter) counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int, len(s.count))
	for k, v := range s.count {
		m[k] = v
	}
	return m
}

// checkBatches fails t unless every batch of gws (total readings in
// batches of batch) was submitted at least once over subs, and returns
// how many submissions there were beyond one per batch.
func checkBatches(t testing.TB, ids []string, total, batch uint64, subs ...*countingSubmitter) (extra int) {
	t.Helper()
	all := map[string]int{}
	for _, s := range subs {
		for k, v := range s.counts() {
			all[k] += v
		}
	}
	missing := 0
	for _, id := range ids {
		for first := uint64(1); first <= total; first += batch {
			n := all[fmt.Sprintf("%s/%d", id, first)]
			if n == 0 {
				missing++
			}
			extra += max(n-1, 0)
		}
	}
	if missing > 0 {
		t.Errorf("%d batches never submitted", missing)
	}
	return extra
}

// clusterURLs returns the client URLs of c's nodes.
func clusterURLs(c *natstest.Cluster, idx ...int) []string {
	var urls []string
	for _, i := range idx {
		urls = append(urls, c.Nodes[i].URL)
	}
	return urls
}

// diagnoseJS, registered after the cluster and the intakes started, logs
// when the test failed what is needed to tell where a batch or an ack
// stopped: the intakes' metrics and node, the pipelines' metrics, the
// cluster's streams, consumers and connections, and every goroutine
// (a stuck one shows what it waits on).
func diagnoseJS(t *testing.T, c *natstest.Cluster, ins []*jsIntake, regs ...*prometheus.Registry) {
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for i, in := range ins {
			t.Logf("intake %d: connected %v to %q; metrics:\n%s", i+1, in.Connected(), in.Server(), gathered(in.reg))
		}
		for i, reg := range regs {
			t.Logf("pipeline %d metrics:\n%s", i+1, gathered(reg))
		}
		t.Logf("cluster state:\n%s", c.State())
		var b strings.Builder
		_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
		t.Logf("goroutines:\n%s", b.String())
	})
}

// gathered renders reg's counters and gauges, one "name{labels} value"
// a line.
func gathered(reg *prometheus.Registry) string {
	mfs, err := reg.Gather()
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			fmt.Fprintf(&b, "%s{%s} %g\n", mf.GetName(), strings.Join(labels, ","), v)
		}
	}
	return b.String()
}

// waitPulls waits until the shared consumer's leader holds at least n
// open pull requests: every intake is then served in turn from the first
// batch (the leader drops a request whose route broke while the cluster
// was still settling, and its intake pulls again only after two missed
// heartbeats).
func waitPulls(t testing.TB, c *natstest.Cluster, n int) {
	t.Helper()
	js := natstest.JetStream(t, c.Nodes[0].URL, nats.UserInfo(ingestUser, ingestPass))
	testenv.Eventually(t, 30*time.Second, fmt.Sprintf("%d intakes' pull requests open on the consumer's leader", n), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cons, err := js.Consumer(ctx, intake.DefaultStream, intake.DefaultConsumer)
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		return err == nil && info.NumWaiting >= n
	})
}
