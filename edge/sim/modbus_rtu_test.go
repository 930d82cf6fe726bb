package sim

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"github.com/goburrow/modbus"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
	"github.com/tarm/serial"
)

// startRTU serves the units on one end of a pty pair and returns the
// other end's path.
func startRTU(t *testing.T, units ...*ModbusUnit) string {
	t.Helper()
	devA, devB := testenv.PtyPair(t)
	port, err := serial.OpenPort(&serial.Config{Name: devA, Baud: 19200, ReadTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("open %s: %v", devA, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewModbusServer(nil, units...).ServeRTU(ctx, port) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeRTU returned %v after cancel, want nil", err)
		}
		port.Close()
	})
	return devB
}

func rtuClient(t *testing.T, dev string) (modbus.Client, *modbus.RTUClientHandler) {
	t.Helper()
	h := modbus.NewRTUClientHandler(dev)
	h.BaudRate, h.DataBits, h.Parity, h.StopBits = 19200, 8, "N", 1
	h.Timeout = time.Second
	t.Cleanup(func() { h.Close() })
	return modbus.NewClient(h), h
}

func TestRTUThreeUnitsOnOneLine(t *testing.T) {
	p := meterProfile()
	units := []*ModbusUnit{newUnit(t, p, 1, 11), newUnit(t, p, 2, 12), newUnit(t, p, 3, 13)}
	for _, u := range units {
		if err := u.SetValue("f_abcd", wire.Float(float64(u.ID())*100+0.5)); err != nil {
			t.Fatal(err)
		}
	}
	dev := startRTU(t, units...)
	c, h := rtuClient(t, dev)
	for round := 0; round < 2; round++ {
		for _, u := range units {
			t.Run(string(rune('0'+u.ID())), func(t *testing.T) {
				h.SlaveId = u.ID()
				got, err := c.ReadHoldingRegisters(0, 2)
				if err != nil {
					t.Fatal(err)
				}
				enc, _ := encodePoint(&p.Modbus.Points[0], "ABCD", wire.Float(float64(u.ID())*100+0.5))
				want := []byte{byte(enc.Regs[0] >> 8), byte(enc.Regs[0]), byte(enc.Regs[1] >> 8), byte(enc.Regs[1])}
				if !bytes.Equal(got, want) {
					t.Errorf("unit %d: % X, want % X", u.ID(), got, want)
				}
			})
		}
	}
	// The known vector, on the wire of unit 2.
	if err := units[1].SetValue("f_cdab", wire.Float(123.456)); err != nil {
		t.Fatal(err)
	}
	h.SlaveId = 2
	got, err := c.ReadHoldingRegisters(2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0xE9, 0x79, 0x42, 0xF6}; !bytes.Equal(got, want) {
		t.Errorf("CDAB over RTU: % X, want % X", got, want)
	}
	// Writes with byte counts (FC 16) are assembled and answered.
	h.SlaveId = 3
	if _, err := c.WriteMultipleRegisters(12, 2, []byte{0, 1, 0, 2}); err != nil {
		t.Fatal(err)
	}
	if got, err := c.ReadHoldingRegisters(12, 2); err != nil || !bytes.Equal(got, []byte{0, 1, 0, 2}) {
		t.Errorf("after FC16: % X, %v", got, err)
	}
	// Exceptions travel with a valid CRC.
	if _, err := c.ReadHoldingRegisters(500, 1); exceptionCode(err) != exIllegalAddress {
		t.Errorf("read outside span over RTU: %v, want exception 2", err)
	}
	// An unknown unit stays silent, and the others still answer after it.
	before := units[0].Requests() + units[1].Requests() + units[2].Requests()
	h.SlaveId = 9
	h.Timeout = 300 * time.Millisecond
	if _, err := c.ReadHoldingRegisters(0, 1); err == nil {
		t.Error("unit 9 answered; want silence")
	}
	if after := units[0].Requests() + units[1].Requests() + units[2].Requests(); after != before {
		t.Errorf("a request for unit 9 counted on the served units (%d -> %d)", before, after)
	}
	h.Close()
	h.SlaveId = 1
	if _, err := c.ReadHoldingRegisters(0, 1); err != nil {
		t.Errorf("unit 1 after silence: %v", err)
	}
}

// rawRTU writes a request and collects whatever comes back until the line
// has been quiet for a while.
func rawRTU(t *testing.T, port *serial.Port, req []byte) []byte {
	t.Helper()
	if _, err := port.Write(req); err != nil {
		t.Fatal(err)
	}
	var out []byte
	buf := make([]byte, 256)
	quiet := 0
	for quiet < 3 {
		n, _ := port.Read(buf)
		if n == 0 {
			quiet++
			continue
		}
		quiet = 0
		out = append(out, buf[:n]...)
	}
	return out
}

func TestRTUFaultsAndResync(t *testing.T) {
	p := meterProfile()
	u1, u2 := newUnit(t, p, 1, 1), newUnit(t, p, 2, 2)
	if err := u1.SetValue("far", wire.Int(0xBEEF)); err != nil {
		t.Fatal(err)
	}
	dev := startRTU(t, u1, u2)
	port, err := serial.OpenPort(&serial.Config{Name: dev, Baud: 19200, ReadTimeout: 150 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	read := appendCRC([]byte{1, 3, 0, 100, 0, 1})
	good := appendCRC([]byte{1, 3, 2, 0xBE, 0xEF})

	tests := []struct {
		name  string
		fault Fault
		send  [][]byte
		check func(t *testing.T, got []byte)
	}{
		{"healthy", FaultNone, [][]byte{read}, func(t *testing.T, got []byte) {
			if !bytes.Equal(got, good) {
				t.Errorf("% X, want % X", got, good)
			}
		}},
		{"split across writes", FaultNone, [][]byte{read[:3], read[3:]}, func(t *testing.T, got []byte) {
			if !bytes.Equal(got, good) {
				t.Errorf("% X, want % X", got, good)
			}
		}},
		{"noise before request", FaultNone, [][]byte{append([]byte{0x55, 0x01, 0x03, 0xFF}, read...)}, func(t *testing.T, got []byte) {
			if !bytes.Equal(got, good) {
				t.Errorf("% X, want % X", got, good)
			}
		}},
		{"exception", FaultException, [][]byte{read}, func(t *testing.T, got []byte) {
			if want := appendCRC([]byte{1, 0x83, 4}); !bytes.Equal(got, want) {
				t.Errorf("% X, want % X", got, want)
			}
		}},
		{"timeout", FaultTimeout, [][]byte{read}, func(t *testing.T, got []byte) {
			if len(got) != 0 {
				t.Errorf("got % X, want silence", got)
			}
		}},
		{"drop is silence on a line", FaultDrop, [][]byte{read}, func(t *testing.T, got []byte) {
			if len(got) != 0 {
				t.Errorf("got % X, want silence", got)
			}
		}},
		{"garbage", FaultGarbage, [][]byte{read}, func(t *testing.T, got []byte) {
			if len(got) == 0 || crcOK(got) {
				t.Errorf("got % X, want bytes that fail the CRC", got)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u1.SetFault(tc.fault)
			defer u1.SetFault(FaultNone)
			before := u1.Requests()
			for _, b := range tc.send[:len(tc.send)-1] {
				if _, err := port.Write(b); err != nil {
					t.Fatal(err)
				}
				time.Sleep(10 * time.Millisecond)
			}
			tc.check(t, rawRTU(t, port, tc.send[len(tc.send)-1]))
			if got := u1.Requests(); got != before+1 {
				t.Errorf("requests %d -> %d, want one more", before, got)
			}
		})
	}
	// Broadcast writes (to i16, writable) reach every unit and nobody answers.
	if got := rawRTU(t, port, appendCRC([]byte{0, 6, 0, 10, 0x12, 0x34})); len(got) != 0 {
		t.Errorf("broadcast answered % X", got)
	}
	for _, u := range []*ModbusUnit{u1, u2} {
		reply := rawRTU(t, port, appendCRC([]byte{u.ID(), 3, 0, 10, 0, 1}))
		if len(reply) != 7 || binary.BigEndian.Uint16(reply[3:]) != 0x1234 {
			t.Errorf("unit %d after broadcast: % X, want 0x1234", u.ID(), reply)
		}
	}
}
