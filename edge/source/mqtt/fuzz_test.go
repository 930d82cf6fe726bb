package mqtt

import (
	"errors"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// FuzzMap feeds arbitrary payloads to every fixture profile. Map must not
// panic, must fail only with its sentinels, and must account for every
// field: a reading or a missing entry, each good reading finite, each bad
// one explained.
func FuzzMap(f *testing.F) {
	for _, name := range []string{"chirpstack_v4_parking.json", "chirpstack_v4_noise.json", "tts_v3_air.json", "plain_noise.json"} {
		f.Add(fixture(f, name))
	}
	f.Add([]byte(`{"deviceInfo":{"devEui":"x"},"data":"AA==","object":{"occupied":1e999,"battery":"-0x10","temperature":[]}}`))
	f.Add([]byte(`{"id":"a","ts":-1,"laeq":"NaN","overload":"t"}`))
	profiles := []*profile.Profile{parkingProfile(), noiseProfile(), airProfile(), plainProfile()}
	received := time.Date(2024, 5, 14, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, payload []byte) {
		for _, p := range profiles {
			m, err := Map(p.MQTT, "fuzz/topic", payload, received)
			if err != nil {
				if !errors.Is(err, ErrNotJSON) && !errors.Is(err, ErrNoDeviceID) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				continue
			}
			if m.Time.IsZero() {
				t.Fatal("zero time")
			}
			if m.Empty {
				continue
			}
			if len(m.Readings)+len(m.Missing) != len(p.MQTT.Fields) {
				t.Fatalf("%d readings + %d missing for %d fields", len(m.Readings), len(m.Missing), len(p.MQTT.Fields))
			}
			for _, r := range m.Readings {
				if r.Quality == wire.QualityGood {
					if x, ok := r.Value.AsFloat(); !ok && r.Value.Kind != wire.KindString {
						t.Fatalf("good reading %s has non-finite value %v", r.Point, x)
					}
					if r.Reason != "" {
						t.Fatalf("good reading %s has a reason %q", r.Point, r.Reason)
					}
				} else if r.Reason == "" {
					t.Fatalf("bad reading %s without a reason", r.Point)
				}
			}
		}
	})
}
