package profile

import (
	"testing"

	"github.com/ponte-city/ponte/wire"
)

// TestIdentifyMatch checks each kind of expectation against decoded values,
// and that the simulator's value (Expected) satisfies its own check.
func TestIdentifyMatch(t *testing.T) {
	src := []byte(`model: M
manufacturer: V
source: manual v1
category: energy
kind: modbus
modbus:
  points:
    - {name: v, table: input, address: 0, type: float32}
  identify:
    - {table: holding, address: 0xFC02, type: uint16, equals: 112, source: "manual 3.2"}
    - {table: input, address: 4, type: float32, range: {min: 1, max: 3}, source: "manual 3.3"}
    - {table: holding, address: 20, type: string, length: 4, pattern: "^AQT4[0-9]+$", example: AQT420, source: "manual 3.4"}
`)
	p, err := Parse("identify.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	ids := p.Modbus.Identify
	cases := []struct {
		check int
		v     wire.Value
		want  bool
	}{
		{0, wire.Int(112), true},
		{0, wire.Int(113), false},
		{0, wire.String("112"), false},
		{1, wire.Float(2.5), true},
		{1, wire.Float(3.5), false},
		{2, wire.String("AQT420"), true},
		{2, wire.String("AQT5"), false},
	}
	for _, c := range cases {
		if got := ids[c.check].Match(c.v); got != c.want {
			t.Errorf("check %d (%s) on %v: %v, want %v", c.check, ids[c.check].Want(), c.v, got, c.want)
		}
	}
	for i := range ids {
		if !ids[i].Match(ids[i].Expected()) {
			t.Errorf("check %d: its own expected value %v does not match", i, ids[i].Expected())
		}
	}
}
