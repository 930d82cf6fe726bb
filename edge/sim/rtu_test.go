package sim

import (
	"bytes"
	"testing"
	"time"
)

func TestCRC16KnownVector(t *testing.T) {
	// Read holding 0, 10 registers of unit 1: the CRC every Modbus guide shows.
	got := appendCRC([]byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A})
	if want := []byte{0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD}; !bytes.Equal(got, want) {
		t.Errorf("% X, want % X", got, want)
	}
}

func TestRTUAssembler(t *testing.T) {
	read := appendCRC([]byte{1, 3, 0, 0, 0, 2})
	write := appendCRC([]byte{2, 16, 0, 10, 0, 2, 4, 0, 1, 0, 2})
	fifo := appendCRC([]byte{3, 24, 0, 5})
	tests := []struct {
		name   string
		chunks [][]byte
		want   [][]byte
		rest   bool
	}{
		{"one frame", [][]byte{read}, [][]byte{read}, false},
		{"byte by byte", splitEach(write), [][]byte{write}, false},
		{"two in one chunk", [][]byte{append(append([]byte{}, read...), write...)}, [][]byte{read, write}, false},
		{"garbage prefix", [][]byte{{0xFF, 0x10, 0x00}, read}, [][]byte{read}, false},
		{"bad crc dropped", [][]byte{append(append([]byte{}, read[:7]...), 0x00), read}, [][]byte{read}, false},
		{"unknown function by crc", [][]byte{fifo}, [][]byte{fifo}, false},
		{"partial waits", [][]byte{write[:9]}, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a rtuAssembler
			var got [][]byte
			for _, c := range tc.chunks {
				a.feed(c)
				for f := a.next(); f != nil; f = a.next() {
					got = append(got, f)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d frames % X, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.want[i]) {
					t.Errorf("frame %d % X, want % X", i, got[i], tc.want[i])
				}
			}
			if a.pending() != tc.rest {
				t.Errorf("pending %v, want %v", a.pending(), tc.rest)
			}
		})
	}
}

func splitEach(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// FuzzRTURequest feeds arbitrary line bytes to the assembler and answers
// every frame it finds: nothing may panic, and every frame has a valid CRC.
func FuzzRTURequest(f *testing.F) {
	f.Add(appendCRC([]byte{1, 3, 0, 0, 0, 2}))
	f.Add(appendCRC([]byte{1, 16, 0, 10, 0, 1, 2, 0, 1}))
	f.Add(appendCRC([]byte{1, 15, 0, 0, 0, 3, 1, 5}))
	f.Add(appendCRC([]byte{1, 5, 0, 9, 0xFF, 0}))
	f.Add(appendCRC([]byte{0, 6, 0, 100, 0, 1}))
	f.Add([]byte{0xFF, 0x10, 0x00, 1, 2})
	p := meterProfile()
	u, err := NewModbusUnit(p, 1, 1)
	if err != nil {
		f.Fatal(err)
	}
	s := NewModbusServer(nil, u)
	f.Fuzz(func(t *testing.T, data []byte) {
		var a rtuAssembler
		var out bytes.Buffer
		a.feed(data)
		for fr := a.next(); fr != nil; fr = a.next() {
			if !crcOK(fr) {
				t.Fatalf("frame % X with a bad CRC", fr)
			}
			if err := s.answerRTU(&out, fr, time.Time{}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzMBAP decodes arbitrary bytes as a Modbus TCP request and answers it.
func FuzzMBAP(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 0, 6, 1, 3, 0, 0, 0, 2})
	f.Add([]byte{0, 1, 0, 0, 0, 11, 1, 16, 0, 10, 0, 2, 4, 0, 1, 0, 2})
	f.Add([]byte{0, 1, 0, 0, 0, 2, 9, 24})
	f.Add([]byte{0, 1, 0, 7, 0, 0, 1})
	u, err := NewModbusUnit(meterProfile(), 1, 1)
	if err != nil {
		f.Fatal(err)
	}
	s := NewModbusServer(nil, u)
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := readMBAP(bytes.NewReader(data))
		if err != nil {
			return
		}
		resp, _ := s.answerTCP(req)
		if len(resp) < mbapSize+2 {
			t.Fatalf("reply % X shorter than a header and an exception", resp)
		}
	})
}
