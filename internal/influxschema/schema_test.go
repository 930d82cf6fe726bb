package influxschema_test

import (
	"fmt"
	"testing"

	"github.com/ponte-city/ponte/internal/influxschema"
	"github.com/ponte-city/ponte/wire"
)

func TestMeasurement(t *testing.T) {
	tests := []struct {
		c        wire.Category
		fallback string
		want     string
	}{
		{wire.CategoryAir, "ponte", "air"},
		{wire.CategoryTraffic, "other", "traffic"},
		{"custom", "ponte", "custom"},
		{"", "other", "other"},
		{"", "", influxschema.DefaultMeasurement},
	}
	for _, tt := range tests {
		if got := influxschema.Measurement(tt.c, tt.fallback); got != tt.want {
			t.Errorf("Measurement(%q, %q) = %q, want %q", tt.c, tt.fallback, got, tt.want)
		}
	}
}

func TestFields(t *testing.T) {
	if got := influxschema.ValueField("voltage"); got != "voltage" {
		t.Errorf("ValueField = %q", got)
	}
	if got := influxschema.QualityField("voltage"); got != "voltage_quality" {
		t.Errorf("QualityField = %q", got)
	}
}

func ExampleMeasurement() {
	fmt.Println(influxschema.Measurement(wire.CategoryEnergy, ""))
	fmt.Println(influxschema.Measurement("", ""))
	fmt.Println(influxschema.Measurement("", "city"))
	// Output:
	// energy
	// ponte
	// city
}
