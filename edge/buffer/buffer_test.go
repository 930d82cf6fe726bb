package buffer

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func TestAppendReadReopen(t *testing.T) {
	tests := []struct {
		name    string
		segment int64
		n       int
	}{
		{"one segment", 0, 500},
		{"many segments", minSegmentBytes, 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			b := openT(t, Config{Dir: dir, SegmentBytes: tt.segment})
			epoch := b.Epoch()
			for i := 0; i < tt.n; i += 100 {
				c := appendN(t, b, i, 100)
				if c.First != uint64(i+1) || c.Last != uint64(i+100) {
					t.Fatalf("commit %d..%d, want %d..%d", c.First, c.Last, i+1, i+100)
				}
			}
			check := func(b *Buffer) {
				t.Helper()
				got := readAll(t, b, 0)
				if len(got) != tt.n {
					t.Fatalf("read %d records, want %d", len(got), tt.n)
				}
				for i, r := range got {
					if r.Seq != uint64(i+1) || !bytes.Equal(r.Data, rec(i)) {
						t.Fatalf("record %d: seq %d data %q", i, r.Seq, r.Data)
					}
				}
			}
			check(b)
			closeT(t, b)
			b = openT(t, Config{Dir: dir, SegmentBytes: tt.segment})
			defer closeT(t, b)
			if b.Epoch() != epoch {
				t.Errorf("epoch %d after reopen, want %d", b.Epoch(), epoch)
			}
			check(b)
			c := appendN(t, b, tt.n, 1)
			if c.First != uint64(tt.n+1) {
				t.Errorf("first seq after reopen %d, want %d", c.First, tt.n+1)
			}
		})
	}
}

func TestAckSemantics(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Dir: dir, SegmentBytes: minSegmentBytes, CheckpointInterval: time.Millisecond}
	b := openT(t, cfg)
	appendN(t, b, 0, 1000)

	if err := b.Ack(1001); !errors.Is(err, ErrAckBeyond) {
		t.Fatalf("ack beyond last: err %v, want ErrAckBeyond", err)
	}
	if got := b.Stats().AckedSeq; got != 0 {
		t.Fatalf("acked %d after refused ack, want 0", got)
	}
	if err := b.Ack(400); err != nil {
		t.Fatal(err)
	}
	for _, dup := range []uint64{400, 10, 0} {
		if err := b.Ack(dup); err != nil {
			t.Fatalf("duplicate ack %d: %v", dup, err)
		}
	}
	if got := readAll(t, b, 0); len(got) != 600 || got[0].Seq != 401 {
		t.Fatalf("after ack 400: %d records from %d, want 600 from 401", len(got), got[0].Seq)
	}
	closeT(t, b)

	// The ack survives a restart; the records never acknowledged come back.
	b = openT(t, cfg)
	got := readAll(t, b, 0)
	if len(got) != 600 || got[0].Seq != 401 || !bytes.Equal(got[0].Data, rec(400)) {
		t.Fatalf("after reopen: %d records from %d, want 600 from 401", len(got), got[0].Seq)
	}
	if err := b.Ack(1000); err != nil {
		t.Fatal(err)
	}
	closeT(t, b)

	b = openT(t, cfg)
	defer closeT(t, b)
	if got := readAll(t, b, 0); len(got) != 0 {
		t.Fatalf("all acked: read %d records after reopen", len(got))
	}
	if s := b.Stats(); s.Records != 0 || s.AckedSeq != 1000 || s.LastSeq != 1000 {
		t.Fatalf("stats %+v", s)
	}
	if c := appendN(t, b, 1000, 1); c.First != 1001 {
		t.Fatalf("next seq after everything acked: %d, want 1001", c.First)
	}
}

func TestCloseIsBounded(t *testing.T) {
	b := openT(t, Config{Dir: t.TempDir()})
	closeT(t, b)
	if _, err := b.Append([][]byte{[]byte("x")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// An idle buffer must not fsync every tick: on an SD card that is wear and
// power for nothing. In a synctest bubble the sleep is 50 ticks of the
// bubble's clock, each one run to completion (synctest.Wait), however
// slow the machine.
func TestIdleBufferDoesNotSync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := openT(t, Config{Dir: t.TempDir(), SyncInterval: time.Millisecond})
		defer closeT(t, b)
		appendN(t, b, 0, 10)
		time.Sleep(2 * time.Millisecond) // the append's sync tick
		synctest.Wait()
		before := fsyncCount(b)
		if before == 0 {
			t.Fatal("no fsync counted for the append")
		}
		for range 50 {
			time.Sleep(time.Millisecond)
			synctest.Wait()
		}
		if after := fsyncCount(b); after != before {
			t.Errorf("idle buffer ran %d fsyncs in 50 ticks", after-before)
		}
	})
}

func fsyncCount(b *Buffer) uint64 {
	var m dto.Metric
	if err := b.m.fsync.Write(&m); err != nil {
		panic(err)
	}
	return m.Histogram.GetSampleCount()
}
