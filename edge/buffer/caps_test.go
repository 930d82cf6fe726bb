package buffer

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// clock is a settable clock for the age cap.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func TestCapBytes(t *testing.T) {
	tests := []struct {
		name  string
		acked uint64 // acknowledged before the cap bites
	}{
		{"nothing acknowledged", 0},
		{"some acknowledged", 150},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const n = 3000
			maxBytes := int64(4 * minSegmentBytes)
			b := openT(t, Config{Dir: t.TempDir(), SegmentBytes: minSegmentBytes, MaxBytes: maxBytes, Now: fixedNow})
			defer closeT(t, b)
			appendN(t, b, 0, 200)
			if err := b.Ack(tt.acked); err != nil {
				t.Fatal(err)
			}
			// Appends never block on the cap: all of these return at once
			// and are made durable.
			for i := 200; i < n; i += 100 {
				appendN(t, b, i, 100)
			}
			testenv.Eventually(t, 10*time.Second, "byte cap", func() bool { return b.Stats().Bytes <= maxBytes })

			got := readAll(t, b, 0)
			if len(got) == 0 || got[len(got)-1].Seq != n {
				t.Fatalf("newest record lost: read %d", len(got))
			}
			first := got[0].Seq
			for i, r := range got {
				if r.Seq != first+uint64(i) || !bytes.Equal(r.Data, rec(int(r.Seq-1))) {
					t.Fatalf("record %d: seq %d %q", i, r.Seq, r.Data)
				}
			}
			// Everything older than what is left was dropped, and only
			// the unacknowledged part of it is counted.
			if want := float64(first - 1 - tt.acked); dropped(b, reasonCapBytes) != want {
				t.Errorf("dropped{cap_bytes} = %v, want %v (first left %d)", dropped(b, reasonCapBytes), want, first)
			}
			if s := b.Stats(); s.FirstSeq != first || s.Records != n-first+1 {
				t.Errorf("stats first %d records %d, want %d and %d", s.FirstSeq, s.Records, first, n-first+1)
			}
		})
	}
}

func TestCapAge(t *testing.T) {
	tests := []struct {
		name  string
		acked uint64
		want  float64 // dropped{cap_age}
	}{
		{"nothing acknowledged", 0, 100},
		{"half acknowledged", 50, 50},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Unix(1_700_000_000, 0)
			clk := &clock{now: t0}
			b := openT(t, Config{Dir: t.TempDir(), MaxAge: 5 * time.Minute, Now: clk.Now})
			defer closeT(t, b)
			appendN(t, b, 0, 100)
			if err := b.Ack(tt.acked); err != nil {
				t.Fatal(err)
			}
			clk.Set(t0.Add(10 * time.Minute))
			appendN(t, b, 100, 100)
			clk.Set(t0.Add(10*time.Minute + time.Second))
			// The head's time is read by the same pass that moves it, or
			// the next one.
			testenv.Eventually(t, 10*time.Second, "age cap", func() bool { s := b.Stats(); return s.FirstSeq == 101 && s.OldestAge > 0 })

			got := readAll(t, b, 0)
			if len(got) != 100 || got[0].Seq != 101 || !bytes.Equal(got[0].Data, rec(100)) {
				t.Fatalf("read %d records from %d, want 100 from 101", len(got), got[0].Seq)
			}
			if got := dropped(b, reasonCapAge); got != tt.want {
				t.Errorf("dropped{cap_age} = %v, want %v", got, tt.want)
			}
			if age := b.Stats().OldestAge; age != time.Second {
				t.Errorf("oldest age %s, want 1s", age)
			}
		})
	}
}
