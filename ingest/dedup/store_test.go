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

func open(t testing.TB, dir string) *FileStore {
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
		start, last, retained uint64
		after                 time.Duration // since t0
	}
	tests := []struct {
		name    string
		adds    []add
		mark    uint64
		ahead   []Range
		dropped uint64
		missing uint64
	}{
		{"in order", []add{{1, 10, 1, 0}, {11, 20, 1, 0}}, 20, nil, 0, 0},
		{"overlap", []add{{1, 10, 0, 0}, {5, 15, 0, 0}}, 15, nil, 0, 0},
		{"replay", []add{{1, 10, 0, 0}, {1, 10, 0, 0}}, 10, nil, 0, 0},
		{"gap held", []add{{1, 10, 1, 0}, {21, 30, 1, 0}}, 10, []Range{{21, 30}}, 0, 10},
		{"gap filled", []add{{1, 10, 0, 0}, {21, 30, 0, 0}, {11, 20, 0, 0}}, 30, nil, 0, 0},
		{"out of order fill", []add{{21, 30, 0, 0}, {11, 20, 0, 0}, {1, 10, 0, 0}}, 30, nil, 0, 0},
		{"adjacent ranges join", []add{{1, 10, 0, 0}, {21, 30, 0, 0}, {31, 40, 0, 0}}, 10, []Range{{21, 40}}, 0, 10},
		// No clock gives a gap up: hours later, with the gateway heard all
		// along, the gap still waits for its readings.
		{"gap never given up on time", []add{{1, 10, 1, 0}, {21, 30, 11, 0}, {21, 30, 11, time.Hour}, {31, 40, 11, 24 * time.Hour}}, 10, []Range{{21, 40}}, 0, 10},
		// The gateway declares it dropped 11..14 (its buffer's cap): the
		// mark moves to 14 and the gap 15..20 stays open.
		{"gateway dropped part of the gap", []add{{1, 10, 1, 0}, {21, 30, 15, 0}}, 14, []Range{{21, 30}}, 4, 6},
		{"gateway dropped the whole gap", []add{{1, 10, 1, 0}, {21, 30, 21, 0}}, 30, nil, 10, 0},
		// Retained beyond written ranges: only unwritten seqs count as
		// dropped.
		{"retained past a written range", []add{{1, 10, 1, 0}, {21, 30, 1, 0}, {41, 50, 45, 0}}, 50, nil, 20, 0},
		{"retained below mark changes nothing", []add{{1, 10, 1, 0}, {21, 30, 5, 0}}, 10, []Range{{21, 30}}, 0, 10},
		// Skipped records (From before the first reading) are covered.
		{"batch covering skipped records", []add{{1, 10, 1, 0}, {11, 30, 11, 0}}, 30, nil, 0, 0},
		{"first batch not at 1", []add{{100, 110, 0, 0}}, 0, []Range{{100, 110}}, 0, 99},
		{"first batch not at 1, gateway holds nothing before", []add{{100, 110, 100, 0}}, 110, nil, 99, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var e Epoch
			var dropped uint64
			for _, a := range tc.adds {
				dropped += e.Add(a.start, a.last, a.retained, t0.Add(a.after))
			}
			if e.Mark != tc.mark || !reflect.DeepEqual(e.Ahead, tc.ahead) || dropped != tc.dropped || e.Missing() != tc.missing {
				t.Fatalf("mark %d ahead %v dropped %d missing %d; want %d %v %d %d", e.Mark, e.Ahead, dropped, e.Missing(), tc.mark, tc.ahead, tc.dropped, tc.missing)
			}
			if (len(tc.ahead) > 0) == e.GapSince.IsZero() {
				t.Fatalf("GapSince %v with ahead %v", e.GapSince, e.Ahead)
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

func TestEpochRelease(t *testing.T) {
	var e Epoch
	e.Add(1, 10, 1, t0)
	e.Add(21, 30, 1, t0)
	if n := e.Release(0, t0); n != 0 || e.Mark != 10 {
		t.Fatalf("retained 0 (not stated) released %d, mark %d", n, e.Mark)
	}
	if n := e.Release(11, t0); n != 0 || e.Mark != 10 {
		t.Fatalf("retained 11 (holds the gap) released %d, mark %d", n, e.Mark)
	}
	if n := e.Release(18, t0); n != 7 || e.Mark != 17 || e.Missing() != 3 {
		t.Fatalf("retained 18 released %d, mark %d, missing %d; want 7, 17, 3", n, e.Mark, e.Missing())
	}
	if n := e.Release(31, t0); n != 3 || e.Mark != 30 || len(e.Ahead) != 0 || !e.GapSince.IsZero() {
		t.Fatalf("retained 31 released %d, mark %d, ahead %v, gap since %v", n, e.Mark, e.Ahead, e.GapSince)
	}
}

func TestEpochFits(t *testing.T) {
	var e Epoch
	for _, s := range []uint64{1, 3, 5} {
		e.Add(s, s, 0, t0)
	}
	// Mark 1, ahead {3} {5}: a third range does not fit in two.
	if e.Fits(7, 7, 0, 2) {
		t.Fatal("a batch making a third range fits in 2")
	}
	if !e.Fits(2, 2, 0, 2) || !e.Fits(6, 8, 0, 2) || !e.Fits(7, 7, 4, 2) {
		t.Fatal("a batch that fills a gap, joins a range or comes with a release must fit")
	}
	if e.Mark != 1 || len(e.Ahead) != 2 {
		t.Fatalf("Fits changed the epoch: mark %d ahead %v", e.Mark, e.Ahead)
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
	tx.Add(7, 1, 10, 0, t0)
	tx.Add(7, 21, 30, 0, t0)
	tx.Add(8, 1, 5, 0, t0)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	tx.Add(9, 1, 99, 0, t0) // not committed: dropped
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
				tx.Add(1, 1, last, 0, t0)
				if err := tx.Commit(ctx); err != nil {
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
	tx.Add(1, 1, 10, 0, t0)
	if err := tx.Commit(ctx); err != nil {
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
		tx.Add(e, 1, 7, 0, t0.Add(time.Duration(e)*time.Second))
		if err := tx.Commit(ctx); err != nil {
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
				tx.Add(1, i, i, 0, t0)
				if err := tx.Commit(ctx); err != nil {
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
			tx.Add(1, seq, seq, 0, time.Now())
			if err := tx.Commit(ctx); err != nil {
				b.Error(err)
			}
			tx.Unlock()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}
