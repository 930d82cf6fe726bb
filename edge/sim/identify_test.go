package sim

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// TestTCPIdentifyRegisters: a profile's identify registers answer with
// their expected values, exactly (the gap to a far one stays an
// exception), and one a point covers keeps the point's value.
func TestTCPIdentifyRegisters(t *testing.T) {
	p := meterProfile()
	code, lo := 112.0, 3.0
	p.Modbus.Identify = []profile.IdentifyCheck{
		{Table: profile.TableHolding, Address: 0xFC02, Type: profile.TypeUint16, Equals: &code, Source: "test"},
		{Table: profile.TableInput, Address: 0x0200, Type: profile.TypeFloat32, Range: &profile.Range{Min: &lo}, Source: "test"},
		{Table: profile.TableHolding, Address: 0x0300, Type: profile.TypeString, Length: 3, Pattern: "^SIM6", Example: "SIM630", Source: "test"},
		{Table: profile.TableHolding, Address: 100, Type: profile.TypeUint16, Equals: &code, Source: "test"}, // the point "far"
	}
	u := newUnit(t, p, 1, 1)
	if err := u.SetValue("far", wire.Int(7)); err != nil {
		t.Fatal(err)
	}
	c, _ := tcpClient(t, startTCP(t, u), 1)

	got, err := c.ReadHoldingRegisters(0xFC02, 1)
	if err != nil || binary.BigEndian.Uint16(got) != 112 {
		t.Errorf("meter code: % X, %v; want 00 70", got, err)
	}
	got, err = c.ReadInputRegisters(0x0200, 2)
	if err != nil || binary.BigEndian.Uint32(got) != 0x40400000 { // 3.0 as float32
		t.Errorf("float code: % X, %v; want 40 40 00 00", got, err)
	}
	got, err = c.ReadHoldingRegisters(0x0300, 3)
	if err != nil || string(got) != "SIM630" {
		t.Errorf("model string: %q, %v; want SIM630", got, err)
	}
	if got, err = c.ReadHoldingRegisters(100, 1); err != nil || binary.BigEndian.Uint16(got) != 7 {
		t.Errorf("point under an identify register: % X, %v; want the point's own 7", got, err)
	}
	if _, err := c.ReadHoldingRegisters(0x1000, 1); exceptionCode(err) != exIllegalAddress {
		t.Errorf("between the map and the meter code: %v, want exception 2", err)
	}
	if _, err := c.ReadHoldingRegisters(0xFC01, 2); exceptionCode(err) != exIllegalAddress {
		t.Errorf("across the meter code's edge: %v, want exception 2", err)
	}
}

// TestTCPSlowFault: a slow unit answers correctly, but later than a
// client's 1 s timeout allows and within a 3 s one.
func TestTCPSlowFault(t *testing.T) {
	u := newUnit(t, meterProfile(), 1, 1)
	addr := startTCP(t, u)
	u.SetFault(FaultSlow)

	c, h := tcpClient(t, addr, 1)
	h.Timeout = time.Second
	_, err := c.ReadHoldingRegisters(0, 2)
	var ne net.Error
	if !errorsAs(err, &ne) || !ne.Timeout() {
		t.Fatalf("1s client: err %v, want a timeout", err)
	}
	c, h = tcpClient(t, addr, 1)
	h.Timeout = 3 * time.Second
	if _, err := c.ReadHoldingRegisters(0, 2); err != nil {
		t.Fatalf("3s client: %v", err)
	}
	if f, err := ParseFault("slow"); err != nil || f != FaultSlow {
		t.Errorf("ParseFault(slow) = %q, %v", f, err)
	}
}
