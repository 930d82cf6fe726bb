package serial

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/sim"
	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/profile"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/internal/yamlconf"
	"github.com/ponte-city/ponte/wire"
)

// wxtOverPty serves the simulated WXT530 (the shipped profile) on one end
// of a socat pty pair and runs the source on the other, with PTU
// sentences every 40 ms; it waits until readings flow.
func wxtOverPty(t *testing.T) (*Source, *sim.LineDevice, *sink, *profile.Profile) {
	t.Helper()
	p, err := profile.Load(filepath.Join("..", "..", "..", "firmware-profiles", "vaisala-wxt530-nmea.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := testenv.PtyPair(t)
	dev, err := sim.NewLineDevice(p, 7)
	if err != nil {
		t.Fatal(err)
	}
	peer := openPeer(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dev.Serve(ctx, peer, 40*time.Millisecond) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("simulator: %v", err)
		}
	})
	out := &sink{}
	s := startSource(t, Config{Devices: []source.Device{{Name: "wxt", Profile: p, Address: "serial://" + b + "?baud=19200", Interval: time.Second}}}, out)
	testenv.Eventually(t, 10*time.Second, "PTU readings", func() bool { return count(out.all(), "temperature", time.Time{}, time.Time{}) >= 3 })
	return s, dev, out, p
}

// count returns how many good readings of point rs holds, taken within
// [from, to] when those are set.
func count(rs []wire.Reading, point string, from, to time.Time) int {
	n := 0
	for _, r := range rs {
		if r.Point == point && r.Quality == wire.QualityGood &&
			(from.IsZero() || !r.Time.Before(from)) && (to.IsZero() || !r.Time.After(to)) {
			n++
		}
	}
	return n
}

// TestWriteReadBackOverPty writes the WXT530's wind update interval over
// a pty to the simulator: the value is applied and read back, and the
// PTU readings keep flowing, intact, while the write holds the port.
func TestWriteReadBackOverPty(t *testing.T) {
	testenv.Integration(t, "socat")
	s, dev, out, p := wxtOverPty(t)
	wp, err := p.Writable("wind_update_interval")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{30, 1} {
		rules := *wp.Write
		rules.Settle = yamlconf.Duration(400 * time.Millisecond) // the line stays busy with the write a while
		start := time.Now()
		got, err := s.WritePoint(context.Background(), source.WriteRequest{Device: "wxt", Point: "wind_update_interval", Value: v, Rules: &rules})
		end := time.Now()
		if err != nil || got != v {
			t.Fatalf("WritePoint(%v) = %v, %v; want the value read back", v, got, err)
		}
		if held, _ := dev.Setting("wind_update_interval"); held != v {
			t.Fatalf("the device holds %v after writing %v", held, v)
		}
		if n := count(out.all(), "temperature", start, end); n == 0 {
			t.Fatalf("no temperature reading while the write of %v held the port", v)
		}
	}
	for _, r := range out.all() {
		if r.Quality != wire.QualityGood {
			t.Fatalf("reading %+v: a write corrupted or cut the data lines", r)
		}
	}
	// At 1 s the MWV wind sentences come through as readings.
	testenv.Eventually(t, 10*time.Second, "wind readings at the 1 s interval", func() bool {
		return count(out.all(), "wind_speed", time.Time{}, time.Time{}) >= 2
	})
}

// TestWriteTimeoutOverPty: a device that does not answer the read-back
// request fails the write with ErrTimeout, and the source carries on.
func TestWriteTimeoutOverPty(t *testing.T) {
	testenv.Integration(t, "socat")
	s, dev, out, _ := wxtOverPty(t)
	dev.SetFault(sim.FaultTimeout)
	_, err := s.WritePoint(context.Background(), source.WriteRequest{Device: "wxt", Point: "wind_update_interval", Value: 10})
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("WritePoint to a silent device: %v, want ErrTimeout", err)
	}
	if held, _ := dev.Setting("wind_update_interval"); held != 5 {
		t.Fatalf("silent device holds %v, want its factory 5", held)
	}
	dev.SetFault(sim.FaultNone)
	after := time.Now()
	testenv.Eventually(t, 10*time.Second, "readings again", func() bool { return count(out.all(), "temperature", after, time.Time{}) > 0 })
	if got, err := s.WritePoint(context.Background(), source.WriteRequest{Device: "wxt", Point: "wind_update_interval", Value: 10}); err != nil || got != 10 {
		t.Fatalf("WritePoint after the fault: %v, %v", got, err)
	}
}

// TestWriteRefusals: an unknown device, a point that is not a request,
// and a cancelled context are errors without touching the line.
func TestWriteRefusals(t *testing.T) {
	testenv.Integration(t, "socat")
	s, dev, _, _ := wxtOverPty(t)
	if _, err := s.WritePoint(context.Background(), source.WriteRequest{Device: "nope", Point: "wind_update_interval", Value: 1}); !errors.Is(err, source.ErrUnknownDevice) {
		t.Errorf("unknown device: %v", err)
	}
	if _, err := s.WritePoint(context.Background(), source.WriteRequest{Device: "wxt", Point: "temperature", Value: 1}); err == nil {
		t.Error("a read-only point was written")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WritePoint(ctx, source.WriteRequest{Device: "wxt", Point: "wind_update_interval", Value: 7}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	if held, _ := dev.Setting("wind_update_interval"); held != 5 {
		t.Errorf("device holds %v, want 5 untouched", held)
	}
}
