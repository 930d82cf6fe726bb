package agent

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ponte-city/ponte/edge/source"
	"github.com/ponte-city/ponte/wire"
)

// The live readings (GET /readings, ponte-ctl tail): every reading the
// sources hand on, as newline-delimited JSON, while a technician watches.
// A watcher costs the sources nothing when there is none (one atomic
// load) and never slows them: each has a bounded queue, and what does not
// fit is dropped from the view (never from the buffer) and said so.
const (
	// MaxTails bounds the watchers at once; more get 503.
	MaxTails = 4
	// tailQueue is a watcher's queue, in readings.
	tailQueue = 4096
)

// TailLine is one line of GET /readings: a reading, or (Dropped > 0) how
// many readings did not fit the watcher's queue since the last line.
type TailLine struct {
	Time    time.Time `json:"time,omitzero"`
	Device  string    `json:"device,omitempty"`
	Point   string    `json:"point,omitempty"`
	Value   any       `json:"value,omitempty"`
	Unit    string    `json:"unit,omitempty"`
	Quality string    `json:"quality,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Dropped uint64    `json:"dropped,omitempty"`
}

// tailHub hands readings to the watchers.
type tailHub struct {
	n    atomic.Int32
	mu   sync.Mutex
	subs map[*tailSub]struct{}
	// done is closed when the local API shuts down: the streams end.
	done     chan struct{}
	doneOnce sync.Once
}

func newTailHub() *tailHub { return &tailHub{done: make(chan struct{})} }

func (h *tailHub) close() { h.doneOnce.Do(func() { close(h.done) }) }

// emit is the emitter the sources call: the recorder's, and the live view.
func (a *Agent) emit(rs []wire.Reading) source.Commit {
	c := a.rec.emit(rs)
	a.tails.publish(rs)
	return c
}

// tailSub is one watcher: its filters and its queue.
type tailSub struct {
	devices, points map[string]bool // nil: all
	ch              chan wire.Reading
	dropped         atomic.Uint64
}

func (s *tailSub) wants(r *wire.Reading) bool {
	return (s.devices == nil || s.devices[r.Device]) && (s.points == nil || s.points[r.Point])
}

// publish offers rs to every watcher; it never blocks.
func (h *tailHub) publish(rs []wire.Reading) {
	if h.n.Load() == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		for i := range rs {
			if !s.wants(&rs[i]) {
				continue
			}
			select {
			case s.ch <- rs[i]:
			default:
				s.dropped.Add(1)
			}
		}
	}
}

// subscribe adds a watcher, or returns nil when MaxTails watch already.
func (h *tailHub) subscribe(devices, points []string) *tailSub {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) >= MaxTails {
		return nil
	}
	if h.subs == nil {
		h.subs = map[*tailSub]struct{}{}
	}
	s := &tailSub{devices: set(devices), points: set(points), ch: make(chan wire.Reading, tailQueue)}
	h.subs[s] = struct{}{}
	h.n.Store(int32(len(h.subs)))
	return s
}

func (h *tailHub) unsubscribe(s *tailSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.subs, s)
	h.n.Store(int32(len(h.subs)))
}

// set makes a filter from comma-separated or repeated values (nil: all).
func set(values []string) map[string]bool {
	var m map[string]bool
	for _, v := range values {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				if m == nil {
					m = map[string]bool{}
				}
				m[x] = true
			}
		}
	}
	return m
}

// serveReadings streams the readings of ?device= and ?point= (repeated or
// comma-separated; none: all) until the client goes or the agent stops.
func (a *Agent) serveReadings(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	s := a.tails.subscribe(q["device"], q["point"])
	if s == nil {
		http.Error(w, "too many watchers (at most 4 at once): close another ponte-ctl tail", http.StatusServiceUnavailable)
		return
	}
	defer a.tails.unsubscribe(s)
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	enc := json.NewEncoder(w)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-a.tails.done:
			return
		case rd := <-s.ch:
			line := TailLine{Time: rd.Time.UTC(), Device: rd.Device, Point: rd.Point, Unit: rd.Unit,
				Quality: rd.Quality.String(), Reason: rd.Reason}
			if rd.Quality == wire.QualityGood {
				line.Value = rd.Value.Any()
			}
			if n := s.dropped.Swap(0); n > 0 {
				if enc.Encode(TailLine{Dropped: n}) != nil {
					return
				}
			}
			// A watcher too slow to read is cut off by the write deadline
			// rather than holding the agent's goroutine.
			_ = rc.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if enc.Encode(line) != nil {
				return
			}
			if len(s.ch) == 0 {
				_ = rc.Flush()
			}
		}
	}
}
