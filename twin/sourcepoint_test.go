package twin

import (
	"testing"

	"github.com/ponte-city/ponte/wire"
)

func TestSourcePoint(t *testing.T) {
	cases := []struct {
		category, attr, point string
		ok                    bool
	}{
		{"energy", "power", "total_power", true},
		{"energy", "energy", "import_energy", true},
		{"weather", "relativeHumidity", "humidity", true},
		{"weather", "windSpeed", "wind_speed", true},
		{"air", "atmosphericPressure", "pressure", true},
		{"parking", "occupancy", "occupied", true},
		{"traffic", "intensity", "", false}, // summed over lanes: no one series
		{"air", "no2", "", false},           // keeps its name
		{"energy", "windSpeed", "", false},
	}
	for _, c := range cases {
		p, ok := SourcePoint(wire.Category(c.category), c.attr)
		if p != c.point || ok != c.ok {
			t.Errorf("SourcePoint(%s, %s) = %q, %v; want %q, %v", c.category, c.attr, p, ok, c.point, c.ok)
		}
	}
}
