package agent

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/wire"
)

// Device states in Status.
const (
	StateOK      = "ok"      // the device's latest readings included a good one
	StateFailing = "failing" // its latest readings were all bad
	StateUnknown = "unknown" // nothing read from it yet
	// StateRefused (refused.go): read, but ingest refuses its readings.
)

// recorder is the emitter every source calls: it encodes readings into
// buffer records, appends them (Append never blocks on the disk), and
// keeps each device's state for /status. It is safe for concurrent use;
// appends are serialized, which keeps the buffer's order the order the
// sources handed readings on.
type recorder struct {
	buf *buffer.Buffer
	log *slog.Logger
	m   *metrics

	mu      sync.Mutex
	arena   []byte
	ends    []int
	recs    [][]byte
	last    buffer.Commit
	pending bool // last is an Append not yet known durable
	failing bool // the last Append failed (logged once per change)
	devs    map[string]*deviceState
}

// deviceState is what the agent knows of one device from its readings.
type deviceState struct {
	good, bad  uint64
	lastGood   time.Time
	lastRead   time.Time
	state      string
	lastReason string
	// lastSeq is the buffer sequence number of its latest reading.
	lastSeq uint64
	refused refusal
}

func newRecorder(buf *buffer.Buffer, log *slog.Logger, m *metrics) *recorder {
	return &recorder{buf: buf, log: log, m: m, devs: map[string]*deviceState{}}
}

// setDevices sets the devices tracked: state is kept for names that stay,
// new names start unknown, others are forgotten.
func (r *recorder) setDevices(names []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	devs := make(map[string]*deviceState, len(names))
	for _, n := range names {
		if d := r.devs[n]; d != nil {
			devs[n] = d
		} else {
			devs[n] = &deviceState{state: StateUnknown}
		}
	}
	r.devs = devs
}

// emit is the source.Emitter. It returns the buffer's Commit for the
// append, or a resolved Commit carrying the append's error (the buffer
// closed, a record too large), so that a source acknowledges its device
// only once the readings are on disk.
func (r *recorder) emit(rs []wire.Reading) source.Commit {
	if len(rs) == 0 {
		return source.Resolved(nil)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.arena = r.arena[:0]
	r.ends = r.ends[:0]
	for i := range rs {
		bound(&rs[i])
		r.arena = wire.AppendRecord(r.arena, &rs[i])
		r.ends = append(r.ends, len(r.arena))
	}
	r.recs = r.recs[:0]
	start := 0
	for _, e := range r.ends {
		r.recs = append(r.recs, r.arena[start:e:e])
		start = e
	}
	c, err := r.buf.Append(r.recs)
	if err != nil {
		r.m.appendErrors.Add(float64(len(rs)))
		if !r.failing {
			r.log.Error("readings not buffered", "readings", len(rs), "err", err)
			r.failing = true
		}
	} else {
		if r.failing {
			r.log.Info("readings buffered again")
			r.failing = false
		}
		r.last, r.pending = c, true
	}
	var first uint64 // the readings' sequence numbers, from first on
	if err == nil {
		first = c.First
	}
	r.track(rs, first)
	if err != nil {
		return source.Resolved(fmt.Errorf("buffer %d readings: %w", len(rs), err))
	}
	return c
}

// MaxText bounds a reading's string value and reason. A device (or an MQTT
// payload) sending megabytes in one field would otherwise make a record the
// buffer refuses, losing the whole poll with it, or one no batch can carry.
const MaxText = 4096

// bound replaces a string value over MaxText by a bad reading saying so,
// and cuts a reason over MaxText, so that the rest of the poll is kept.
func bound(rd *wire.Reading) {
	if rd.Value.Kind == wire.KindString && len(rd.Value.S) > MaxText {
		n := len(rd.Value.S)
		rd.Value = wire.Value{}
		rd.Quality = wire.QualityBadDecode
		rd.Reason = fmt.Sprintf("string value of %d bytes, over the %d-byte limit", n, MaxText)
	}
	if len(rd.Reason) > MaxText {
		rd.Reason = strings.ToValidUTF8(rd.Reason[:MaxText], "") + "..."
	}
}

// track updates the state of the devices in rs, whose sequence numbers
// in the buffer run from first (0: not buffered).
func (r *recorder) track(rs []wire.Reading, first uint64) {
	type seen struct {
		good     bool
		lastGood time.Time
		last     time.Time
		reason   string
	}
	// A poll is one device almost always; a small slice beats a map.
	var byDev []struct {
		name string
		s    seen
	}
	for i := range rs {
		rd := &rs[i]
		k := -1
		for j := range byDev {
			if byDev[j].name == rd.Device {
				k = j
				break
			}
		}
		if k < 0 {
			byDev = append(byDev, struct {
				name string
				s    seen
			}{name: rd.Device})
			k = len(byDev) - 1
		}
		s := &byDev[k].s
		if rd.Time.After(s.last) {
			s.last = rd.Time
		}
		d := r.devs[rd.Device]
		if d != nil && first != 0 {
			d.appended(first + uint64(i))
		}
		if rd.Quality.Good() {
			s.good = true
			if rd.Time.After(s.lastGood) {
				s.lastGood = rd.Time
			}
			if d != nil {
				d.good++
			}
			continue
		}
		if s.reason == "" {
			s.reason = rd.Quality.String() + ": " + rd.Reason
		}
		if d != nil {
			d.bad++
		}
	}
	for _, e := range byDev {
		d := r.devs[e.name]
		if d == nil {
			continue // a device removed by a reload, its source still stopping
		}
		if e.s.last.After(d.lastRead) {
			d.lastRead = e.s.last
		}
		if e.s.good {
			d.state = StateOK
			if e.s.lastGood.After(d.lastGood) {
				d.lastGood = e.s.lastGood
			}
		} else {
			d.state = StateFailing
			d.lastReason = e.s.reason
		}
	}
}

// wait blocks until the last append is durable, or ctx ends.
func (r *recorder) wait(ctx context.Context) error {
	r.mu.Lock()
	c, pending := r.last, r.pending
	r.mu.Unlock()
	if !pending {
		return nil
	}
	return c.Wait(ctx)
}

// states returns a copy of every tracked device's state.
func (r *recorder) states() map[string]deviceState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]deviceState, len(r.devs))
	for n, d := range r.devs {
		out[n] = *d
	}
	return out
}
