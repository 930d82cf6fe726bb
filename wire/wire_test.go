package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

var t0 = time.Date(2026, 11, 22, 8, 15, 0, 123456789, time.UTC)

func sampleBatch() *Batch {
	return &Batch{
		Gateway: "gw-firenze-017",
		Epoch:   0x0123456789abcdef,
		Seqs:    []uint64{41, 42, 43, 44, 46},
		Readings: []Reading{
			{Device: "cabinet-3", Point: "voltage_l1", Value: Float(230.125), Unit: "V", Time: t0},
			{Device: "cabinet-3", Point: "import_energy", Value: Int(1 << 60), Unit: "kWh", Time: t0.Add(2 * time.Millisecond)},
			{Device: "loop-7", Point: "lane1_intensity", Value: Int(-3), Unit: "1/min", Time: t0.Add(-time.Second), Quality: QualityBadRange, Reason: "outside range 0..100"},
			{Device: "bay-12", Point: "occupied", Value: Bool(true), Time: t0.Add(time.Minute)},
			{Device: "wx-1", Point: "wind_valid", Value: String("A"), Time: t0, Quality: QualityBadComm, Reason: "timeout"},
		},
	}
}

func TestBatchRoundTrip(t *testing.T) {
	b := sampleBatchV2()
	enc, err := Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, b) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", got, b)
	}
	if got.First() != 41 || got.Last() != 46 || got.Start() != 39 || got.Retained != 38 {
		t.Fatalf("first/last/start/retained %d/%d/%d/%d", got.First(), got.Last(), got.Start(), got.Retained)
	}
}

// sampleBatchV2 is sampleBatch with what version 2 added: the gateway
// holds nothing below 38, and 39 and 40 were skipped before 41.
func sampleBatchV2() *Batch {
	b := sampleBatch()
	b.Retained, b.From = 38, 39
	return b
}

// TestGolden pins the version-2 encoding: a change to the bytes breaks every
// deployed gateway or ingest, so it must be a new Version, not an edit.
func TestGolden(t *testing.T) {
	enc, err := Encode(nil, sampleBatchV2())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "testdata/batch-v2.hex", enc)
}

// golden compares enc with the hex dump in path (rewritten with -update)
// and returns the golden bytes.
func golden(t *testing.T, path string, enc []byte) []byte {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, []byte(hex.Dump(enc)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.Dump(enc); got != string(want) {
		t.Fatalf("encoding changed (run with -update only for a new Version):\n%s", got)
	}
	return undump(t, string(want))
}

// TestDecodeV1 reads the version-1 golden batch, as gateways not yet
// upgraded send it: no Retained (ingest then never moves past a gap it
// did not fill) and no From.
func TestDecodeV1(t *testing.T) {
	dump, err := os.ReadFile("testdata/batch-v1.hex")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(undump(t, string(dump)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleBatch()) {
		t.Fatalf("version-1 batch decodes as\n%+v\nwant\n%+v", got, sampleBatch())
	}
	if got.Retained != 0 || got.Start() != 41 {
		t.Fatalf("retained %d start %d, want 0 and 41", got.Retained, got.Start())
	}
}

// undump parses hex.Dump output back into bytes.
func undump(t *testing.T, dump string) []byte {
	t.Helper()
	var out []byte
	for _, line := range strings.Split(strings.TrimSpace(dump), "\n") {
		if len(line) < 10 {
			continue
		}
		hexPart := line[10:min(len(line), 59)]
		b, err := hex.DecodeString(strings.ReplaceAll(hexPart, " ", ""))
		if err != nil {
			t.Fatalf("golden line %q: %v", line, err)
		}
		out = append(out, b...)
	}
	return out
}

func TestDecodeErrors(t *testing.T) {
	good, err := Encode(nil, sampleBatch())
	if err != nil {
		t.Fatal(err)
	}
	flip := bytes.Clone(good)
	flip[20] ^= 0x40
	v4 := bytes.Clone(good)
	v4[3] = 4
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"garbage", []byte("hello, world, this is not a batch"), ErrCorrupt},
		{"version", v4, ErrVersion},
		{"bit flip", flip, ErrCorrupt},
		{"truncated", good[:len(good)-9], ErrCorrupt}, // the CRC no longer matches
		{"too large", make([]byte, MaxBatchBytes+1), ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode(c.data)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
		})
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Batch)
		want string
	}{
		{"no gateway", func(b *Batch) { b.Gateway = "" }, "gateway"},
		{"seq order", func(b *Batch) { b.Seqs[2] = 42 }, "readings[2]: sequence 42 does not follow 42"},
		{"seq zero", func(b *Batch) { b.Seqs[0] = 0 }, "readings[0]"},
		{"lengths", func(b *Batch) { b.Seqs = b.Seqs[:2] }, "2 sequence numbers for 5 readings"},
		{"no device", func(b *Batch) { b.Readings[1].Device = "" }, "readings[1].device"},
		{"no time", func(b *Batch) { b.Readings[3].Time = time.Time{} }, "readings[3].time"},
		{"from after first", func(b *Batch) { b.From = 42 }, "from 42 is after the first sequence number 41"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := sampleBatch()
			c.mod(b)
			if _, err := Encode(nil, b); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestEncodeSizeLimit(t *testing.T) {
	b := &Batch{Gateway: "gw"}
	big := strings.Repeat("x", 1000)
	for i := 0; i < 1200; i++ {
		b.Seqs = append(b.Seqs, uint64(i+1))
		b.Readings = append(b.Readings, Reading{Device: "d", Point: "p", Time: t0, Value: String(big + string(rune('a'+i%26)) + strings.Repeat("y", i))})
	}
	if _, err := Encode(nil, b); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
}

func TestRecordRoundTrip(t *testing.T) {
	for _, r := range sampleBatch().Readings {
		t.Run(r.Point, func(t *testing.T) {
			enc := AppendRecord(nil, &r)
			got, err := DecodeRecord(enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Fatalf("got %+v, want %+v", got, r)
			}
			if _, err := DecodeRecord(enc[:len(enc)-1]); err == nil {
				t.Fatal("truncated record decoded")
			}
		})
	}
}

func TestValueHelpers(t *testing.T) {
	if f, ok := Float(math.NaN()).AsFloat(); ok {
		t.Fatalf("NaN is a usable float: %v", f)
	}
	if f, ok := Bool(true).AsFloat(); !ok || f != 1 {
		t.Fatal("bool true as float")
	}
	if _, ok := String("x").AsFloat(); ok {
		t.Fatal("string as float")
	}
	if got := Int(-7).String(); got != "-7" {
		t.Fatal(got)
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(nil, sampleBatchV2())
	f.Add(good)
	f.Add(good[:10])
	if v3, err := Encode(nil, sampleBatchV3()); err == nil {
		f.Add(v3)
	}
	f.Add([]byte("PNB\x01"))
	if dump, err := os.ReadFile("testdata/batch-v1.hex"); err == nil {
		f.Add(undump(&testing.T{}, string(dump)))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data)
		if err != nil {
			return
		}
		// Whatever decodes must encode back to the same bytes.
		enc, err := Encode(nil, b)
		if err != nil {
			t.Fatalf("decoded batch does not encode: %v", err)
		}
		if !bytes.Equal(enc, data) {
			b2, err := Decode(enc)
			if err != nil || !sameBatch(b, b2) {
				t.Fatalf("re-encoding differs and does not decode the same: %v", err)
			}
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleBatch().Readings {
		f.Add(AppendRecord(nil, &r))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeRecord(data)
		if err != nil {
			return
		}
		back, err := DecodeRecord(AppendRecord(nil, &r))
		if err != nil || !sameReading(back, r) {
			t.Fatalf("record does not round-trip: %v\n got %+v\nwant %+v", err, back, r)
		}
	})
}

// sameReading compares readings as their encodings do: a float by its
// bits, so that a NaN (not equal to itself) round-trips as itself.
func sameReading(a, b Reading) bool {
	if a.Value.Kind == KindFloat && b.Value.Kind == KindFloat {
		if math.Float64bits(a.Value.F) != math.Float64bits(b.Value.F) {
			return false
		}
		a.Value.F, b.Value.F = 0, 0
	}
	return reflect.DeepEqual(a, b)
}

// sameBatch is reflect.DeepEqual with readings compared by sameReading.
func sameBatch(a, b *Batch) bool {
	if len(a.Readings) != len(b.Readings) {
		return false
	}
	for i := range a.Readings {
		if !sameReading(a.Readings[i], b.Readings[i]) {
			return false
		}
	}
	ac, bc := *a, *b
	ac.Readings, bc.Readings = nil, nil
	return reflect.DeepEqual(ac, bc)
}

func TestSameReadingNaN(t *testing.T) {
	nan := Reading{Device: "d", Point: "p", Value: Float(math.NaN()), Time: t0}
	back, err := DecodeRecord(AppendRecord(nil, &nan))
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(back, nan) || !sameReading(back, nan) {
		t.Fatal("a NaN reading must round-trip by its bits (DeepEqual alone reports it different)")
	}
	if sameReading(back, Reading{Device: "d", Point: "p", Value: Float(1), Time: t0}) {
		t.Fatal("different floats compared equal")
	}
}

func benchBatch(n int) *Batch {
	b := &Batch{Gateway: "gw-firenze-017", Epoch: 7}
	for i := 0; i < n; i++ {
		b.Seqs = append(b.Seqs, uint64(i+1))
		b.Readings = append(b.Readings, Reading{
			Device: "meter-" + string(rune('a'+i%10)), Point: []string{"voltage_l1", "current_l1", "power_l1", "import_energy"}[i%4],
			Unit: "V", Value: Float(230 + float64(i%7)), Time: t0.Add(time.Duration(i) * time.Millisecond),
		})
	}
	return b
}

func BenchmarkEncode(b *testing.B) {
	batch := benchBatch(1000)
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = Encode(buf[:0], batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(batch.Readings))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(len(buf))/float64(len(batch.Readings)), "bytes/reading")
}

func BenchmarkDecode(b *testing.B) {
	batch := benchBatch(1000)
	enc, err := Encode(nil, batch)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(batch.Readings))*float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

// TestEncoderReused: an Encoder used batch after batch writes what Encode
// writes for each, whatever the batch before it held.
func TestEncoderReused(t *testing.T) {
	var e Encoder
	big := sampleBatch()
	for i := range 50 {
		r := big.Readings[0]
		r.Device = fmt.Sprintf("dev-%d", i)
		big.Readings = append(big.Readings, r)
		big.Seqs = append(big.Seqs, big.Seqs[len(big.Seqs)-1]+1)
	}
	for i, b := range []*Batch{big, sampleBatch(), sampleBatchV2(), sampleBatchV3(), big, sampleBatch()} {
		want, err := Encode(nil, b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.Encode([]byte("prefix"), b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got[len("prefix"):], want) {
			t.Fatalf("batch %d: the reused encoder wrote %x, Encode %x", i, got, want)
		}
		if d, err := Decode(want); err != nil || !reflect.DeepEqual(d.Readings, b.Readings) {
			t.Fatalf("batch %d: decoded %v (%v)", i, d, err)
		}
	}
}
