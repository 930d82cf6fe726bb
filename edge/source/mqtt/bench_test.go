package mqtt

import (
	"testing"
	"time"
)

// BenchmarkMap maps ChirpStack v4 uplinks (the parking and noise fixtures in
// turn) and reports readings mapped per second.
func BenchmarkMap(b *testing.B) {
	payloads := [][]byte{fixture(b, "chirpstack_v4_parking.json"), fixture(b, "chirpstack_v4_noise.json")}
	parking, noise := parkingProfile().MQTT, noiseProfile().MQTT
	received := time.Date(2024, 5, 14, 8, 0, 0, 0, time.UTC)
	var readings, bytes int
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		p, payload := parking, payloads[0]
		if i%2 == 1 {
			p, payload = noise, payloads[1]
		}
		m, err := Map(p, "application/x/device/y/event/up", payload, received)
		if err != nil {
			b.Fatal(err)
		}
		readings += len(m.Readings)
		bytes += len(payload)
	}
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(readings)/s, "readings/s")
		b.ReportMetric(float64(bytes)/s/1e6, "MB/s")
	}
}
