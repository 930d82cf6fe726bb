package modbus

import (
	"fmt"
	"sort"

	"github.com/ponte-city/ponte/internal/profile"
)

// Protocol limits of one read (Modbus Application Protocol 1.1b3, 6.1-6.4).
const (
	maxReadRegisters = 125
	maxReadBits      = 2000
)

// Request is one read of a contiguous block of one table, and the points it
// carries.
type Request struct {
	Table profile.Table
	// Address is the first register (or bit) read.
	Address uint16
	// Count is how many registers (or bits) are read.
	Count int
	// Slots are the points in the block, by address.
	Slots []Slot
	// hex says the profile writes addresses in hex, so String does too.
	hex bool
}

// Slot places one point inside a Request.
type Slot struct {
	Point *profile.ModbusPoint
	// Offset is the point's distance from Request.Address in registers (or
	// bits).
	Offset int
}

// String formats the request as in error messages, in the notation its
// profile writes addresses in, so a technician finds the block in the
// file: "holding 100+4", or "input 0x0048+4" for a profile written in hex.
func (r *Request) String() string {
	if r.hex {
		return fmt.Sprintf("%s 0x%04X+%d", r.Table, r.Address, r.Count)
	}
	return fmt.Sprintf("%s %d+%d", r.Table, r.Address, r.Count)
}

// Raw returns the bytes of slot s out of data, the reply to r: 2 bytes per
// register, or for bit tables one byte holding the bit (0 or 1). ok is false
// if data is too short to hold the slot.
func (r *Request) Raw(data []byte, s Slot) (raw []byte, ok bool) {
	if r.Table.IsBit() {
		i := s.Offset / 8
		if i >= len(data) {
			return nil, false
		}
		return []byte{data[i] >> uint(s.Offset%8) & 1}, true
	}
	lo, hi := 2*s.Offset, 2*(s.Offset+s.Point.Registers())
	if hi > len(data) {
		return nil, false
	}
	return data[lo:hi], true
}

// ReplyLen is the number of data bytes a correct reply to r carries.
func (r *Request) ReplyLen() int {
	if r.Table.IsBit() {
		return (r.Count + 7) / 8
	}
	return 2 * r.Count
}

// Plan turns the points of a poll class into as few reads as the device
// allows; class "" plans every point. Points are grouped by table and
// sorted by address; a point joins the current request when the gap from
// the request's end is at most MaxGap and the request then spans at most
// MaxRegisters (MaxBits for bit tables); OneRequestPerPoint gives each point
// its own request. A point never spans two requests; points that overlap
// (bits of one register) share one. A point larger than the limit on its
// own still gets a request of its own size.
func Plan(m *profile.Modbus, class profile.PollClass) []Request {
	byTable := map[profile.Table][]*profile.ModbusPoint{}
	for i := range m.Points {
		p := &m.Points[i]
		if class != "" && pollClass(p) != class {
			continue
		}
		byTable[p.Table] = append(byTable[p.Table], p)
	}
	var out []Request
	for _, table := range []profile.Table{profile.TableCoil, profile.TableDiscrete, profile.TableInput, profile.TableHolding} {
		points := byTable[table]
		if len(points) == 0 {
			continue
		}
		sort.SliceStable(points, func(i, j int) bool { return points[i].Address < points[j].Address })
		limit := limitFor(m, table)
		cur := -1 // index in out of the request being grown
		end := 0  // one past the last register of out[cur]
		for _, p := range points {
			start, pend := int(p.Address), int(p.Address)+p.Registers()
			if cur >= 0 && !m.OneRequestPerPoint && start-end <= m.MaxGap && max(end, pend)-int(out[cur].Address) <= limit {
				r := &out[cur]
				r.Slots = append(r.Slots, Slot{Point: p, Offset: start - int(r.Address)})
				end = max(end, pend)
				r.Count = end - int(r.Address)
				continue
			}
			out = append(out, Request{Table: table, Address: p.Address, Count: pend - start, Slots: []Slot{{Point: p}}, hex: m.HexAddresses})
			cur, end = len(out)-1, pend
		}
	}
	return out
}

// pollClass returns the point's poll class, fast when unset.
func pollClass(p *profile.ModbusPoint) profile.PollClass {
	if p.Poll == "" {
		return profile.PollFast
	}
	return p.Poll
}

// limitFor returns the most registers (or bits) one read of table may span.
func limitFor(m *profile.Modbus, table profile.Table) int {
	if table.IsBit() {
		if m.MaxBits <= 0 || m.MaxBits > maxReadBits {
			return maxReadBits
		}
		return m.MaxBits
	}
	if m.MaxRegisters <= 0 || m.MaxRegisters > maxReadRegisters {
		return maxReadRegisters
	}
	return m.MaxRegisters
}

// plans shares requests between the devices of a Source: a plan depends
// only on the profile and the poll class, and is read-only once made, so
// devices of one model poll with one copy. A thousand devices of one
// model each holding its own were a quarter of the agent's live heap.
type plans map[planKey][]Request

type planKey struct {
	m     *profile.Modbus
	class profile.PollClass
}

// share replaces d's requests by those of an earlier device of the same
// profile, or records d's for the next.
func (p plans) share(d *device) {
	for _, j := range d.jobs {
		k := planKey{d.m, j.class}
		if reqs, ok := p[k]; ok {
			j.reqs = reqs
		} else {
			p[k] = j.reqs
		}
	}
}
