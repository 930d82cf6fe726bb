package app_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/app"
	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/ingest/ingesttest"
	"github.com/ponte-city/ponte/internal/natstest"
)

// TestDedupInNATS: with dedup.nats configured, ingest keeps the dedup
// state in the replicated bucket of a three-node NATS cluster (not in
// state_dir): a gateway's readings flow through, and another instance
// reading the bucket sees the gateway's mark.
func TestDedupInNATS(t *testing.T) {
	c := natstest.Start(t, natstest.Options{Nodes: 3})
	dir := t.TempDir()
	urls := strings.Split(c.URLs(), ",")
	cfg, _ := writeConfig(t, dir, "", fmt.Sprintf("dedup:\n  nats:\n    urls: [%s]\n    bucket: app-dedup\n", strings.Join(urls, ", ")), 1)
	sink := ingesttest.NewMemSink()
	applier := ingesttest.NewCountingApplier()
	addrs := start(t, cfg, app.Options{Sink: sink, Applier: applier, Logger: quiet})

	const total = 500
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	g := &ingesttest.Gateway{ID: "gw1", Epoch: 42, Topics: cfg.Topics()}
	mc, err := g.Connect(addrs.BrokerURL, password(g.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer mc.Disconnect(50)
	if err := g.Run(ctx, mc, total); err != nil {
		t.Fatal(err)
	}
	if n := applier.Total(); n != total || sink.Len() != total {
		t.Fatalf("applied %d, sink holds %d; want %d", n, sink.Len(), total)
	}
	other, err := dedup.OpenKV(ctx, dedup.KVConfig{URLs: urls, Bucket: "app-dedup", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if m, err := other.Mark(ctx, "gw1", 42); err != nil || m != total {
		t.Fatalf("mark in the bucket %d, %v; want %d", m, err, total)
	}
	if _, err := os.Stat(filepath.Join(dir, "state", "gw1.state")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a state file in state_dir too: %v", err)
	}
}
