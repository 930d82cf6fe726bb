package mqtt

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/wire"
)

// The profiles below stand in for firmware-profiles/ until tests can load
// them; they match the fixtures in testdata/.

func fptr(f float64) *float64 { return &f }

func parkingProfile() *profile.Profile {
	return &profile.Profile{
		Model: "parking bay sensor", Kind: profile.KindMQTT, Category: wire.CategoryParking,
		MQTT: &profile.MQTT{
			Format: profile.FormatChirpStackV4,
			Fields: []profile.Field{
				{Name: "occupied", Path: "occupied", Type: profile.TypeBool},
				{Name: "battery", Path: "battery", Type: profile.TypeInt, Scaling: profile.Scaling{Scale: 0.001}, Unit: "V",
					Range: profile.Range{Min: fptr(2), Max: fptr(4)}},
				{Name: "temperature", Path: "temperature", Type: profile.TypeInt, Unit: "Cel"},
			},
		},
	}
}

func noiseProfile() *profile.Profile {
	return &profile.Profile{
		Model: "sound level meter", Kind: profile.KindMQTT, Category: wire.CategoryNoise,
		MQTT: &profile.MQTT{
			Format: profile.FormatChirpStackV4,
			Fields: []profile.Field{
				{Name: "laeq", Path: "LAeq", Type: profile.TypeFloat, Unit: "dB(A)", Range: profile.Range{Min: fptr(20), Max: fptr(140)}},
				{Name: "lamax", Path: "LAmax", Type: profile.TypeFloat, Unit: "dB(A)"},
				{Name: "la90", Path: "LA90", Type: profile.TypeFloat, Unit: "dB(A)"},
				{Name: "battery", Path: "battery", Type: profile.TypeInt, Unit: "%"},
				{Name: "alarm", Path: "alarm", Type: profile.TypeBool},
			},
		},
	}
}

func airProfile() *profile.Profile {
	return &profile.Profile{
		Model: "air quality node", Kind: profile.KindMQTT, Category: wire.CategoryAir,
		MQTT: &profile.MQTT{
			Format: profile.FormatTTSV3,
			Fields: []profile.Field{
				{Name: "pm2_5", Path: "pm2_5", Type: profile.TypeFloat, Unit: "ug/m3"},
				{Name: "pm10", Path: "pm10", Type: profile.TypeFloat, Unit: "ug/m3"},
				{Name: "no2", Path: "no2", Type: profile.TypeInt, Unit: "ug/m3"},
				{Name: "temperature", Path: "temperature", Type: profile.TypeFloat, Unit: "Cel"},
				{Name: "humidity", Path: "humidity", Type: profile.TypeFloat, Unit: "%"},
			},
		},
	}
}

func plainProfile() *profile.Profile {
	return &profile.Profile{
		Model: "plain json sound level meter", Kind: profile.KindMQTT, Category: wire.CategoryNoise,
		MQTT: &profile.MQTT{
			Format:   profile.FormatJSON,
			Topic:    "city/noise/+",
			DeviceID: "id",
			Time:     "ts",
			Fields: []profile.Field{
				{Name: "laeq", Path: "laeq", Type: profile.TypeFloat, Unit: "dB(A)"},
				{Name: "lamax", Path: "lamax", Type: profile.TypeFloat, Unit: "dB(A)"},
				{Name: "overload", Path: "overload", Type: profile.TypeBool},
				{Name: "firmware", Path: "fw", Type: profile.TypeString},
			},
		},
	}
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
