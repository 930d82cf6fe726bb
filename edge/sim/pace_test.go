package sim

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

func TestLineTiming(t *testing.T) {
	for _, c := range []struct {
		name             string
		baud, data, stop int
		parity           string
		char, silence    time.Duration
		want             time.Duration
	}{
		// 11 bits a character: 572.9 us; 3.5 characters: 2.005 ms. A read
		// of 100 registers is 8 + 205 characters and one silence.
		{"19200 8E1", 19200, 8, 1, "E", 572916 * time.Nanosecond, 2005208 * time.Nanosecond, 124036458 * time.Nanosecond},
		{"9600 8N1", 9600, 8, 1, "N", 1041666 * time.Nanosecond, 3645833 * time.Nanosecond, 225520833 * time.Nanosecond},
		{"115200 8N2", 115200, 8, 2, "N", 95486 * time.Nanosecond, 1750 * time.Microsecond, 22088541 * time.Nanosecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			lt := NewLineTiming(c.baud, c.data, c.parity, c.stop)
			if lt.Char() != c.char || lt.Silence() != c.silence {
				t.Errorf("character %v, silence %v; want %v, %v", lt.Char(), lt.Silence(), c.char, c.silence)
			}
			if got := lt.Exchange(8, 5+2*100); got != c.want {
				t.Errorf("exchange of 100 registers %v, want %v", got, c.want)
			}
		})
	}
}

// TestPaceLineHoldsTheReply checks that a paced simulator does not answer
// before a real line could have carried the request and the reply (a
// lower bound only: a loaded machine may answer later).
func TestPaceLineHoldsTheReply(t *testing.T) {
	u, err := NewModbusUnit(meterProfile(), 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	s := NewModbusServer(nil, u)
	lt := NewLineTiming(9600, 8, "N", 1)
	s.PaceLine(lt)
	ours, theirs := net.Pipe()
	defer ours.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.ServeRTU(ctx, theirs) }()

	req := appendCRC([]byte{1, 3, 0, 0, 0, 10}) // 10 holding registers
	start := time.Now()
	if _, err := ours.Write(req); err != nil {
		t.Fatal(err)
	}
	reply := make([]byte, 5+2*10)
	if _, err := io.ReadFull(ours, reply); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if !crcOK(reply) || reply[0] != 1 || reply[1] != 3 {
		t.Fatalf("reply % X", reply)
	}
	if min := lt.Exchange(len(req), len(reply)); took < min {
		t.Errorf("reply after %v, before the line could carry it (%v)", took, min)
	}
}
