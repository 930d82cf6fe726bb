package replica_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/ponte-city/ponte/ingest/replica"
	"github.com/ponte-city/ponte/twin"
)

// TestSnapshotRoundTrip: a twin's checkpoint encodes and decodes to the
// same checkpoint, and a twin restored from it holds the same sites and
// indicators; a flipped byte is refused.
func TestSnapshotRoundTrip(t *testing.T) {
	tw, _ := newTwin(t)
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	for i := range 5 {
		tw.ApplyAt(twin.StreamPos{Seq: uint64(i + 1), At: base.Add(time.Duration(i) * time.Second)}, gateways[0], batch(gateways[0], i, base))
	}
	cp := tw.Checkpoint()
	data, err := replica.EncodeSnapshot(cp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := replica.DecodeSnapshot(data)
	if err != nil {
		t.Fatal(err)
	}
	again, err := replica.EncodeSnapshot(got)
	if err != nil || got.Applied != 5 || !got.Taken.Equal(cp.Taken) || !bytes.Equal(again, data) {
		t.Fatalf("decoded %+v (%v), want %+v encoding the same", got, err, cp)
	}
	tw2, _ := newTwin(t)
	tw2.Restore(got)
	if a, b := stateOf(t, tw, true), stateOf(t, tw2, true); a != b {
		t.Fatalf("restored twin differs:\n%s\n%s", a, b)
	}
	data[len(data)/2] ^= 1
	if _, err := replica.DecodeSnapshot(data); !errors.Is(err, replica.ErrSnapshot) {
		t.Fatalf("corrupt snapshot: %v, want ErrSnapshot", err)
	}
}

// FuzzDecodeSnapshot: no input panics the decoder.
func FuzzDecodeSnapshot(f *testing.F) {
	tw, _ := newTwin(f)
	base := time.Unix(1_800_000_000, 0)
	tw.ApplyAt(twin.StreamPos{Seq: 1, At: base}, gateways[0], batch(gateways[0], 1, base))
	data, err := replica.EncodeSnapshot(tw.Checkpoint())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte("PNTC\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if cp, err := replica.DecodeSnapshot(b); err == nil {
			if _, err := replica.EncodeSnapshot(cp); err != nil {
				t.Fatalf("decoded snapshot does not encode: %v", err)
			}
		}
	})
}
