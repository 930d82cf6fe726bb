package dedup

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(Config{Dir: dir, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func TestEpochAdd(t *testing.T) {
	type add struct {
		first, last uint64
		after       time.Duration // since t0
	}
	tests := []struct {
		name      string
		adds      []add
		mark      uint64
		ahead     []Range
		givenUp   uint64
		maxRanges int
	}{
		{"in order", []add{{1, 10, 0}, {11, 20, 0}}, 20, nil, 0, 32},
		{"overlap", []add{{1, 10, 0}, {5, 15, 0}}, 15, nil, 0, 32},
		{"replay", []add{{1, 10, 0}, {1, 10, 0}}, 10, nil, 0, 32},
		{"gap held", []add{{1, 10, 0}, {21, 30, 0}}, 10, []Range{{21, 30}}, 0, 32},
		{"gap filled", []add{{1, 10, 0}, {21, 30, 0}, {11, 20, 0}}, 30, nil, 0, 32},
		{"out of order fill", []add{{21, 30, 0}, {11, 20, 0}, {1, 10, 0}}, 30, nil, 0, 32},
		{"adjacent ranges join", []add{{1, 10, 0}, {21, 30, 0}, {31, 40, 0}}, 10, []Range{{21, 40}}, 0, 32},
		{"gap accepted after timeout", []add{{1, 10, 0}, {21, 30, 0}, {21, 30, 40 * time.Second}, {21, 30, 80 * time.Second}}, 30, nil, 10, 32},
		// A silence (an outage) does not count: the gateway could not
		// resend, and the missing batch may be on its way to another
		// instance.
		{"gap clock restarts after a silence", []add{{1, 10, 0}, {21, 30, 0}, {21, 30, 2 * time.Minute}}, 10, []Range{{21, 30}}, 0, 32},
		{"gap filled after a silence", []add{{1, 10, 0}, {21, 30, 0}, {21, 30, 2 * time.Minute}, {11, 20, 2*time.Minute + time.Second}}, 30, nil, 0, 32},
		{"gap not yet accepted", []add{{1, 10, 0}, {21, 30, 0}, {21, 30, 30 * time.Second}}, 10, []Range{{21, 30}}, 0, 32},
		{"one gap at a time", []add{{1, 10, 0}, {21, 30, 0}, {41, 50, 0}, {41, 50, 40 * time.Second}, {41, 50, 80 * time.Second}}, 30, []Range{{41, 50}}, 10, 32},
		{"too many ranges", []add{{1, 1, 0}, {3, 3, 0}, {5, 5, 0}, {7, 7, 0}}, 3, []Range{{5, 5}, {7, 7}}, 1, 2},
		{"first batch not at 1", []add{{100, 110, 0}}, 0, []Range{{100, 110}}, 0, 32},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Epoch
			var given uint64
			for _, a := range tc.adds {
				given += e.Add(a.first, a.last, t0.Add(a.after), time.Minute, tc.maxRanges)
			}
			if e.Mark != tc.mark || !reflect.DeepEqual(e.Ahead, tc.ahead) || given != tc.givenUp {
				t.Fatalf("mark %d ahead %v given up %d; want %d %v %d", e.Mark, e.Ahead, given, tc.mark, tc.ahead, tc.givenUp)
			}
			for s := uint64(1); s <= 60; s++ {
				want := s <= tc.mark
				for _, r := range tc.ahead {
					want = want || (s >= r.First && s <= r.Last)
				}
				if e.Written(s) != want {
					t.Errorf("Written(%d) = %v", s, !want)
				}
			}
		})
	}
}

func TestStateSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	tx, err := s.Lock(ctx, "gw1")
	if err != nil {
		t.Fatal(err)
	}
	tx.Add(7, 1, 10, t0)
	tx.Add(7, 21, 30, t0)
	tx.Add(8, 1, 5, t0)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx.Add(9, 1, 99, t0) // not committed: dropped
	tx.Unlock()
	s.Close()

	s2 := open(t, dir)
	tx, err = s2.Lock(ctx, "gw1")
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Unlock()
	if e := tx.Epoch(7); e.Mark != 10 || !reflect.DeepEqual(e.Ahead, []Range{{21, 30}}) || !e.GapSince.Equal(t0) {
		t.Errorf("epoch 7 after reopen: %+v", e)
	}
	if e := tx.Epoch(8); e.Mark != 5 {
		t.Errorf("epoch 8: %+v", e)
	}
	if e := tx.Epoch(9); e.Mark != 0 {
		t.Errorf("uncommitted epoch 9 survived: %+v", e)
	}
}

// TestTornWrite: a slot cut short or garbled falls back to the other one.
func TestTornWrite(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		damage   func(f *os.File, newest int)
		wantMark uint64
		wantErr  bool
	}{
		{"newest torn", func(f *os.File, newest int) { f.WriteAt([]byte{0xde, 0xad}, int64(newest*slotSize+slotHeader+3)) }, 10, false},
		{"both torn", func(f *os.File, newest int) {
			f.WriteAt([]byte{0xde, 0xad}, int64(newest*slotSize+slotHeader+3))
			f.WriteAt([]byte{0xde, 0xad}, int64((1-newest)*slotSize+5))
		}, 0, true},
		{"intact", func(*os.File, int) {}, 20, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			for _, last := range []uint64{10, 20} {
				tx, err := s.Lock(ctx, "gw1")
				if err != nil {
					t.Fatal(err)
				}
				tx.Add(1, 1, last, t0)
				if err := tx.Commit(); err != nil {
					t.Fatal(err)
				}
				tx.Unlock()
			}
			newest := s.files["gw1"].slot
			s.Close()
			f, err := os.OpenFile(filepath.Join(dir, "gw1.state"), os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			tc.damage(f, newest)
			f.Close()
			m, err := open(t, dir).Mark(ctx, "gw1", 1)
			if tc.wantErr {
				if !errors.Is(err, ErrCorruptState) {
					t.Fatalf("Mark = %d, %v; want ErrCorruptState", m, err)
				}
				return
			}
			if err != nil || m != tc.wantMark {
				t.Fatalf("Mark = %d, %v; want %d", m, err, tc.wantMark)
			}
		})
	}
}

// TestTornCreation: a file whose creation record was cut short reads as empty.
func TestTornCreation(t *testing.T) {
	dir := t.TempDir()
	f, _ := os.Create(filepath.Join(dir, "gw1.state"))
	f.WriteAt([]byte{'P', 'N'}, slotSize) // slot 0 region never written: zeros
	f.Close()
	m, err := open(t, dir).Mark(context.Background(), "gw1", 1)
	if err != nil || m != 0 {
		t.Fatalf("Mark = %d, %v; want 0, nil", m, err)
	}
}

// TestLockAcrossStores: two Stores on one Dir (as two processes) exclude
// each other per gateway.
func TestLockAcrossStores(t *testing.T) {
	dir := t.TempDir()
	a, b := open(t, dir), open(t, dir)
	ctx := context.Background()
	tx, err := a.Lock(ctx, "gw1")
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := b.Lock(short, "gw1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second store locked a held gateway: %v", err)
	}
	other, err := b.Lock(ctx, "gw2")
	if err != nil {
		t.Fatalf("another gateway: %v", err)
	}
	other.Unlock()
	tx.Add(1, 1, 10, t0)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	tx.Unlock()
	if m, err := b.Mark(ctx, "gw1", 1); err != nil || m != 10 {
		t.Fatalf("second store sees mark %d, %v; want 10", m, err)
	}
}

func TestPruneKeepsRecentEpochs(t *testing.T) {
	ctx := context.Background()
	s, err := Open(Config{Dir: t.TempDir(), MaxEpochs: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for e := uint64(1); e <= 3; e++ {
		tx, err := s.Lock(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		tx.Add(e, 1, 7, t0.Add(time.Duration(e)*time.Second))
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		tx.Unlock()
	}
	for e, want := range map[uint64]uint64{1: 0, 2: 7, 3: 7} {
		if m, _ := s.Mark(ctx, "a", e); m != want {
			t.Errorf("epoch %d: mark %d, want %d", e, m, want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no dir", Config{}},
		{"negative epochs", Config{Dir: "x", MaxEpochs: -1}},
		{"does not fit", Config{Dir: "x", MaxEpochs: 8, MaxRanges: 64}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); err == nil {
				t.Fatal("Validate succeeded")
			}
		})
	}
}

func TestConcurrentGateways(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := open(t, dir)
	const gateways, steps = 8, 40
	var wg sync.WaitGroup
	for g := 0; g < gateways; g++ {
		wg.Add(1)
		go func(gw string) {
			defer wg.Done()
			for i := uint64(1); i <= steps; i++ {
				tx, err := s.Lock(ctx, gw)
				if err != nil {
					t.Error(err)
					return
				}
				tx.Add(1, i, i, t0)
				if err := tx.Commit(); err != nil {
					t.Error(err)
				}
				tx.Unlock()
			}
		}(fmt.Sprint("gw", g))
	}
	wg.Wait()
	s2 := open(t, dir)
	for g := 0; g < gateways; g++ {
		if m, err := s2.Mark(ctx, fmt.Sprint("gw", g), 1); err != nil || m != steps {
			t.Errorf("gw%d: %d, %v; want %d", g, m, err, steps)
		}
	}
}

func BenchmarkCommit(b *testing.B) {
	s := open(b, b.TempDir())
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
			tx, err := s.Lock(ctx, gw)
			if err != nil {
				b.Error(err)
				return
			}
			tx.Add(1, seq, seq, time.Now())
			if err := tx.Commit(); err != nil {
				b.Error(err)
			}
			tx.Unlock()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}
