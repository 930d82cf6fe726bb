package profile

import "github.com/ponte-city/ponte/internal/yamlconf"

// Table is one of the four Modbus data tables.
type Table string

// Modbus tables.
const (
	TableCoil     Table = "coil"     // read/write bits, FC 1 / 5 / 15
	TableDiscrete Table = "discrete" // read-only bits, FC 2
	TableInput    Table = "input"    // read-only registers, FC 4
	TableHolding  Table = "holding"  // read/write registers, FC 3 / 6 / 16
)

// IsBit reports whether the table holds bits rather than 16-bit registers.
func (t Table) IsBit() bool { return t == TableCoil || t == TableDiscrete }

// Order is the byte and word order of a multi-register value, named by where
// the bytes of the big-endian value ABCD land on the wire:
//
//	ABCD  big-endian words, big-endian bytes (Modbus standard)
//	CDAB  low word first, big-endian bytes ("word swap", common in meters)
//	BADC  big-endian words, bytes swapped within each word
//	DCBA  fully little-endian
//
// The 64-bit names (ABCDEFGH, GHEFCDAB, BADCFEHG, HGFEDCBA) are accepted as
// the same four orders.
type Order string

// Byte and word orders.
const (
	OrderABCD Order = "ABCD"
	OrderCDAB Order = "CDAB"
	OrderBADC Order = "BADC"
	OrderDCBA Order = "DCBA"
)

// Normalize maps the 64-bit order names onto the four 32-bit ones; it
// returns "" for an unknown name.
func (o Order) Normalize() Order {
	switch o {
	case OrderABCD, "ABCDEFGH":
		return OrderABCD
	case OrderCDAB, "GHEFCDAB":
		return OrderCDAB
	case OrderBADC, "BADCFEHG":
		return OrderBADC
	case OrderDCBA, "HGFEDCBA":
		return OrderDCBA
	}
	return ""
}

// SwapWords reports whether the order puts the low word first.
func (o Order) SwapWords() bool { o = o.Normalize(); return o == OrderCDAB || o == OrderDCBA }

// SwapBytes reports whether the order swaps the two bytes of each register.
func (o Order) SwapBytes() bool { o = o.Normalize(); return o == OrderBADC || o == OrderDCBA }

// PollClass groups points by how often they are read.
type PollClass string

// Poll classes: fast points are read every poll interval of the device
// instance, slow ones every slow interval (site config; by default 10x).
const (
	PollFast PollClass = "fast"
	PollSlow PollClass = "slow"
)

// Modbus is the register map of a Modbus device and its quirks.
type Modbus struct {
	// Order is the default byte and word order of multi-register values
	// (default ABCD).
	Order Order `yaml:"order"`
	// MaxRegisters is the most registers the device answers in one read
	// (default 125, the protocol limit).
	MaxRegisters int `yaml:"max_registers"`
	// MaxBits is the most coils or inputs in one read (default 2000).
	MaxBits int `yaml:"max_bits"`
	// MaxGap is the most unused registers (or bits) a coalesced request may
	// read across to join two points (default 0: only adjacent points are
	// joined). Some devices answer an exception for unmapped addresses, so
	// the default is safe rather than short.
	MaxGap int `yaml:"max_gap"`
	// Pause is the time to wait between two requests to this device, for
	// controllers that drop requests arriving back to back.
	Pause yamlconf.Duration `yaml:"pause"`
	// OneRequestPerPoint disables coalescing for devices that refuse reads
	// spanning several points.
	OneRequestPerPoint bool `yaml:"one_request_per_point"`
	// Points is the register map.
	Points []ModbusPoint `yaml:"points"`
	// Identify lists the registers that together identify the model
	// (IdentifyCheck); empty when the vendor's document gives none.
	Identify []IdentifyCheck `yaml:"identify"`
	// HexAddresses says the file writes register addresses in hex
	// (address: 0x0048), as vendors' tables do; messages naming a block
	// then use hex too. Set by Parse; not part of the YAML.
	HexAddresses bool `yaml:"-"`
}

// ModbusPoint is one value in the register map.
type ModbusPoint struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Table       Table  `yaml:"table"`
	// Address is the 0-based register (or coil/input) address.
	Address uint16 `yaml:"address"`
	Type    Type   `yaml:"type"`
	// Order overrides the profile's default byte/word order.
	Order Order `yaml:"order"`
	// Bit is the bit (0 = least significant) of a register for bool and
	// bitfield points.
	Bit int `yaml:"bit"`
	// Bits is the width of a bitfield.
	Bits int `yaml:"bits"`
	// Length is the number of registers of a string point.
	Length int `yaml:"length"`
	// Scaling converts the raw value into Unit.
	Scaling `yaml:",inline"`
	Unit    string `yaml:"unit"`
	// Poll is the poll class (default fast).
	Poll PollClass `yaml:"poll"`
	// Write, when set, lets operators write the point with a command
	// (coil and holding points only); reading is unaffected.
	Write *Write `yaml:"write"`
	// Writable is the old flag, refused: Write replaced it.
	Writable bool `yaml:"writable"`
	// Range, when set, bounds plausible values.
	Range Range `yaml:"range"`
	// Sim guides the simulator.
	Sim *Sim `yaml:"sim,omitempty"`
}

// Registers returns how many registers (or bits, for bit tables) the point
// occupies.
func (p *ModbusPoint) Registers() int {
	if p.Table.IsBit() {
		return 1
	}
	return p.Type.Registers(p.Length)
}

// EffectiveOrder returns the point's order, falling back to the profile's
// default and then to ABCD, normalized.
func (m *Modbus) EffectiveOrder(p *ModbusPoint) Order {
	if p.Order != "" {
		return p.Order.Normalize()
	}
	if m.Order != "" {
		return m.Order.Normalize()
	}
	return OrderABCD
}
