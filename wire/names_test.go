package wire

import (
	"bytes"
	"testing"
	"time"
	"unsafe"
)

// TestNamesDecodeRecord decodes what DecodeRecord decodes, sharing the
// names between records, and without allocating for names seen before.
func TestNamesDecodeRecord(t *testing.T) {
	at := time.Unix(1700000000, 5).UTC()
	rs := []Reading{
		{Device: "dev-1", Point: "p1", Unit: "V", Time: at, Value: Float(230.1)},
		{Device: "dev-1", Point: "p2", Unit: "", Time: at, Quality: QualityBadDecode, Reason: "bad", Value: String("x")},
		{Device: "dev-1", Point: "p1", Unit: "V", Time: at.Add(time.Second), Value: Int(7)},
	}
	var n Names
	var got []Reading
	for i := range rs {
		rec := AppendRecord(nil, &rs[i])
		want, err := DecodeRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		r, err := n.DecodeRecord(rec)
		if err != nil {
			t.Fatal(err)
		}
		if r != want {
			t.Errorf("record %d: %+v, want %+v", i, r, want)
		}
		got = append(got, r)
	}
	if unsafe.StringData(got[0].Point) != unsafe.StringData(got[2].Point) {
		t.Error("the same point name decoded twice into two strings")
	}
	rec := AppendRecord(nil, &rs[2])
	if a := testing.AllocsPerRun(100, func() { _, _ = n.DecodeRecord(rec) }); a != 0 {
		t.Errorf("%v allocations decoding a record of known names, want 0", a)
	}
	if _, err := n.DecodeRecord(rec[:5]); err == nil {
		t.Error("a truncated record decoded")
	}
}

// FuzzNamesDecodeRecord checks that decoding with a Names table agrees
// with DecodeRecord on any input, and never panics.
func FuzzNamesDecodeRecord(f *testing.F) {
	f.Add(AppendRecord(nil, &Reading{Device: "d", Point: "p", Unit: "u", Time: time.Unix(1, 0), Value: Int(1)}))
	f.Add([]byte{1, 'd', 1, 'p', 0, 2, 0, 1, 2})
	var n Names
	f.Fuzz(func(t *testing.T, data []byte) {
		want, werr := DecodeRecord(data)
		got, err := n.DecodeRecord(data)
		// Compared re-encoded: a NaN value is not == itself.
		if (err == nil) != (werr == nil) || !bytes.Equal(AppendRecord(nil, &got), AppendRecord(nil, &want)) {
			t.Fatalf("Names: %+v, %v; DecodeRecord: %+v, %v", got, err, want, werr)
		}
	})
}
