package serial

import (
	"bytes"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/internal/testenv"
	"github.com/ponte-city/ponte/wire"
)

// Integration tests: the source reads one end of a real pty pair (socat,
// a null-modem cable) through tarm/serial; the test plays the device on the
// other end.

// vehicleStream returns n per-vehicle lines with line noise, a garbled line
// every 11 vehicles, and the readings they must produce.
func vehicleStream(rng *rand.Rand, n int) (stream []byte, want []wire.Reading, garbled int) {
	classes := []string{"CAR", "HGV", "MC", "BUS", "VAN"}
	for i := range n {
		lane := 1 + rng.IntN(3)
		speed := float64(200+rng.IntN(1100)) / 10
		length := float64(15+rng.IntN(170)) / 10
		class := classes[rng.IntN(len(classes))]
		if i%7 == 3 {
			stream = append(stream, 0x00, 0xff, 0x13) // line noise between frames
		}
		if i%11 == 5 {
			stream = append(stream, "V;2024-05-14T08:00:00.000;1;5\x007.0;4.2;CAR\n"...) // corrupted in flight
			garbled++
		}
		stream = fmt.Appendf(stream, "V;2024-05-14T08:%02d:%02d.%03d;%d;%.1f;%.1f;%s\n", i/60, i%60, i, lane, speed, length, class)
		want = append(want,
			wire.Reading{Point: "vehicle_lane", Value: wire.Int(int64(lane))},
			wire.Reading{Point: "vehicle_speed", Value: wire.Float(speed), Unit: "km/h"},
			wire.Reading{Point: "vehicle_length", Value: wire.Float(length), Unit: "m"},
			wire.Reading{Point: "vehicle_class", Value: wire.String(class)},
		)
	}
	return stream, want, garbled
}

func TestFreeRunningOverPty(t *testing.T) {
	a, b := testenv.PtyPair(t)
	peer := openPeer(t, a)
	m := source.NewMetrics(prometheus.NewRegistry())
	out := &sink{}
	s := startSource(t, Config{
		Devices: []source.Device{{Name: "counter1", Profile: vehicleProfile(), Address: "serial://" + b + "?baud=9600", Interval: time.Minute}},
		Metrics: m,
	}, out)
	dev := s.devices[0]
	testenv.Eventually(t, 5*time.Second, "the port to be open and read", func() bool { return dev.eofs.Load() > 0 })

	rng := rand.New(rand.NewPCG(7, 8))
	stream, want, garbled := vehicleStream(rng, 80)
	start := time.Now()
	var eofsBefore int64
	for chunk := 0; len(stream) > 0; chunk++ {
		n := min(len(stream), 1+rng.IntN(40))
		if _, err := peer.Write(stream[:n]); err != nil {
			t.Fatal(err)
		}
		stream = stream[n:]
		if chunk == 0 {
			eofsBefore = dev.eofs.Load()
		}
		if chunk%20 == 10 {
			// Longer than the read timeout, usually in the middle of a
			// frame: the source's read returns io.EOF with half a frame held.
			time.Sleep(250 * time.Millisecond)
		}
	}
	testenv.Eventually(t, 10*time.Second, fmt.Sprintf("%d readings", len(want)), func() bool { return len(out.all()) >= len(want) })
	end := time.Now()
	if dev.eofs.Load() <= eofsBefore {
		t.Errorf("no read-timeout io.EOF happened while frames were arriving; the test did not exercise it")
	}
	got := out.all()
	if len(got) != len(want) {
		t.Fatalf("got %d readings, want %d", len(got), len(want))
	}
	var last time.Time
	for i, w := range want {
		g := got[i]
		if g.Device != "counter1" || g.Point != w.Point || g.Value != w.Value || g.Unit != w.Unit || g.Quality != wire.QualityGood {
			t.Fatalf("reading %d: got %s %s=%s %q %s (%s), want counter1 %s=%s %q good", i, g.Device, g.Point, g.Value, g.Unit, g.Quality, g.Reason, w.Point, w.Value, w.Unit)
		}
		if g.Time.Before(start) || g.Time.After(end) || g.Time.Before(last) {
			t.Errorf("reading %d: time %v not within the write window and after %v", i, g.Time, last)
		}
		last = g.Time
	}
	if f := value(t, m.Errors.WithLabelValues("counter1", "framing")); int(f) != garbled {
		t.Errorf("framing errors counted %v, want %d (one per garbled line)", f, garbled)
	}
	if v := value(t, m.Readings.WithLabelValues("counter1", "good")); int(v) != len(want) {
		t.Errorf("good readings counted %v, want %d", v, len(want))
	}
	if up := value(t, m.Success.WithLabelValues("counter1")); up != 1 {
		t.Errorf("up = %v, want 1", up)
	}
}

// intervalReply is the loop counter's reply to poll n: one sum8 record
// per lane, intensity n*10+lane.
func intervalReply(n int64) []byte {
	var b bytes.Buffer
	for lane := int64(1); lane <= 3; lane++ {
		data := fmt.Sprintf("I,060,%d,%d,%.1f,%.1f,", lane, n*10+lane, 40+float64(lane), 10+float64(lane))
		var sum byte
		for i := 0; i < len(data); i++ {
			sum += data[i]
		}
		fmt.Fprintf(&b, "%s%02X\r\n", data, sum)
	}
	return b.Bytes()
}

// responder plays the counter: it answers each "R\r\n" while answer is
// set, splitting the reply in two writes.
func responder(peer *os.File, answer *atomic.Bool, polls *atomic.Int64) {
	buf := make([]byte, 256)
	var pending []byte
	for {
		n, err := peer.Read(buf)
		if err != nil {
			return
		}
		pending = append(pending, buf[:n]...)
		for {
			i := bytes.Index(pending, []byte("R\r\n"))
			if i < 0 {
				break
			}
			pending = pending[i+3:]
			p := polls.Add(1)
			if !answer.Load() {
				continue
			}
			reply := intervalReply(p)
			cut := len(reply) / 3
			peer.Write(reply[:cut])
			time.Sleep(15 * time.Millisecond)
			peer.Write(reply[cut:])
		}
	}
}

func TestRequestResponseOverPty(t *testing.T) {
	a, b := testenv.PtyPair(t)
	peer := openPeer(t, a)
	var answer atomic.Bool
	var polls atomic.Int64
	answer.Store(true)
	go responder(peer, &answer, &polls)

	m := source.NewMetrics(prometheus.NewRegistry())
	logs := newLogRecorder()
	out := &sink{}
	startSource(t, Config{
		Devices: []source.Device{{Name: "loop7", Profile: intervalProfile(), Address: "serial://" + b, Interval: 150 * time.Millisecond}},
		Metrics: m, Logger: slog.New(logs),
	}, out)

	count := func(q wire.Quality, from int) int {
		n := 0
		for _, r := range out.all()[from:] {
			if r.Quality == q {
				n++
			}
		}
		return n
	}
	testenv.Eventually(t, 10*time.Second, "two answered polls", func() bool { return count(wire.QualityGood, 0) >= 6 })

	// The device stops answering.
	answer.Store(false)
	mark := len(out.all())
	timeouts := m.Errors.WithLabelValues("loop7", "timeout")
	testenv.Eventually(t, 10*time.Second, "two timed-out polls", func() bool { return value(t, timeouts) >= 2 })
	if up := value(t, m.Success.WithLabelValues("loop7")); up != 0 {
		t.Errorf("up = %v while the device is silent, want 0", up)
	}
	if n := logs.count("serial device failing"); n != 1 {
		t.Errorf("failure logged %d times over several timeouts, want once", n)
	}

	// It answers again.
	answer.Store(true)
	testenv.Eventually(t, 10*time.Second, "an answered poll after the outage", func() bool {
		rs := out.all()
		for i := mark; i < len(rs); i++ {
			if rs[i].Quality == wire.QualityBadComm {
				return count(wire.QualityGood, i) >= 9
			}
		}
		return false
	})
	testenv.Eventually(t, 5*time.Second, "recovery logged", func() bool { return logs.count("serial device recovered") == 1 })

	// Check the whole sequence: good polls, then bad_comm for every point
	// the device is known to have, then good polls again; intensities
	// follow the responder's poll numbers in order.
	allPoints := map[string]bool{}
	for lane := 1; lane <= 3; lane++ {
		for _, p := range []string{"intensity", "speed", "occupancy"} {
			allPoints[fmt.Sprintf("lane%d_%s", lane, p)] = true
		}
	}
	phase := 0 // 0 good, 1 bad, 2 good again
	var lastPoll int64
	badBatch := map[string]bool{}
	for i, r := range out.all() {
		switch r.Quality {
		case wire.QualityGood:
			if phase == 1 {
				phase = 2
			}
			if strings.HasSuffix(r.Point, "_intensity") {
				lane, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.Point, "lane"), "_intensity"))
				if r.Value.Kind != wire.KindInt || r.Value.I%10 != int64(lane) || r.Value.I/10 < lastPoll {
					t.Fatalf("reading %d: %s = %s does not follow poll %d", i, r.Point, r.Value, lastPoll)
				}
				lastPoll = r.Value.I / 10
			}
		case wire.QualityBadComm:
			if phase == 2 {
				t.Fatalf("reading %d: bad_comm after recovery", i)
			}
			phase = 1
			badBatch[r.Point] = true
			if !strings.Contains(r.Reason, "no reply") {
				t.Errorf("bad_comm reason %q, want it to say no reply", r.Reason)
			}
		default:
			t.Fatalf("reading %d: unexpected %s %s (%s)", i, r.Point, r.Quality, r.Reason)
		}
	}
	if phase != 2 {
		t.Errorf("sequence ended in phase %d, want good, bad_comm, good", phase)
	}
	if fmt.Sprint(badBatch) != fmt.Sprint(allPoints) {
		t.Errorf("bad_comm points %v, want every known point %v", badBatch, allPoints)
	}
	if up := value(t, m.Success.WithLabelValues("loop7")); up != 1 {
		t.Errorf("up = %v after recovery, want 1", up)
	}
}

func TestPortMissingThenAppears(t *testing.T) {
	a, b := testenv.PtyPair(t)
	link := filepath.Join(t.TempDir(), "ttyCounter")
	m := source.NewMetrics(prometheus.NewRegistry())
	logs := newLogRecorder()
	out := &sink{}
	startSource(t, Config{
		Devices:     []source.Device{{Name: "counter2", Profile: vehicleProfile(), Address: "serial://" + link, Interval: time.Minute}},
		Metrics:     m,
		Logger:      slog.New(logs),
		BackoffBase: 20 * time.Millisecond, BackoffMax: 80 * time.Millisecond,
	}, out)
	comm := m.Errors.WithLabelValues("counter2", "comm")
	testenv.Eventually(t, 10*time.Second, "three failed opens", func() bool { return value(t, comm) >= 3 })
	if n := logs.count("serial device failing"); n != 1 {
		t.Errorf("open failure logged %d times, want once", n)
	}
	bad := out.all()
	if len(bad) == 0 {
		t.Fatal("no bad_comm readings for a port that does not open")
	}
	for _, r := range bad {
		if r.Quality != wire.QualityBadComm || !strings.Contains(r.Reason, link) {
			t.Fatalf("got %s %s %q, want bad_comm naming the port", r.Point, r.Quality, r.Reason)
		}
	}

	// The adapter is plugged in.
	if err := os.Symlink(b, link); err != nil {
		t.Fatal(err)
	}
	peer := openPeer(t, a)
	stream, want, _ := vehicleStream(rand.New(rand.NewPCG(3, 4)), 5)
	mark := len(out.all())
	// Until the source has reopened the port, what the device says is
	// lost, as on a real line; keep talking until it is heard.
	testenv.Eventually(t, 10*time.Second, "good readings after the port appeared", func() bool {
		peer.Write(stream)
		return len(out.all()) > mark
	})
	if r := out.all()[mark]; r.Quality != wire.QualityGood || r.Point != want[0].Point {
		t.Errorf("first reading after recovery %s %s (%s), want good %s", r.Point, r.Quality, r.Reason, want[0].Point)
	}
	testenv.Eventually(t, 5*time.Second, "recovery logged", func() bool { return logs.count("serial device recovered") == 1 })
}

func TestFreeRunningSilence(t *testing.T) {
	a, b := testenv.PtyPair(t)
	peer := openPeer(t, a)
	m := source.NewMetrics(prometheus.NewRegistry())
	logs := newLogRecorder()
	out := &sink{}
	interval := 100 * time.Millisecond
	s := startSource(t, Config{
		Devices: []source.Device{{Name: "aq1", Profile: airProfile(), Address: "serial://" + b, Interval: interval}},
		Metrics: m, Logger: slog.New(logs),
	}, out)
	dev := s.devices[0]
	testenv.Eventually(t, 5*time.Second, "the port to be open", func() bool { return dev.eofs.Load() > 0 })
	line := []byte("AQ 2024-05-14 08:15 NO2=34.2 O3=61.0 PM10=22 PM25=13 FLT=0\r\n")
	testenv.Eventually(t, 5*time.Second, "a good reading", func() bool {
		if len(out.all()) > 0 {
			return true
		}
		peer.Write(line)
		return false
	})
	comm := m.Errors.WithLabelValues("aq1", "comm")
	testenv.Eventually(t, 5*time.Second, "silence reported", func() bool { return value(t, comm) == 1 })
	// Several more silence windows pass: still counted and logged once.
	eofs := dev.eofs.Load()
	testenv.Eventually(t, 5*time.Second, "more silent reads", func() bool { return dev.eofs.Load() >= eofs+SilenceIntervals*int64(interval/readTimeout)*2 })
	if c := value(t, comm); c != 1 {
		t.Errorf("silence counted %v times, want once", c)
	}
	if n := logs.count("serial device failing"); n != 1 {
		t.Errorf("silence logged %d times, want once", n)
	}
	var silent []wire.Reading
	for _, r := range out.all() {
		if r.Quality == wire.QualityBadComm {
			silent = append(silent, r)
		}
	}
	if len(silent) != 5 || !strings.Contains(silent[0].Reason, "silent") {
		t.Errorf("got %d bad_comm readings (%v), want one per point of the air station (5) saying silent", len(silent), silent)
	}
	mark := len(out.all())
	peer.Write(line)
	testenv.Eventually(t, 5*time.Second, "readings after silence", func() bool { return len(out.all()) >= mark+5 })
	if up := value(t, m.Success.WithLabelValues("aq1")); up != 1 {
		t.Errorf("up = %v after the device spoke again, want 1", up)
	}
	if n := logs.count("serial device recovered"); n != 1 {
		t.Errorf("recovery logged %d times, want once", n)
	}
}
