package app_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/natstest"
)

// BenchmarkIngestToSSECluster is BenchmarkIngestToSSE on a three-node
// NATS cluster (issue 14), with the same twin (10,000 sites), clients
// (1,000) and rate: the gateways publish over MQTT QoS 1 to node 1;
// instance A consumes the replicated uplink stream (broker.nats), keeps
// its dedup state in the replicated bucket (dedup.nats), writes (in
// memory) and publishes each batch to the replicated applied stream
// (twin.replica); A's and B's twins apply it from that stream. B takes
// no uplink (its embedded broker is idle): it only follows.
//
// "own" measures 1,000 SSE clients of A, "follower" 1,000 of B, one after
// the other on the same cluster and instances. Both paths go through the
// applied stream (every instance's twin follows it, the writer's too), so
// the difference between them is how much later the follower is told.
// Both instances and the clients run in this process, the three servers
// beside it: on a small machine they all share its cores.
func BenchmarkIngestToSSECluster(b *testing.B) {
	c := natstest.Start(b, natstest.Options{Nodes: 3})
	conn := fmt.Sprintf("urls: [%s]\n", strings.ReplaceAll(c.URLs(), ",", ", "))
	replica := "  replica:\n    " + conn + "    snapshot_interval: 10s\n"
	cfgA := clusterConfig(b, "a", "broker:\n  client_id: ingest-a\n  nats:\n    "+conn+"dedup:\n  nats:\n    "+conn, replica)
	cfgB := clusterConfig(b, "b", "broker:\n  listen: 127.0.0.1:0\n  client_id: ingest-b\n", replica)
	logs := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	addrA := start(b, cfgA, app.Options{Sink: ingesttest.NewMemSink(), Logger: logs.With("instance", "a")})
	addrB := start(b, cfgB, app.Options{Sink: ingesttest.NewMemSink(), Logger: logs.With("instance", "b")})
	waitReady(b, addrA.Ops)
	waitReady(b, addrB.Ops)

	topics := cfgA.Topics()
	pubs := make([]func([]byte), sseToday.gateways)
	for g := range sseToday.gateways {
		id := fmt.Sprintf("gw%d", g+1)
		mc, err := ingesttest.Connect(c.Nodes[0].MQTT, "ponte-edge-"+id, id, "")
		if err != nil {
			b.Fatal(err)
		}
		defer mc.Disconnect(50)
		topic := topics.Up(id)
		pubs[g] = func(p []byte) { mc.Publish(topic, 1, false, p) }
	}
	// Each run publishes a new epoch: dedup (shared by the runs) would
	// drop the seqs of the run before.
	epoch := uint64(0)
	for _, run := range []struct {
		name string
		http string
	}{{"own", addrA.HTTP}, {"follower", addrB.HTTP}} {
		b.Run(run.name, func(b *testing.B) {
			epoch++
			sseSubscribe(b, run.http).measure(b, pubs, epoch, sseToday)
		})
	}
}

// clusterConfig writes and loads the config of cluster instance name:
// broker (and dedup) lines, the benchmark's sites and twin with replica
// (the twin section's replica lines) appended; its InfluxDB is never
// called (the benchmark passes an in-memory sink).
func clusterConfig(b *testing.B, name, broker, replica string) *config.Config {
	b.Helper()
	dir := filepath.Join(b.TempDir(), name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	y := fmt.Sprintf("%sinflux:\n  url: http://127.0.0.1:9\nhttp:\n  listen: 127.0.0.1:0\n  ops_listen: 127.0.0.1:0\nstate_dir: %s\ndead_letter:\n  dir: %s\n%s%s",
		broker, filepath.Join(dir, "state"), filepath.Join(dir, "dead"), sseTwinConfig(b, dir, sseToday), replica)
	path := filepath.Join(dir, "ingest.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		b.Fatalf("%v\n%s", err, y)
	}
	return cfg
}
