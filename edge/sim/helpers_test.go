package sim

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/goburrow/modbus"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

func fptr(f float64) *float64 { return &f }

// meterProfile is a register map exercising every type and order.
func meterProfile() *profile.Profile {
	return &profile.Profile{
		Model: "Test Meter", Manufacturer: "Ponte", Firmware: "1.2", Source: "test",
		Category: wire.CategoryEnergy, Kind: profile.KindModbus,
		Modbus: &profile.Modbus{
			Points: []profile.ModbusPoint{
				{Name: "f_abcd", Table: profile.TableHolding, Address: 0, Type: profile.TypeFloat32, Order: profile.OrderABCD},
				{Name: "f_cdab", Table: profile.TableHolding, Address: 2, Type: profile.TypeFloat32, Order: profile.OrderCDAB},
				{Name: "f_badc", Table: profile.TableHolding, Address: 4, Type: profile.TypeFloat32, Order: profile.OrderBADC},
				{Name: "f_dcba", Table: profile.TableHolding, Address: 6, Type: profile.TypeFloat32, Order: profile.OrderDCBA},
				{Name: "i16", Table: profile.TableHolding, Address: 10, Type: profile.TypeInt16, Scaling: profile.Scaling{Scale: 0.1}, Write: &profile.Write{Min: ptr(-1e9), Max: ptr(1e9)}},
				{Name: "u32", Table: profile.TableHolding, Address: 12, Type: profile.TypeUint32, Order: profile.OrderCDAB, Write: &profile.Write{Min: ptr(-1e9), Max: ptr(1e9)}},
				{Name: "f64", Table: profile.TableHolding, Address: 20, Type: profile.TypeFloat64, Order: "ABCDEFGH"},
				{Name: "i64", Table: profile.TableHolding, Address: 24, Type: profile.TypeInt64, Order: "GHEFCDAB"},
				{Name: "flag", Table: profile.TableHolding, Address: 30, Type: profile.TypeBool, Bit: 3},
				{Name: "field", Table: profile.TableHolding, Address: 30, Type: profile.TypeBitfield, Bit: 8, Bits: 4},
				{Name: "serial", Table: profile.TableHolding, Address: 40, Type: profile.TypeString, Length: 4},
				{Name: "offset", Table: profile.TableHolding, Address: 50, Type: profile.TypeUint16, Scaling: profile.Scaling{Scale: 0.5, Offset: -40}},
				{Name: "far", Table: profile.TableHolding, Address: 100, Type: profile.TypeUint16},
				{Name: "voltage", Table: profile.TableInput, Address: 0, Type: profile.TypeUint16, Unit: "V", Scaling: profile.Scaling{Scale: 0.1}},
				{Name: "energy", Table: profile.TableInput, Address: 2, Type: profile.TypeUint32, Unit: "kWh", Scaling: profile.Scaling{Scale: 0.01}},
				{Name: "relay1", Table: profile.TableCoil, Address: 0, Type: profile.TypeBool, Write: &profile.Write{Min: ptr(-1e9), Max: ptr(1e9)}},
				{Name: "relay2", Table: profile.TableCoil, Address: 9, Type: profile.TypeBool, Write: &profile.Write{Min: ptr(-1e9), Max: ptr(1e9)}},
				{Name: "door", Table: profile.TableDiscrete, Address: 0, Type: profile.TypeBool},
			},
		},
	}
}

func ptr(f float64) *float64 { return &f }

func newUnit(t *testing.T, p *profile.Profile, id uint8, seed int64) *ModbusUnit {
	t.Helper()
	u, err := NewModbusUnit(p, id, seed)
	if err != nil {
		t.Fatalf("NewModbusUnit: %v", err)
	}
	return u
}

// startTCP serves the units on a loopback listener and returns its address.
func startTCP(t *testing.T, units ...*ModbusUnit) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewModbusServer(nil, units...).ServeTCP(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeTCP returned %v after cancel, want nil", err)
		}
	})
	return ln.Addr().String()
}

func tcpClient(t *testing.T, addr string, unit uint8) (modbus.Client, *modbus.TCPClientHandler) {
	t.Helper()
	h := modbus.NewTCPClientHandler(addr)
	h.SlaveId = unit
	h.Timeout = 2 * time.Second
	t.Cleanup(func() { h.Close() })
	return modbus.NewClient(h), h
}

// exceptionCode returns the Modbus exception in err, or 0.
func exceptionCode(err error) byte {
	var me *modbus.ModbusError
	if errors.As(err, &me) {
		return me.ExceptionCode
	}
	return 0
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
