package influx_test

import (
	"fmt"
	"time"

	"github.com/ponte-city/ponte/ingest/influx"
	"github.com/ponte-city/ponte/wire"
)

// The lines a street-lighting cabinet's readings become: typed fields, a
// bad reading as a quality string, the acquisition time in nanoseconds.
func Example_mapping() {
	at := time.Date(2026, 5, 4, 12, 0, 0, 250_000_000, time.UTC)
	series := influx.SeriesFor("ponte", "gw-florence-12", "cab-7", "Firenze", "energy")
	readings := []wire.Reading{
		{Device: "cab-7", Point: "voltage_l1", Value: wire.Float(231.4), Unit: "V", Time: at},
		{Device: "cab-7", Point: "energy_import", Value: wire.Int(1234567), Unit: "Wh", Time: at},
		{Device: "cab-7", Point: "door_open", Value: wire.Bool(false), Time: at},
		{Device: "cab-7", Point: "current_l1", Time: at, Quality: wire.QualityBadDevice, Reason: "modbus exception 2: illegal data address"},
	}
	for _, r := range readings {
		line, _ := influx.AppendSeries(nil, series)
		line, _ = influx.AppendFields(line, &r)
		fmt.Print(string(line))
	}
	// Output:
	// energy,area=Firenze,device=cab-7,gateway=gw-florence-12,type=energy voltage_l1=231.4 1777896000250000000
	// energy,area=Firenze,device=cab-7,gateway=gw-florence-12,type=energy energy_import=1234567i 1777896000250000000
	// energy,area=Firenze,device=cab-7,gateway=gw-florence-12,type=energy door_open=false 1777896000250000000
	// energy,area=Firenze,device=cab-7,gateway=gw-florence-12,type=energy current_l1_quality="bad_device: modbus exception 2: illegal data address" 1777896000250000000
}
