package modbus

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	gmodbus "github.com/goburrow/modbus"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
)

// fakePort is a serial port whose replies arrive in scripted pieces at
// scripted times, to reproduce what a real line does: frames split across
// reads, and replies arriving after the master gave up on them.
type fakePort struct {
	mu      sync.Mutex
	pending []piece
	answer  func(req []byte) []piece // what the slaves send back, relative to the write
	writes  int
}

type piece struct {
	after time.Duration
	at    time.Time
	data  []byte
}

func (p *fakePort) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.writes++
	now := time.Now()
	for _, pc := range p.answer(append([]byte(nil), b...)) {
		pc.at = now.Add(pc.after)
		p.pending = append(p.pending, pc)
	}
	return len(b), nil
}

// Read returns what has arrived, or waits one slice and reports the
// silence as (0, io.EOF) like tarm/serial.
func (p *fakePort) Read(b []byte) (int, error) {
	p.mu.Lock()
	n := 0
	now := time.Now()
	for len(p.pending) > 0 && !p.pending[0].at.After(now) && n < len(b) {
		c := copy(b[n:], p.pending[0].data)
		n += c
		if c < len(p.pending[0].data) {
			p.pending[0].data = p.pending[0].data[c:]
		} else {
			p.pending = p.pending[1:]
		}
	}
	p.mu.Unlock()
	if n > 0 {
		return n, nil
	}
	time.Sleep(rtuSlice)
	return 0, io.EOF
}

func (p *fakePort) Close() error { return nil }

// rtuFrame builds a reply frame with its CRC.
func rtuFrame(unit byte, fc byte, data ...byte) []byte {
	h := gmodbus.NewRTUClientHandler("")
	h.SlaveId = unit
	adu, err := h.Encode(&gmodbus.ProtocolDataUnit{FunctionCode: fc, Data: data})
	if err != nil {
		panic(err)
	}
	return adu
}

func TestRTULink(t *testing.T) {
	req := &Request{Table: profile.TableHolding, Address: 0, Count: 2,
		Slots: []Slot{{Point: &profile.ModbusPoint{Name: "x", Table: profile.TableHolding, Type: profile.TypeUint32}}}}
	lateOnce := true
	port := &fakePort{answer: func(adu []byte) []piece {
		unit := adu[0]
		reply := rtuFrame(unit, 3, 4, 0, unit, 0x12, 0x34)
		switch unit {
		case 1: // split into three pieces
			return []piece{{0, time.Time{}, reply[:2]}, {30 * time.Millisecond, time.Time{}, reply[2:5]}, {60 * time.Millisecond, time.Time{}, reply[5:]}}
		case 2: // answers after the master's timeout, the first time
			if lateOnce {
				lateOnce = false
				return []piece{{150 * time.Millisecond, time.Time{}, reply}}
			}
			return []piece{{0, time.Time{}, reply}}
		case 3: // exception 2
			return []piece{{0, time.Time{}, rtuFrame(3, 0x83, 2)}}
		}
		return nil // unit 4: never answers
	}}
	l := newRTULink(source.SerialLine{Path: "/dev/fake", Baud: 9600, DataBits: 8, Parity: "N", StopBits: 1})
	l.open = func(source.SerialLine) (io.ReadWriteCloser, error) { return port, nil }
	ctx := context.Background()
	read := func(unit uint8, timeout time.Duration) ([]byte, error) {
		b, err := l.read(ctx, unit, timeout, req)
		if err != nil {
			l.reset() // as readAll does
		}
		return b, err
	}

	steps := []struct {
		name    string
		unit    uint8
		timeout time.Duration
		sleep   time.Duration // before the request
		want    []byte
		kind    string
	}{
		{"split frame", 1, time.Second, 0, []byte{0, 1, 0x12, 0x34}, ""},
		{"late reply times out", 2, 50 * time.Millisecond, 0, nil, KindTimeout},
		// The late reply lands on the line now; the next request must not
		// take it for its own answer.
		{"next slave after a late reply", 1, time.Second, 150 * time.Millisecond, []byte{0, 1, 0x12, 0x34}, ""},
		{"exception", 3, time.Second, 0, nil, KindException},
		{"silent slave", 4, 60 * time.Millisecond, 0, nil, KindTimeout},
		{"recovered slave", 2, time.Second, 0, []byte{0, 2, 0x12, 0x34}, ""},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			time.Sleep(st.sleep)
			got, err := read(st.unit, st.timeout)
			if st.kind != "" {
				if kind, _ := classify(err); err == nil || kind != st.kind {
					t.Fatalf("read = % X, %v; want a %s error", got, err, st.kind)
				}
				return
			}
			if err != nil || string(got) != string(st.want) {
				t.Fatalf("read = % X, %v; want % X", got, err, st.want)
			}
		})
	}

	// A cancelled context ends a pending read within a slice or so.
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(30*time.Millisecond, cancel)
	if _, err := l.read(cctx, 4, time.Hour, req); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel: %v, want context.Canceled", err)
	}
	if err := l.close(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(l.line.String(), "/dev/fake 9600 8N1") {
		t.Errorf("line %s", l.line)
	}
}
