package ingesttest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// Key identifies a point as InfluxDB does: writing the same key twice
// overwrites, it does not add.
type Key struct {
	Gateway, Device, Point string
	Time                   int64
}

// KeyOf returns the key of r written by gateway.
func KeyOf(gateway string, r *wire.Reading) Key {
	return Key{gateway, r.Device, r.Point, r.Time.UnixNano()}
}

// MemSink is an in-memory service.Sink. It is safe for concurrent use.
type MemSink struct {
	mu     sync.Mutex
	points map[Key]wire.Reading
	writes map[Key]int
	calls  int
	down   bool
	up     chan struct{} // closed when down turns false
	// Reject, when set, refuses readings for which it returns a reason.
	Reject func(r *wire.Reading) string
}

// NewMemSink returns an empty, healthy sink.
func NewMemSink() *MemSink {
	return &MemSink{points: map[Key]wire.Reading{}, writes: map[Key]int{}, up: make(chan struct{})}
}

// SetDown makes Write block (as the InfluxDB client retrying) until
// SetDown(false).
func (s *MemSink) SetDown(down bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if down == s.down {
		return
	}
	s.down = down
	if down {
		s.up = make(chan struct{})
	} else {
		close(s.up)
	}
}

// Write implements service.Sink.
func (s *MemSink) Write(ctx context.Context, gateway string, readings []wire.Reading) ([]service.Rejected, error) {
	for {
		s.mu.Lock()
		if !s.down {
			break
		}
		up := s.up
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-up:
		}
	}
	defer s.mu.Unlock()
	s.calls++
	var rej []service.Rejected
	for i := range readings {
		r := &readings[i]
		if s.Reject != nil {
			if why := s.Reject(r); why != "" {
				rej = append(rej, service.Rejected{Reading: *r, Reason: why})
				continue
			}
		}
		k := KeyOf(gateway, r)
		s.points[k] = *r
		s.writes[k]++
	}
	return rej, nil
}

// Healthy implements service.Sink.
func (s *MemSink) Healthy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.down
}

// Points returns a copy of the stored points.
func (s *MemSink) Points() map[Key]wire.Reading {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[Key]wire.Reading, len(s.points))
	for k, v := range s.points {
		out[k] = v
	}
	return out
}

// Len returns the number of distinct points stored.
func (s *MemSink) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.points)
}

// Calls returns the number of successful Write calls.
func (s *MemSink) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// DiscardSink accepts and forgets everything, for throughput benchmarks.
type DiscardSink struct{}

// Write implements service.Sink.
func (DiscardSink) Write(context.Context, string, []wire.Reading) ([]service.Rejected, error) {
	return nil, nil
}

// Healthy implements service.Sink.
func (DiscardSink) Healthy() bool { return true }

// FileSink appends every written point to a file as a JSON line and
// fsyncs before returning, so what it accepted survives kill -9 of the
// process, like InfluxDB's acceptance does.
type FileSink struct {
	mu sync.Mutex
	f  *os.File
}

// OpenFileSink opens (appending) path. A line that a kill -9 cut short
// (never fsynced, so never reported written) is ended first, so that the
// next line starts on its own.
func OpenFileSink(path string) (*FileSink, error) {
	f, err := openLines(path)
	if err != nil {
		return nil, fmt.Errorf("open file sink: %w", err)
	}
	return &FileSink{f: f}, nil
}

// openLines opens path for appending lines, ending a last line cut short.
func openLines(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.Size() > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size()-1); err != nil {
			f.Close()
			return nil, err
		}
		if last[0] != '\n' {
			if _, err := f.Write([]byte{'\n'}); err != nil {
				f.Close()
				return nil, err
			}
		}
	}
	return f, nil
}

// Write implements service.Sink.
func (s *FileSink) Write(_ context.Context, gateway string, readings []wire.Reading) ([]service.Rejected, error) {
	var buf []byte
	for i := range readings {
		b, _ := json.Marshal(KeyOf(gateway, &readings[i]))
		buf = append(append(buf, b...), '\n')
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Write(buf); err != nil {
		return nil, err
	}
	return nil, s.f.Sync()
}

// Healthy implements service.Sink.
func (s *FileSink) Healthy() bool { return true }

// Close closes the file.
func (s *FileSink) Close() error { return s.f.Close() }

// ReadKeys reads a FileSink's file (or a FileApplier's) into key counts.
// A line that does not decode was cut short by kill -9: it was never
// fsynced, so never reported written, and is left out.
func ReadKeys[K comparable](path string) (map[K]int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[K]int{}
	for line := range bytes.Lines(data) {
		var k K
		if json.Unmarshal(line, &k) == nil {
			out[k]++
		}
	}
	return out, nil
}
