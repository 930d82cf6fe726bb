package sim

import (
	"bytes"
	"encoding/binary"
	"io"
	"maps"
	"net"
	"testing"
	"time"

	"github.com/ponte-city/ponte/wire"
)

func TestTCPKnownVectors(t *testing.T) {
	u := newUnit(t, meterProfile(), 1, 1)
	addr := startTCP(t, u)
	c, _ := tcpClient(t, addr, 1)
	tests := []struct {
		point string
		v     wire.Value
		addr  uint16
		want  []byte
	}{
		{"f_abcd", wire.Float(123.456), 0, []byte{0x42, 0xF6, 0xE9, 0x79}},
		{"f_cdab", wire.Float(123.456), 2, []byte{0xE9, 0x79, 0x42, 0xF6}},
		{"f_badc", wire.Float(123.456), 4, []byte{0xF6, 0x42, 0x79, 0xE9}},
		{"f_dcba", wire.Float(123.456), 6, []byte{0x79, 0xE9, 0xF6, 0x42}},
		{"i16", wire.Float(-12.3), 10, []byte{0xFF, 0x85}},
		{"u32", wire.Int(0x12345678), 12, []byte{0x56, 0x78, 0x12, 0x34}},
		{"f64", wire.Float(1.5), 20, []byte{0x3F, 0xF8, 0, 0, 0, 0, 0, 0}},
		{"i64", wire.Int(0x0102030405060708), 24, []byte{0x07, 0x08, 0x05, 0x06, 0x03, 0x04, 0x01, 0x02}},
		{"serial", wire.String("SDM6"), 40, []byte("SDM6\x00\x00\x00\x00")},
		{"offset", wire.Float(-10), 50, []byte{0x00, 0x3C}}, // (-10 - -40) / 0.5 = 60
	}
	for _, tc := range tests {
		t.Run(tc.point, func(t *testing.T) {
			if err := u.SetValue(tc.point, tc.v); err != nil {
				t.Fatal(err)
			}
			got, err := c.ReadHoldingRegisters(tc.addr, uint16(len(tc.want)/2))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("registers % X, want % X", got, tc.want)
			}
		})
	}
}

func TestTCPSharedRegisterBits(t *testing.T) {
	u := newUnit(t, meterProfile(), 1, 1)
	c, _ := tcpClient(t, startTCP(t, u), 1)
	steps := []struct {
		point string
		v     wire.Value
		want  uint16
	}{
		{"field", wire.Int(0), 0x0000},
		{"flag", wire.Bool(false), 0x0000},
		{"flag", wire.Bool(true), 0x0008},
		{"field", wire.Int(5), 0x0508},
		{"field", wire.Int(99), 0x0F08}, // clamped to 4 bits
		{"flag", wire.Bool(false), 0x0F00},
	}
	for _, st := range steps {
		if err := u.SetValue(st.point, st.v); err != nil {
			t.Fatal(err)
		}
		got, err := c.ReadHoldingRegisters(30, 1)
		if err != nil {
			t.Fatal(err)
		}
		if r := binary.BigEndian.Uint16(got); r != st.want {
			t.Errorf("after %s=%v register 30 = %#04x, want %#04x", st.point, st.v, r, st.want)
		}
	}
}

func TestTCPReadsAndWrites(t *testing.T) {
	u := newUnit(t, meterProfile(), 7, 1)
	c, _ := tcpClient(t, startTCP(t, u), 7)
	if _, err := c.WriteSingleRegister(10, 0x1234); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteMultipleRegisters(12, 2, []byte{0xAA, 0xBB, 0xCC, 0xDD}); err != nil {
		t.Fatal(err)
	}
	u.Update(time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)) // written registers are pinned
	got, err := c.ReadHoldingRegisters(10, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0x12, 0x34, 0, 0, 0xAA, 0xBB, 0xCC, 0xDD}; !bytes.Equal(got, want) {
		t.Errorf("holding 10..13 = % X, want % X", got, want)
	}
	if _, err := c.WriteSingleCoil(9, 0xFF00); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WriteMultipleCoils(0, 1, []byte{0b1}); err != nil {
		t.Fatal(err)
	}
	bits, err := c.ReadCoils(0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{0b00000001, 0b10}; !bytes.Equal(bits, want) {
		t.Errorf("coils 0..9 = %08b, want %08b", bits, want)
	}
	// Only points with a write block are writable, as on a real device;
	// a refused write changes nothing and counts nothing.
	for name, write := range map[string]func() error{
		"read-only holding point": func() error { _, err := c.WriteSingleRegister(0, 1); return err },
		"gap between coils":       func() error { _, err := c.WriteMultipleCoils(0, 3, []byte{0b101}); return err },
		"gap in FC 16":            func() error { _, err := c.WriteMultipleRegisters(10, 3, []byte{0, 1, 0, 2, 0, 3}); return err },
	} {
		if err := write(); exceptionCode(err) != exIllegalAddress {
			t.Errorf("%s: %v, want exception 2", name, err)
		}
	}
	want := map[string]int64{"i16": 1, "u32": 1, "relay1": 1, "relay2": 1}
	if got := u.Writes(); !maps.Equal(got, want) {
		t.Errorf("writes %v, want %v", got, want)
	}
	// Unit 0 and 255 reach a lone unit.
	for _, id := range []uint8{0, 255} {
		c2, _ := tcpClient(t, startTCP(t, u), id)
		if _, err := c2.ReadCoils(0, 1); err != nil {
			t.Errorf("unit %d: %v", id, err)
		}
	}
}

func TestTCPUpdateFollowsPattern(t *testing.T) {
	u := newUnit(t, meterProfile(), 1, 42)
	c, _ := tcpClient(t, startTCP(t, u), 1)
	var last uint32
	for h := 0; h < 24; h += 3 {
		u.Update(time.Date(2025, 6, 2, h, 0, 0, 0, time.UTC))
		got, err := c.ReadInputRegisters(0, 4)
		if err != nil {
			t.Fatal(err)
		}
		volts := float64(binary.BigEndian.Uint16(got)) * 0.1
		if volts < 226 || volts > 236 {
			t.Errorf("%02d:00 voltage %.1f V, want 226..236", h, volts)
		}
		energy := binary.BigEndian.Uint32(got[4:])
		if energy < last || energy == 0 {
			t.Errorf("%02d:00 energy raw %d after %d: want increasing", h, energy, last)
		}
		last = energy
	}
}

func TestTCPExceptions(t *testing.T) {
	u := newUnit(t, meterProfile(), 1, 1)
	c, _ := tcpClient(t, startTCP(t, u), 1)
	tests := []struct {
		name string
		call func() error
		want byte
	}{
		{"inside span unmapped reads 0", func() error { _, err := c.ReadHoldingRegisters(60, 10); return err }, 0},
		{"outside span", func() error { _, err := c.ReadHoldingRegisters(101, 1); return err }, exIllegalAddress},
		{"runs past span", func() error { _, err := c.ReadHoldingRegisters(99, 3); return err }, exIllegalAddress},
		{"table without points", func() error { _, err := c.ReadDiscreteInputs(1, 1); return err }, exIllegalAddress},
		{"write read-only span", func() error { _, err := c.WriteSingleRegister(500, 1); return err }, exIllegalAddress},
		{"illegal function", func() error { _, err := c.ReadFIFOQueue(0); return err }, exIllegalFunction},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if got := exceptionCode(err); got != tc.want {
				t.Errorf("exception %d (err %v), want %d", got, err, tc.want)
			}
			if tc.want == 0 && err != nil {
				t.Errorf("unexpected error %v", err)
			}
		})
	}
}

// rawTCP sends one request PDU with a hand-built MBAP header and returns
// the reply PDU, checking the header independently of any client library.
func rawTCP(t *testing.T, addr string, unit uint8, pdu []byte) []byte {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	req := append([]byte{0x12, 0x34, 0, 0, 0, byte(len(pdu) + 1), unit}, pdu...)
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 7)
	if _, err := io.ReadFull(conn, hdr); err != nil {
		t.Fatal(err)
	}
	if hdr[0] != 0x12 || hdr[1] != 0x34 || hdr[2] != 0 || hdr[3] != 0 || hdr[6] != unit {
		t.Fatalf("reply header % X does not echo transaction 1234, protocol 0, unit %d", hdr, unit)
	}
	out := make([]byte, int(binary.BigEndian.Uint16(hdr[4:]))-1)
	if _, err := io.ReadFull(conn, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTCPRawQuantities(t *testing.T) {
	u := newUnit(t, meterProfile(), 3, 1)
	other := newUnit(t, meterProfile(), 4, 1)
	addr := startTCP(t, u, other)
	tests := []struct {
		name string
		unit uint8
		pdu  []byte
		want []byte
	}{
		{"quantity 0", 3, []byte{3, 0, 0, 0, 0}, []byte{0x83, 3}},
		{"quantity 126", 3, []byte{3, 0, 0, 0, 126}, []byte{0x83, 3}},
		{"coils 2001", 3, []byte{1, 0, 0, 0x07, 0xD1}, []byte{0x81, 3}},
		{"short request", 3, []byte{3, 0, 0}, []byte{0x83, 3}},
		{"fc16 byte count mismatch", 3, []byte{16, 0, 10, 0, 1, 4, 0, 1, 0, 2}, []byte{0x90, 3}},
		{"bad coil value", 3, []byte{5, 0, 0, 0x12, 0x34}, []byte{0x85, 3}},
		{"unknown unit", 9, []byte{3, 0, 0, 0, 1}, []byte{0x83, 0x0B}},
		{"read one register", 4, []byte{3, 0, 100, 0, 1}, []byte{3, 2, 0, 0}},
	}
	if err := other.SetValue("far", wire.Int(0)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := rawTCP(t, addr, tc.unit, tc.pdu); !bytes.Equal(got, tc.want) {
				t.Errorf("reply % X, want % X", got, tc.want)
			}
		})
	}
}

func TestTCPFaults(t *testing.T) {
	u := newUnit(t, meterProfile(), 1, 1)
	addr := startTCP(t, u)
	tests := []struct {
		fault Fault
		check func(t *testing.T, err error)
	}{
		{FaultException, func(t *testing.T, err error) {
			if exceptionCode(err) != exDeviceFailure {
				t.Errorf("err %v, want exception 4", err)
			}
		}},
		{FaultTimeout, func(t *testing.T, err error) {
			var ne net.Error
			if !errorsAs(err, &ne) || !ne.Timeout() {
				t.Errorf("err %v, want a timeout", err)
			}
		}},
		{FaultGarbage, func(t *testing.T, err error) {
			if err == nil || exceptionCode(err) != 0 {
				t.Errorf("err %v, want a framing error", err)
			}
		}},
		{FaultDrop, func(t *testing.T, err error) {
			if err == nil || exceptionCode(err) != 0 {
				t.Errorf("err %v, want the connection closed", err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.fault), func(t *testing.T) {
			c, h := tcpClient(t, addr, 1)
			h.Timeout = 300 * time.Millisecond
			before := u.Requests()
			u.SetFault(tc.fault)
			_, err := c.ReadHoldingRegisters(0, 2)
			tc.check(t, err)
			if got := u.Requests(); got != before+1 {
				t.Errorf("requests %d, want %d", got, before+1)
			}
			u.SetFault(FaultNone)
			h.Close()
			if _, err := c.ReadHoldingRegisters(0, 2); err != nil {
				t.Errorf("after healing: %v", err)
			}
		})
	}
}

func TestTCPBadHeaderClosesConnection(t *testing.T) {
	addr := startTCP(t, newUnit(t, meterProfile(), 1, 1))
	for _, hdr := range [][]byte{
		{0, 1, 0, 1, 0, 6, 1, 3, 0, 0, 0, 1}, // protocol 1
		{0, 1, 0, 0, 0, 0, 1},                // length 0
		{0, 1, 0, 0, 1, 0, 1},                // length 256
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		conn.Write(hdr)
		n, err := conn.Read(make([]byte, 16))
		if n != 0 || err == nil {
			t.Errorf("header % X: read %d bytes, err %v; want the connection closed", hdr, n, err)
		}
		conn.Close()
	}
}
