package uplink

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// levelCounter counts "uplink disconnected" records by level.
type levelCounter struct {
	mu sync.Mutex
	n  map[slog.Level]int
}

func (c *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *levelCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *levelCounter) WithGroup(string) slog.Handler            { return c }
func (c *levelCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "uplink disconnected") {
		c.mu.Lock()
		c.n[r.Level]++
		c.mu.Unlock()
	}
	return nil
}

func (c *levelCounter) count(l slog.Level) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[l]
}

// TestFailedConnectLoggedOnce: a gateway that cannot connect says why at
// Warn the first time (e.g. a certificate or password the broker
// refuses, not only the network), and then at Debug while it keeps
// failing the same way, so an outage does not flood the log.
func TestFailedConnectLoggedOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens: every attempt fails the same way
	logs := &levelCounter{n: map[slog.Level]int{}}
	cfg := baseConfig("tcp://" + addr)
	cfg.Logger = slog.New(logs)
	start(t, cfg, openBuf(t))
	testenv.Eventually(t, 10*time.Second, "five failed attempts", func() bool { return logs.count(slog.LevelDebug) >= 4 })
	if n := logs.count(slog.LevelWarn); n != 1 {
		t.Errorf("%d failed attempts logged at Warn, want 1 (then Debug while the failure is the same)", n)
	}
}
