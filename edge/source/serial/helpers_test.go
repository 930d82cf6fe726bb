package serial

import (
	"context"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/wire"
)

// sink collects emitted readings.
type sink struct {
	mu sync.Mutex
	rs []wire.Reading
}

func (s *sink) emit(rs []wire.Reading) source.Commit {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rs = append(s.rs, rs...)
	return source.Resolved(nil)
}

func (s *sink) all() []wire.Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.rs)
}

// logRecorder is a slog handler that keeps the messages logged at Info and
// above.
type logRecorder struct {
	mu   *sync.Mutex
	msgs *[]string
}

func newLogRecorder() logRecorder { return logRecorder{mu: &sync.Mutex{}, msgs: new([]string)} }

func (l logRecorder) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }
func (l logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	*l.msgs = append(*l.msgs, r.Level.String()+" "+r.Message)
	return nil
}
func (l logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logRecorder) WithGroup(string) slog.Handler      { return l }

// count returns how many logged messages contain s.
func (l logRecorder) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range *l.msgs {
		if strings.Contains(m, s) {
			n++
		}
	}
	return n
}

// value reads a counter or gauge.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Counter != nil {
		return d.Counter.GetValue()
	}
	return d.Gauge.GetValue()
}

// openPeer opens the test's end of the null-modem cable.
func openPeer(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty %s: %v", path, err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// startSource runs cfg's source until the test ends.
func startSource(t *testing.T, cfg Config, out *sink) *Source {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, out.emit) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Run did not return within 5s of cancel")
		}
	})
	return s
}
