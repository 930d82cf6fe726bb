package dedup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAdvanceSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	type step struct {
		gw         string
		epoch, seq uint64
	}
	tests := []struct {
		name  string
		steps []step
		want  map[string]map[uint64]uint64
	}{
		{"one", []step{{"a", 1, 10}}, map[string]map[uint64]uint64{"a": {1: 10}}},
		{"lower is ignored", []step{{"a", 1, 10}, {"a", 1, 5}}, map[string]map[uint64]uint64{"a": {1: 10}}},
		{"epochs apart", []step{{"a", 1, 10}, {"a", 2, 3}}, map[string]map[uint64]uint64{"a": {1: 10, 2: 3}}},
		{"gateways apart", []step{{"a", 1, 10}, {"b", 1, 4}}, map[string]map[uint64]uint64{"a": {1: 10}, "b": {1: 4}}},
		{"unknown is zero", nil, map[string]map[uint64]uint64{"x": {9: 0}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			for _, st := range tc.steps {
				if err := s.Advance(ctx, st.gw, st.epoch, st.seq); err != nil {
					t.Fatal(err)
				}
			}
			s2 := open(t, dir)
			for gw, m := range tc.want {
				for e, want := range m {
					if got := s.High(gw, e); got != want {
						t.Errorf("High(%s,%d) = %d, want %d", gw, e, got, want)
					}
					if got := s2.High(gw, e); got != want {
						t.Errorf("after reopen High(%s,%d) = %d, want %d", gw, e, got, want)
					}
				}
			}
		})
	}
}

func TestPruneKeepsRecentEpochs(t *testing.T) {
	ctx := context.Background()
	s, err := Open(Config{Dir: t.TempDir(), MaxEpochs: 2})
	if err != nil {
		t.Fatal(err)
	}
	for e := uint64(1); e <= 3; e++ {
		if err := s.Advance(ctx, "a", e, 7); err != nil {
			t.Fatal(err)
		}
	}
	if s.High("a", 1) != 0 || s.High("a", 2) != 7 || s.High("a", 3) != 7 {
		t.Fatalf("after 3 epochs with MaxEpochs 2: %d %d %d, want 0 7 7", s.High("a", 1), s.High("a", 2), s.High("a", 3))
	}
}

func TestCorruptStateRefused(t *testing.T) {
	tests := []struct{ name, data string }{
		{"garbage", "{not json"},
		{"version", `{"version":2,"gateways":{}}`},
		{"truncated", `{"version":1,"gateways":{"a":[{"epoch":1,`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, FileName), []byte(tc.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Open(Config{Dir: dir})
			if !errors.Is(err, ErrCorruptState) {
				t.Fatalf("Open = %v, want ErrCorruptState", err)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	if _, err := Open(Config{}); err == nil {
		t.Fatal("Open without dir succeeded")
	}
	if _, err := Open(Config{Dir: t.TempDir(), MaxEpochs: -1}); err == nil {
		t.Fatal("Open with MaxEpochs -1 succeeded")
	}
}

func TestConcurrentAdvance(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	const gateways, steps = 8, 50
	var wg sync.WaitGroup
	for g := 0; g < gateways; g++ {
		wg.Add(1)
		go func(gw string) {
			defer wg.Done()
			for i := uint64(1); i <= steps; i++ {
				if err := s.Advance(ctx, gw, 1, i); err != nil {
					t.Error(err)
					return
				}
				if got := s.High(gw, 1); got != i {
					t.Errorf("%s: High = %d after Advance(%d)", gw, got, i)
					return
				}
			}
		}(fmt.Sprint("gw", g))
	}
	wg.Wait()
	s2 := open(t, dir)
	for g := 0; g < gateways; g++ {
		if got := s2.High(fmt.Sprint("gw", g), 1); got != steps {
			t.Errorf("gw%d after reopen: %d, want %d", g, got, steps)
		}
	}
	if s2.Gateways() != gateways {
		t.Errorf("Gateways = %d, want %d", s2.Gateways(), gateways)
	}
}

func TestAdvanceCancelled(t *testing.T) {
	s := open(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Advance(ctx, "a", 1, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Advance on a cancelled ctx = %v", err)
	}
	if s.High("a", 1) != 0 {
		t.Fatal("cancelled Advance moved the mark")
	}
}

func BenchmarkAdvance(b *testing.B) {
	s, err := Open(Config{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var n uint64
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		n++
		gw := fmt.Sprint("gw", n)
		mu.Unlock()
		var seq uint64
		for pb.Next() {
			seq++
			if err := s.Advance(ctx, gw, 1, seq); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "advances/s")
}
