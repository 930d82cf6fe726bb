package wire

import "testing"

// TestCategoryTypes: every category has its own FIWARE type, and an
// unknown one is a plain Device.
func TestCategoryTypes(t *testing.T) {
	seen := map[string]Category{}
	for _, c := range Categories() {
		if !c.Valid() {
			t.Errorf("%q: not Valid", c)
		}
		typ := c.FIWAREType()
		if typ == "Device" || typ == "" {
			t.Errorf("%q: FIWARE type %q", c, typ)
		}
		if other, dup := seen[typ]; dup {
			t.Errorf("%q and %q share FIWARE type %q", c, other, typ)
		}
		seen[typ] = c
	}
	if got := CategoryTraffic.FIWAREType(); got != "TrafficFlowObserved" {
		t.Errorf("traffic: %q, want TrafficFlowObserved", got)
	}
	if Category("lava").Valid() || Category("lava").FIWAREType() != "Device" {
		t.Errorf("unknown category: Valid or typed")
	}
}
