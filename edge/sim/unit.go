package sim

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// Table indexes into a unit's register images.
const (
	tCoil = iota
	tDiscrete
	tHolding
	tInput
	nTables
)

func tableIndex(t profile.Table) int {
	switch t {
	case profile.TableCoil:
		return tCoil
	case profile.TableDiscrete:
		return tDiscrete
	case profile.TableHolding:
		return tHolding
	}
	return tInput
}

// span is the address range a table's points cover.
type span struct {
	lo, hi int
	ok     bool
}

func (s span) covers(addr, qty int) bool {
	return s.ok && addr >= s.lo && addr+qty-1 <= s.hi
}

type unitPoint struct {
	pt    *profile.ModbusPoint
	table int
	order profile.Order
	pat   Pattern
	text  string // the value of a string point
}

// ModbusUnit is one simulated Modbus device (one unit ID) serving a
// profile's register map. Its methods are safe for concurrent use: the
// server reads registers while Update and SetValue change them.
type ModbusUnit struct {
	id          uint8
	gen         Generator
	points      []unitPoint
	byName      map[string]int
	spans       [nTables]span
	idents      []identSpan // the profile's identify registers, read-only
	maxRegs     int
	maxBits     int
	onePerPoint bool

	requests atomic.Int64

	mu     sync.Mutex
	tables [nTables]map[uint16]uint16 // bits stored as 0/1
	pinned []bool
	fault  Fault
	writes map[string]int64 // write requests per point name
	log    *slog.Logger     // logs writes; nil logs none
}

// NewModbusUnit builds unit unit serving p's register map, its values
// generated from seed (the same seed gives the same values). The
// registers hold the values of the zero time until the first Update.
func NewModbusUnit(p *profile.Profile, unit uint8, seed int64) (*ModbusUnit, error) {
	if p == nil || p.Modbus == nil {
		return nil, fmt.Errorf("modbus unit %d: profile has no modbus section", unit)
	}
	m := p.Modbus
	u := &ModbusUnit{
		id:          unit,
		gen:         NewGenerator(seed),
		byName:      make(map[string]int, len(m.Points)),
		maxRegs:     orDefault(m.MaxRegisters, maxReadRegs),
		maxBits:     orDefault(m.MaxBits, maxReadBits),
		onePerPoint: m.OneRequestPerPoint,
		pinned:      make([]bool, len(m.Points)),
	}
	for i := range u.tables {
		u.tables[i] = map[uint16]uint16{}
	}
	for i := range m.Points {
		pt := &m.Points[i]
		if _, dup := u.byName[pt.Name]; dup {
			return nil, fmt.Errorf("modbus unit %d: duplicate point %q", unit, pt.Name)
		}
		up := unitPoint{
			pt:    pt,
			table: tableIndex(pt.Table),
			order: m.EffectiveOrder(pt),
			pat: PatternFor(PointInfo{Category: p.Category, Name: pt.Name, Unit: pt.Unit,
				Type: pt.Type, Bits: pt.Bits, Range: pt.Range, Sim: pt.Sim}),
		}
		if pt.Type == profile.TypeString {
			up.text = stringValue(p, pt.Name, u.gen.key(pt.Name))
		}
		u.byName[pt.Name] = len(u.points)
		u.points = append(u.points, up)
		lo, hi := int(pt.Address), int(pt.Address)+pt.Registers()-1
		s := &u.spans[up.table]
		if !s.ok || lo < s.lo {
			s.lo = lo
		}
		if !s.ok || hi > s.hi {
			s.hi = hi
		}
		s.ok = true
	}
	if err := u.addIdentify(m); err != nil {
		return nil, err
	}
	u.Update(time.Time{})
	return u, nil
}

// identSpan is one identify register (profile.IdentifyCheck) the unit
// answers with its expected value, so ponte-ctl scan can be tested.
type identSpan struct {
	table  int
	lo, hi int
}

// addIdentify stores the expected value of each identify register that
// no point of the map covers already. The registers are read exactly (a
// read inside one of them), not widening the span of lenient reads: an
// identify register far from the map (a meter code at 0xFC02) must not
// make the gap between them readable.
func (u *ModbusUnit) addIdentify(m *profile.Modbus) error {
	for i := range m.Identify {
		c := &m.Identify[i]
		pt := c.Point("identify")
		table := tableIndex(c.Table)
		if u.pointsIn(table, int(pt.Address), pt.Registers()) > 0 {
			continue // a point serves it, with its pattern or pinned value
		}
		rv, err := encodePoint(&pt, m.EffectiveOrder(&pt), c.Expected())
		if err != nil {
			return fmt.Errorf("modbus unit %d: identify[%d]: %w", u.id, i, err)
		}
		u.store(table, pt.Address, rv)
		u.idents = append(u.idents, identSpan{table: table, lo: int(pt.Address), hi: int(pt.Address) + pt.Registers() - 1})
	}
	return nil
}

// identCovers reports whether addr..addr+qty-1 of table lies inside one
// identify register.
func (u *ModbusUnit) identCovers(table, addr, qty int) bool {
	for _, s := range u.idents {
		if s.table == table && addr >= s.lo && addr+qty-1 <= s.hi {
			return true
		}
	}
	return false
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

// stringValue is the fixed text of a string point: the profile's own
// words where the name says what it is, else a serial number.
func stringValue(p *profile.Profile, name string, key uint64) string {
	n := toLower(name)
	switch {
	case has(n, "firmware", "version", "fw"):
		return p.Firmware
	case has(n, "model", "type"):
		return p.Model
	case has(n, "manufacturer", "vendor", "make"):
		return p.Manufacturer
	}
	return "SIM" + strconv.FormatUint(key%100000000, 10)
}

// ID returns the unit ID.
func (u *ModbusUnit) ID() uint8 { return u.id }

// Requests returns how many requests this unit received, answered or not.
func (u *ModbusUnit) Requests() int64 { return u.requests.Load() }

// SetFault makes the unit misbehave from its next request on; FaultNone
// heals it.
func (u *ModbusUnit) SetFault(f Fault) {
	u.mu.Lock()
	u.fault = f
	u.mu.Unlock()
}

// Fault returns the unit's current fault.
func (u *ModbusUnit) Fault() Fault {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.fault
}

// Update recomputes every point not pinned by SetValue or a client write
// from its pattern at now.
func (u *ModbusUnit) Update(now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i := range u.points {
		if u.pinned[i] {
			continue
		}
		up := &u.points[i]
		rv, err := encodePoint(up.pt, up.order, u.valueAt(up, now))
		if err != nil {
			continue // cannot happen for generated values; keep the old ones
		}
		u.store(up.table, up.pt.Address, rv)
	}
}

// Value returns the engineering value the unit would give the point at
// now by its pattern (ignoring pins), for tests and status pages.
func (u *ModbusUnit) Value(point string, now time.Time) (wire.Value, error) {
	i, ok := u.byName[point]
	if !ok {
		return wire.Value{}, fmt.Errorf("unit %d point %q: %w", u.id, point, ErrUnknownPoint)
	}
	return u.valueAt(&u.points[i], now), nil
}

func (u *ModbusUnit) valueAt(up *unitPoint, now time.Time) wire.Value {
	switch up.pt.Type {
	case profile.TypeString:
		return wire.String(up.text)
	case profile.TypeBool:
		return wire.Bool(u.gen.Value(up.pt.Name, up.pat, now) >= 0.5)
	}
	f := u.gen.Value(up.pt.Name, up.pat, now)
	if !up.pt.Scaling.Scaled() && up.pt.Type != profile.TypeFloat32 && up.pt.Type != profile.TypeFloat64 {
		return wire.Int(int64(math.Round(f)))
	}
	return wire.Float(f)
}

// SetValue encodes the engineering value v into the point's registers (or
// bit) and pins it: Update no longer changes it.
func (u *ModbusUnit) SetValue(point string, v wire.Value) error {
	i, ok := u.byName[point]
	if !ok {
		return fmt.Errorf("unit %d set %q: %w", u.id, point, ErrUnknownPoint)
	}
	up := &u.points[i]
	rv, err := encodePoint(up.pt, up.order, v)
	if err != nil {
		return fmt.Errorf("unit %d set %q to %v: %w", u.id, point, v, err)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.store(up.table, up.pt.Address, rv)
	u.pinned[i] = true
	return nil
}

// store writes rv at addr, keeping the register bits outside rv.Mask.
// Callers hold mu.
func (u *ModbusUnit) store(table int, addr uint16, rv regValue) {
	m := u.tables[table]
	for i, r := range rv.Regs {
		a := addr + uint16(i)
		m[a] = m[a]&^rv.Mask | r&rv.Mask
	}
}

// pinRange pins every point overlapping addr..addr+qty-1 of table, after a
// client wrote there. Callers hold mu.
func (u *ModbusUnit) pinRange(table, addr, qty int) {
	for i := range u.points {
		up := &u.points[i]
		lo := int(up.pt.Address)
		hi := lo + up.pt.Registers() - 1
		if up.table == table && lo <= addr+qty-1 && hi >= addr {
			u.pinned[i] = true
		}
	}
}

// pointsIn counts the points overlapping addr..addr+qty-1 of table.
func (u *ModbusUnit) pointsIn(table, addr, qty int) int {
	n := 0
	for i := range u.points {
		up := &u.points[i]
		lo := int(up.pt.Address)
		hi := lo + up.pt.Registers() - 1
		if up.table == table && lo <= addr+qty-1 && hi >= addr {
			n++
		}
	}
	return n
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
