package twin_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// TestIntensityPerHour: the factor from a traffic site's lane counts to
// vehicles per hour follows the lanes' unit ("1/min": 60; a plain count
// per 30 s interval: 120), and is unknown before any lane reported.
func TestIntensityPerHour(t *testing.T) {
	tw, err := twin.New(twin.Config{Logger: slog.New(slog.DiscardHandler), Sites: []twin.Site{
		{Gateway: "gw", Device: "tc1", Category: wire.CategoryTraffic, Lon: 11.25, Lat: 43.77, Interval: time.Minute},
		{Gateway: "gw", Device: "tc2", Category: wire.CategoryTraffic, Lon: 11.25, Lat: 43.77, Interval: 30 * time.Second},
		{Gateway: "gw", Device: "tc3", Category: wire.CategoryTraffic, Lon: 11.25, Lat: 43.77, Interval: time.Minute},
	}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	tw.Apply("gw", 1, &wire.Batch{Gateway: "gw", Epoch: 1, Seqs: []uint64{1, 2}, Readings: []wire.Reading{
		{Device: "tc1", Point: "lane1_intensity", Value: wire.Float(12), Unit: "1/min", Time: now, Quality: wire.QualityGood},
		{Device: "tc2", Point: "lane1_intensity", Value: wire.Float(12), Unit: "1", Time: now, Quality: wire.QualityGood},
	}})
	id := map[string]string{}
	for _, e := range tw.Entities(twin.Filter{Types: []string{string(twin.KindSite)}}) {
		id[e.Device] = e.ID
	}
	for dev, want := range map[string]float64{"tc1": 60, "tc2": 120} {
		if f, ok := tw.IntensityPerHour(id[dev]); !ok || f != want {
			t.Errorf("%s: factor %v, %v; want %v", dev, f, ok, want)
		}
	}
	if f, ok := tw.IntensityPerHour(id["tc3"]); ok {
		t.Errorf("tc3 never reported a lane, got factor %v", f)
	}
	if _, ok := tw.IntensityPerHour("no-such-entity"); ok {
		t.Error("an unknown entity has a factor")
	}
}
