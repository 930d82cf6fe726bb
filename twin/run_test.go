package twin

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

func TestRunTicks(t *testing.T) {
	tw, clk := newTwin(t, []Site{siteAt("gw", "n", "noise", duomo)}, func(c *Config) { c.TickInterval = 5 * time.Millisecond })
	tw.Apply("gw", 1, batch("gw", rd("n", "LAeq", wire.Float(60), "dB", t0)))
	ch, unsub := tw.Subscribe(Filter{Types: []string{"site"}}, 0)
	defer unsub()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tw.Run(ctx) }()
	clk.Set(t0.Add(time.Hour))
	got := drain(ch, 1, 10*time.Second)
	if len(got) != 1 || got[0].Entity.Freshness != Stale {
		t.Errorf("got %v, want the site turning stale", got)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
