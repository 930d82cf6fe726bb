package agent

import "testing"

func TestMemoryLimit(t *testing.T) {
	for _, c := range []struct {
		devices int
		want    int64
	}{
		{0, 16 << 20},
		{100, 16 << 20},
		{1000, 8<<20 + 1000*12<<10},
		{10000, 8<<20 + 10000*12<<10},
	} {
		if got := MemoryLimit(c.devices); got != c.want {
			t.Errorf("MemoryLimit(%d) = %d, want %d", c.devices, got, c.want)
		}
	}
}
