package sim

import (
	"log/slog"
	"maps"
)

// Writes (issue 16). A real controller refuses a write to a register it
// does not let clients change, so the simulator accepts FC 5, 6, 15 and
// 16 only on coils and holding registers of points whose profile has a
// write block, every address of the request inside such a point;
// anything else is exception 2 (Illegal Data Address). A written value
// is kept (the points are pinned, see pinRange) and counted per point,
// so a test can assert that a command was written exactly once.

// writable reports whether every address of addr..addr+qty-1 of table
// belongs to a point that has a write block.
func (u *ModbusUnit) writable(table, addr, qty int) bool {
	for a := addr; a < addr+qty; a++ {
		ok := false
		for i := range u.points {
			up := &u.points[i]
			lo := int(up.pt.Address)
			if up.table == table && up.pt.Write != nil && a >= lo && a <= lo+up.pt.Registers()-1 {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// countWrites counts one write of every point overlapping
// addr..addr+qty-1 of table. Callers hold mu.
func (u *ModbusUnit) countWrites(table, addr, qty int) {
	for i := range u.points {
		up := &u.points[i]
		lo := int(up.pt.Address)
		if up.table == table && lo <= addr+qty-1 && lo+up.pt.Registers()-1 >= addr {
			if u.writes == nil {
				u.writes = map[string]int64{}
			}
			u.writes[up.pt.Name]++
			if u.log != nil {
				u.log.Info("sim: write", "unit", u.id, "point", up.pt.Name, "table", up.pt.Table,
					"address", up.pt.Address, "writes", u.writes[up.pt.Name])
			}
		}
	}
}

// Writes returns how many write requests touched each point, by name
// (points never written are absent).
func (u *ModbusUnit) Writes() map[string]int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := maps.Clone(u.writes)
	if out == nil {
		out = map[string]int64{}
	}
	return out
}

// setLog makes the unit log each write it accepts (NewModbusServer).
func (u *ModbusUnit) setLog(log *slog.Logger) {
	u.mu.Lock()
	u.log = log
	u.mu.Unlock()
}
