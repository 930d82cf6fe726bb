package uplink

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/wire"
)

// records builds buffer records with the given sequence numbers; a
// negative number makes that record garbage.
func records(seqs ...int) []buffer.Record {
	var out []buffer.Record
	for _, s := range seqs {
		if s < 0 {
			out = append(out, buffer.Record{Seq: uint64(-s), Data: []byte{0xff, 1, 2}})
			continue
		}
		r := reading(s - 1)
		out = append(out, buffer.Record{Seq: uint64(s), Time: time.Now(), Data: wire.AppendRecord(nil, &r)})
	}
	return out
}

func TestFrame(t *testing.T) {
	emptyDevice := wire.Reading{Point: "p", Time: time.Unix(1, 0)}
	cases := []struct {
		name      string
		cursor    uint64
		recs      []buffer.Record
		from, to  uint64
		last      uint64
		carried   []uint64
		badCount  int
		badReason string
	}{
		{"consecutive", 5, records(5, 6, 7), 5, 7, 7, []uint64{5, 6, 7}, 0, ""},
		{"from the oldest (cursor 0)", 0, records(3, 4), 3, 4, 4, []uint64{3, 4}, 0, ""},
		{"a gap the buffer dropped", 2, records(9, 10), 2, 10, 10, []uint64{9, 10}, 0, ""},
		{"garbage in the middle", 1, records(1, -2, 3), 1, 3, 3, []uint64{1, 3}, 1, "decode record"},
		{"garbage at the end", 1, records(1, 2, -3, -4), 1, 4, 2, []uint64{1, 2}, 2, "decode record"},
		{"nothing but garbage", 7, records(-7, -8), 7, 8, 0, nil, 2, "decode record"},
		{"a reading the batch would refuse", 1, append(records(1), buffer.Record{Seq: 2, Data: wire.AppendRecord(nil, &emptyDevice)}), 1, 2, 1, []uint64{1}, 1, "device"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var bad []error
			fr := newFramer("gw-1", 42, func(seq uint64, err error) { bad = append(bad, err) })
			f, err := fr.frame(tc.cursor, 1, tc.recs)
			if err != nil {
				t.Fatal(err)
			}
			if f.from != tc.from || f.to != tc.to || f.last != tc.last || f.n != len(tc.carried) {
				t.Errorf("framed %d..%d last %d n %d, want %d..%d last %d n %d", f.from, f.to, f.last, f.n, tc.from, tc.to, tc.last, len(tc.carried))
			}
			if len(bad) != tc.badCount {
				t.Errorf("%d bad records reported, want %d", len(bad), tc.badCount)
			}
			for _, e := range bad {
				if !strings.Contains(e.Error(), tc.badReason) {
					t.Errorf("bad record error %q does not mention %q", e, tc.badReason)
				}
			}
			if len(tc.carried) == 0 {
				if f.payload != nil {
					t.Errorf("payload for a batch with no reading")
				}
				return
			}
			b, err := wire.Decode(f.payload)
			if err != nil {
				t.Fatalf("decode framed batch: %v", err)
			}
			if b.Gateway != "gw-1" || b.Epoch != 42 || len(b.Seqs) != len(tc.carried) || b.Retained != 1 {
				t.Fatalf("batch %s/%d retained %d with %d readings", b.Gateway, b.Epoch, b.Retained, len(b.Seqs))
			}
			// The batch covers what it skipped before its first reading,
			// so ingest does not wait for it.
			if b.Start() != tc.from {
				t.Errorf("batch starts at %d, want %d (from %d, first reading %d)", b.Start(), tc.from, b.From, b.First())
			}
			for i, s := range tc.carried {
				if b.Seqs[i] != s || b.Readings[i] != reading(int(s-1)) {
					t.Errorf("reading %d: seq %d %+v, want seq %d %+v", i, b.Seqs[i], b.Readings[i], s, reading(int(s-1)))
				}
			}
		})
	}
}

// TestFrameSplitsTooLarge gives the framer more than wire.MaxBatchBytes of
// readings: it frames a prefix that fits, and the rest follows.
func TestFrameSplitsTooLarge(t *testing.T) {
	var recs []buffer.Record
	for i := range 24 {
		r := reading(i)
		r.Value = wire.String(strings.Repeat(string(rune('a'+i)), 100<<10))
		recs = append(recs, buffer.Record{Seq: uint64(i + 1), Data: wire.AppendRecord(nil, &r)})
	}
	fr := newFramer("gw-1", 1, func(uint64, error) { t.Error("no record is bad") })
	cursor, got, batches := uint64(1), 0, 0
	for rest := recs; len(rest) > 0; {
		f, err := fr.frame(cursor, 1, rest)
		if err != nil {
			t.Fatal(err)
		}
		if len(f.payload) > wire.MaxBatchBytes {
			t.Fatalf("payload of %d bytes", len(f.payload))
		}
		b, err := wire.Decode(f.payload)
		if err != nil {
			t.Fatal(err)
		}
		batches++
		if b.First() != cursor || b.Last() != f.to {
			t.Fatalf("batch %d..%d, framed to %d, cursor %d", b.First(), b.Last(), f.to, cursor)
		}
		got += f.n
		rest = rest[f.to-cursor+1:]
		cursor = f.to + 1
	}
	if got != len(recs) || batches < 3 {
		t.Errorf("%d readings framed in %d batches, want %d in at least 3", got, batches, len(recs))
	}
}

func TestFrameNothing(t *testing.T) {
	fr := newFramer("gw-1", 1, func(uint64, error) {})
	if _, err := fr.frame(1, 1, nil); err == nil {
		t.Error("framing no records succeeded")
	}
}

// FuzzAck feeds arbitrary payloads to the ack handler: it must not panic
// and must never accept an ack above what was sent.
func FuzzAck(f *testing.F) {
	b := openBuf(f)
	cfg := baseConfig("tcp://127.0.0.1:1")
	fw, err := New(cfg, b)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`{"gateway":"gw-test-1","epoch":%d,"seq":3}`, `{"gateway":"gw-test-1","epoch":%d,"seq":99}`,
		`{"gateway":"gw-test-1","epoch":%d,"seq":-1}`, `{"gateway":`, `null`, `{}`, `[]`} {
		if strings.Contains(s, "%d") {
			s = fmt.Sprintf(s, b.Epoch())
		}
		f.Add([]byte(s))
	}
	fw.sent.Store(5)
	f.Fuzz(func(t *testing.T, payload []byte) {
		fw.onAck(nil, fakeMsg(payload))
		if got := fw.acked.Load(); got > 5 {
			t.Fatalf("ack %d accepted above sent 5", got)
		}
	})
}

type fakeMsg []byte

func (m fakeMsg) Duplicate() bool   { return false }
func (m fakeMsg) Qos() byte         { return 1 }
func (m fakeMsg) Retained() bool    { return false }
func (m fakeMsg) Topic() string     { return "ponte/gw/gw-test-1/ack" }
func (m fakeMsg) MessageID() uint16 { return 1 }
func (m fakeMsg) Payload() []byte   { return m }
func (m fakeMsg) Ack()              {}

// TestFrameReusesReleasedPayload: a released payload is the next batch's
// buffer, the batch encoded into it decodes to its own readings, and the
// framer keeps no more than its bounds.
func TestFrameReusesReleasedPayload(t *testing.T) {
	fr := newFramer("gw-1", 42, func(seq uint64, err error) { t.Errorf("record %d: %v", seq, err) })
	first, err := fr.frame(1, 1, records(1, 2, 3, 4, 5, 6, 7, 8))
	if err != nil {
		t.Fatal(err)
	}
	fr.release(first.payload)
	second, err := fr.frame(9, 1, records(9, 10))
	if err != nil {
		t.Fatal(err)
	}
	if &second.payload[:1][0] != &first.payload[:1][0] {
		t.Error("the second batch did not reuse the released payload")
	}
	b, err := wire.Decode(second.payload)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Readings) != 2 || b.Seqs[0] != 9 || b.Readings[1].Value.I != 9 {
		t.Errorf("the second batch decodes to seqs %v, readings %+v", b.Seqs, b.Readings)
	}
	for range maxFreePayloads + 2 {
		fr.release(make([]byte, 100))
	}
	fr.release(make([]byte, maxFreeBytes))
	if len(fr.free) != maxFreePayloads || fr.freeBytes > maxFreeBytes {
		t.Errorf("the framer keeps %d payloads of %d bytes, want at most %d and %d", len(fr.free), fr.freeBytes, maxFreePayloads, maxFreeBytes)
	}
}

// TestFrameShrinksAfterReplay: once batches are live-sized again, the
// framer lets go of what a replay's large batch grew, and frames on.
func TestFrameShrinksAfterReplay(t *testing.T) {
	fr := newFramer("gw-1", 42, func(seq uint64, err error) { t.Errorf("record %d: %v", seq, err) })
	seqs := make([]int, 3000)
	for i := range seqs {
		seqs[i] = i + 1
	}
	big, err := fr.frame(1, 1, records(seqs...))
	if err != nil {
		t.Fatal(err)
	}
	fr.release(big.payload)
	fr.shrink(100, 1024) // live batches: 100 readings, 1 kB
	if cap(fr.batch.Readings) > 200 || cap(fr.batch.Seqs) > 200 || len(fr.free) != 0 || fr.freeBytes != 0 {
		t.Errorf("after shrink the framer holds %d readings, %d seqs, %d payloads of %d bytes",
			cap(fr.batch.Readings), cap(fr.batch.Seqs), len(fr.free), fr.freeBytes)
	}
	small, err := fr.frame(3001, 1, records(3001, 3002))
	if err != nil {
		t.Fatal(err)
	}
	b, err := wire.Decode(small.payload)
	if err != nil || len(b.Readings) != 2 || b.Seqs[1] != 3002 {
		t.Fatalf("the next batch decodes to %v, %v", b, err)
	}
	fr.release(small.payload)
	fr.shrink(100, 1024)
	if len(fr.free) != 1 {
		t.Errorf("shrink dropped a live-sized payload (%d kept)", len(fr.free))
	}
}
