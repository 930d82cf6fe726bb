package sim

import (
	"log/slog"
	"math/rand/v2"
	"sort"
)

// ModbusServer serves one or more ModbusUnits over Modbus TCP and RTU. The
// same server may serve several listeners and lines at once; the units
// are shared.
type ModbusServer struct {
	log   *slog.Logger
	units map[uint8]*ModbusUnit
	ids   []uint8
	line  LineTiming // see PaceLine; set before serving
}

// NewModbusServer returns a server for the units. A later unit with the
// same ID as an earlier one replaces it.
func NewModbusServer(log *slog.Logger, units ...*ModbusUnit) *ModbusServer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &ModbusServer{log: log, units: make(map[uint8]*ModbusUnit, len(units))}
	for _, u := range units {
		s.units[u.ID()] = u
		u.setLog(log)
	}
	for id := range s.units {
		s.ids = append(s.ids, id)
	}
	sort.Slice(s.ids, func(i, j int) bool { return s.ids[i] < s.ids[j] })
	return s
}

// Units returns the served units in ID order.
func (s *ModbusServer) Units() []*ModbusUnit {
	out := make([]*ModbusUnit, len(s.ids))
	for i, id := range s.ids {
		out[i] = s.units[id]
	}
	return out
}

// Unit returns the unit with the ID, or nil.
func (s *ModbusServer) Unit(id uint8) *ModbusUnit { return s.units[id] }

// garbage returns n random bytes, a device's reply mangled on the line.
func garbage(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rand.UintN(256))
	}
	return b
}
