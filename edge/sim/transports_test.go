package sim

import (
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/profile"
)

// TestTransportNeedsItsKind: each transport flag refuses a profile of
// another kind, naming the flag, the kind it needs and the profile's.
func TestTransportNeedsItsKind(t *testing.T) {
	const dir = "../../firmware-profiles/"
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"modbus flags, serial profile", Options{Profile: dir + "vaisala-wxt530-nmea.yaml", ModbusTCP: "127.0.0.1:0", Units: []uint8{1}},
			"--modbus-tcp/--modbus-rtu needs a modbus profile, but " + dir + "vaisala-wxt530-nmea.yaml is kind serial"},
		{"serial flag, modbus profile", Options{Profile: dir + "eastron-sdm630-v2.yaml", Serial: "/dev/null"},
			"--serial needs a serial profile, but " + dir + "eastron-sdm630-v2.yaml is kind modbus"},
		{"mqtt flag, modbus profile", Options{Profile: dir + "eastron-sdm630-v2.yaml", MQTT: "tcp://127.0.0.1:1883"},
			"--mqtt needs a mqtt profile, but " + dir + "eastron-sdm630-v2.yaml is kind modbus"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := profile.Load(tc.o.Profile)
			if err != nil {
				t.Fatal(err)
			}
			_, err = buildDevices(p, tc.o, NewClock(1, nil))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %v, want %s", err, tc.want)
			}
		})
	}
	// The kind that fits builds.
	p, err := profile.Load(dir + "eastron-sdm630-v2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ctrl, err := buildDevices(p, Options{Profile: dir + "eastron-sdm630-v2.yaml", ModbusTCP: "127.0.0.1:0", Units: []uint8{1, 2}, Interval: time.Second}, NewClock(1, nil))
	if err != nil || len(ctrl.Units) != 2 {
		t.Fatalf("modbus profile on --modbus-tcp: %v", err)
	}
}
