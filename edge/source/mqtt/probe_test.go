package mqtt

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

func TestProbe(t *testing.T) {
	broker := testenv.Mosquitto(t)
	const eui = "A84041000181C2E1"
	dev := source.Device{Name: "slm-03", Profile: noiseProfile(), Address: broker.URL, ID: eui}
	pub := publisher(t, broker.URL)
	other := uplink(t, "chirpstack_v4_noise.json", "0000000000000001", "", "")
	mine := uplink(t, "chirpstack_v4_noise.json", strings.ToLower(eui), "", `{"LAeq": 55.5, "LAmax": 70}`)
	// Retained: not the next message, must be skipped.
	publish(t, pub, "application/a/device/retained/event/up", mine, true)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type out struct {
		rs  []Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		rs, err := Probe(ctx, dev, testLogger(t))
		done <- out{rs, err}
	}()
	// Publish until the probe has subscribed and returned: the other
	// device's uplink first each time, so it is seen and skipped.
	var got out
	for got.rs == nil && got.err == nil {
		publish(t, pub, "application/a/device/x/event/up", other, false)
		publish(t, pub, "application/a/device/y/event/up", mine, false)
		select {
		case got = <-done:
		case <-time.After(200 * time.Millisecond):
		}
	}
	if got.err != nil {
		t.Fatal(got.err)
	}
	want := map[string]wire.Value{"laeq": wire.Float(55.5), "lamax": wire.Float(70)}
	var missing []string
	for _, r := range got.rs {
		if !bytes.Equal(r.Raw, mine) || r.Reading.Device != "slm-03" {
			t.Fatalf("result %+v: want the device's payload and name", r.Reading)
		}
		if w, ok := want[r.Reading.Point]; ok {
			if !r.Reading.Quality.Good() || !sameValue(r.Reading.Value, w) {
				t.Errorf("%s = %v (%s), want %v", r.Reading.Point, r.Reading.Value, r.Reading.Quality, w)
			}
			delete(want, r.Reading.Point)
		} else if strings.Contains(r.Reading.Reason, "absent") {
			missing = append(missing, r.Reading.Point)
		}
	}
	if len(want) != 0 || strings.Join(missing, ",") != "la90,battery,alarm" {
		t.Fatalf("not found %v; missing listed %v, want la90,battery,alarm", want, missing)
	}
}

func TestProbeErrors(t *testing.T) {
	broker := testenv.Mosquitto(t)
	cases := []struct {
		name string
		dev  source.Device
		want string
		is   error
	}{
		{"no message", source.Device{Name: "d", Profile: parkingProfile(), Address: broker.URL, ID: "1"}, "no message on", context.DeadlineExceeded},
		{"unreachable broker", source.Device{Name: "d", Profile: parkingProfile(), Address: "tcp://127.0.0.1:1", ID: "1"}, "connect to tcp://127.0.0.1:1", nil},
		{"bad address", source.Device{Name: "d", Profile: parkingProfile(), Address: "http://x", ID: "1"}, `scheme "http"`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			defer cancel()
			_, err := Probe(ctx, c.dev, nil)
			if err == nil || !strings.Contains(err.Error(), c.want) || (c.is != nil && !errors.Is(err, c.is)) {
				t.Fatalf("error %v, want it to contain %q (and wrap %v)", err, c.want, c.is)
			}
		})
	}
}
