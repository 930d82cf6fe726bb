package service_test

import (
	"context"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// TestGatewayLastSeen: every batch (even one dead-lettered whole) and
// every status message moves the gateway's last-seen time; an ID the
// configuration does not list adds no series.
func TestGatewayLastSeen(t *testing.T) {
	const name = "ponte_ingest_gateway_last_seen_timestamp_seconds"
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	e := newEnv(t, func(c *service.Config) {
		c.Now = func() time.Time { return now }
		c.Gateways = []string{"gw1", "gw2"}
	})
	ctx := context.Background()
	if got := gaugeWithLabel(t, e.reg, name, "gw1"); got != -1 {
		t.Fatalf("gw1 last seen %v before anything arrived, want no series", got)
	}

	if res := e.svc.Process(ctx, job("gw1", batch("gw1", 1, 1, 3))); res.Err != nil {
		t.Fatal(res.Err)
	}
	if got, want := gaugeWithLabel(t, e.reg, name, "gw1"), float64(now.Unix()); got != want {
		t.Errorf("gw1 last seen %v after a batch, want %v", got, want)
	}

	now = now.Add(90 * time.Second)
	e.svc.Process(ctx, job("gw1", []byte("not a batch")))
	if got, want := gaugeWithLabel(t, e.reg, name, "gw1"), float64(now.Unix()); got != want {
		t.Errorf("gw1 last seen %v after an invalid batch, want %v", got, want)
	}

	now = now.Add(time.Minute)
	e.svc.StatusSeen(wire.Status{Gateway: "gw2", State: wire.StateOnline, Time: now})
	if got, want := gaugeWithLabel(t, e.reg, name, "gw2"), float64(now.Unix()); got != want {
		t.Errorf("gw2 last seen %v after a status, want %v", got, want)
	}

	e.svc.Process(ctx, job("gw-forged", batch("gw-forged", 1, 1, 1)))
	e.svc.StatusSeen(wire.Status{Gateway: "gw-unknown", State: wire.StateOnline, Time: now})
	if n := len(gather(t, e.reg, name)); n != 2 {
		t.Errorf("%d last-seen series, want 2 (gw1, gw2): unknown IDs must add none", n)
	}
}
