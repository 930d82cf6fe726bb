package wire

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleBatchV3 is sampleBatchV2 from a gateway that understands refused
// readings in its acknowledgements.
func sampleBatchV3() *Batch {
	b := sampleBatchV2()
	b.Flags = FlagAckRefused
	return b
}

// TestGoldenV3 pins the version-3 encoding, and that a batch without
// flags is still written as version 2 (ingests of version 2 read it).
func TestGoldenV3(t *testing.T) {
	enc, err := Encode(nil, sampleBatchV3())
	if err != nil {
		t.Fatal(err)
	}
	if enc[3] != 3 {
		t.Fatalf("a batch with flags is written as version %d, want 3", enc[3])
	}
	got, err := Decode(golden(t, "testdata/batch-v3.hex", enc))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, sampleBatchV3()) {
		t.Fatalf("version-3 batch decodes as\n%+v\nwant\n%+v", got, sampleBatchV3())
	}
	plain, err := Encode(nil, sampleBatchV2())
	if err != nil {
		t.Fatal(err)
	}
	if plain[3] != 2 {
		t.Fatalf("a batch without flags is written as version %d, want 2", plain[3])
	}
}

// TestDecodeV3UnknownFlags keeps flag bits this package does not know:
// they say what a newer gateway understands, and refusing them would
// dead-letter its batches.
func TestDecodeV3UnknownFlags(t *testing.T) {
	b := sampleBatchV2()
	b.Flags = FlagAckRefused | 1<<9
	enc, err := Encode(nil, b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.Flags != b.Flags {
		t.Fatalf("flags %b, want %b", got.Flags, b.Flags)
	}
}

func TestAckRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 5, 3, 0, 0, 0, time.UTC)
	cases := map[string]Ack{
		"plain": {Gateway: "gw-1", Epoch: 7, Seq: 42},
		"refused": {Gateway: "gw-1", Epoch: 7, Seq: 42, RefusedOmitted: 2, Refused: []Refused{{
			Device: "bay-1", Count: 3, Reason: "time_out_of_range", Detail: "accepted window 2026-12-05T02:00:00Z to 2026-12-05T03:05:00Z",
			LastSeq: 41, LastPoint: "occupied", LastValue: "true", LastTime: at,
		}}},
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := DecodeAck(EncodeAck(a))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, a) {
				t.Fatalf("round trip: %+v, want %+v", got, a)
			}
		})
	}
	// A plain ack is byte for byte what gateways before version 3 decode.
	if got := string(EncodeAck(cases["plain"])); got != `{"gateway":"gw-1","epoch":7,"seq":42}` {
		t.Fatalf("plain ack encodes as %s", got)
	}
}

func TestDecodeAckErrors(t *testing.T) {
	many := `{"gateway":"g","epoch":1,"seq":1,"refused":[` + strings.Repeat(`{"device":"d","count":1},`, MaxRefusedDevices) + `{"device":"d","count":1}]}`
	cases := map[string]struct{ in, want string }{
		"unknown field":  {`{"gateway":"g","epoch":1,"seq":1,"extra":1}`, "unknown field"},
		"no gateway":     {`{"epoch":1,"seq":1}`, "gateway"},
		"too many":       {many, "at most 64"},
		"empty device":   {`{"gateway":"g","refused":[{"count":1}]}`, "refused[0].device"},
		"negative count": {`{"gateway":"g","refused":[{"device":"d","count":-1}]}`, "count -1"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeAck([]byte(c.in))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func FuzzDecodeAck(f *testing.F) {
	f.Add(EncodeAck(Ack{Gateway: "gw-1", Epoch: 7, Seq: 42}))
	f.Add(EncodeAck(Ack{Gateway: "gw-1", Refused: []Refused{{Device: "d", Count: 1, Reason: "unknown_device"}}}))
	f.Add([]byte(`{"gateway":"g","refused":[{"device":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAck(data)
		if err != nil {
			return
		}
		b, err := DecodeAck(EncodeAck(a))
		if err != nil {
			t.Fatalf("a decoded ack does not decode again: %v", err)
		}
		if !bytes.Equal(EncodeAck(a), EncodeAck(b)) {
			t.Fatalf("ack changes through a round trip")
		}
	})
}

func FuzzDecodeStatus(f *testing.F) {
	f.Add([]byte(`{"gateway":"g","state":"online","health":{"buffered":3,"devices_up":2,"devices_bad":0}}`))
	f.Add([]byte(`{"gateway":"g","state":"offline","epoch":1,"retained":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeStatus(data)
		if err != nil {
			return
		}
		if _, err := DecodeStatus(EncodeStatus(s)); err != nil {
			t.Fatalf("a decoded status does not decode again: %v", err)
		}
	})
}
