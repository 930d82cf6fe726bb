package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-city/ponte/twin"
)

// A stream writes its pending events at most once per Config.
// StreamCoalesce (and at once when flushBytes are pending; at once too
// when its last write was that long ago or more): at 1,000 changes/s to
// 1,000 clients, a write and a flush per change and client were a
// million system calls a second, which took most of ingest's CPU. Every
// event is still sent, in order and with its id; the first of a write
// waits StreamCoalesce at most. At 100,000 sites and 1,000 changes/s,
// 50 ms took 30-50 % less of ingest's CPU per change than 25 ms; with
// the change log and the frame cache, 75 ms (the default) costs the same
// CPU as 100 ms and about 10 % less than 50 ms, with a p99 of 84-229 ms
// against 100 ms's 185-200 and 50 ms's 95-166 (IngestToSSE, quiet
// machine).
const flushBytes = 64 << 10

// maxBurst is how many changes a stream fed by a channel takes at once.
const maxBurst = 256

// batchSubscriber is a Reader whose changes can be taken in batches
// (twin.Twin.SubscribeBatches) instead of one by one from a channel.
type batchSubscriber interface {
	SubscribeBatches(f twin.Filter, after uint64) (*twin.Subscription, func())
}

// handleStream answers GET /api/v1/stream with Server-Sent Events until
// the client goes away, a write to it fails or the twin drops it.
func (a *API) handleStream(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, err := parseFilter(q)
	if err != nil {
		badParam(w, err.(*paramError))
		return
	}
	after, perr := lastEventID(r)
	if perr != nil {
		badParam(w, perr)
		return
	}
	if n := a.streams.Add(1); n > int64(a.cfg.MaxStreams) {
		a.streams.Add(-1)
		a.metrics.refused.Inc()
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "", "too many streams open; retry later")
		return
	}
	defer a.streams.Add(-1)
	scope := scopeOf(r)
	if held, ok := a.perScope.acquire(scope.Key(), a.cfg.MaxStreamsPerScope); !ok {
		a.metrics.refused.Inc()
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusTooManyRequests, "", fmt.Sprintf("%s hold %d streams, their limit (MaxStreamsPerScope); close some first", scope.Name(), held))
		return
	}
	defer a.perScope.release(scope.Key())
	a.metrics.streams.Inc()
	defer a.metrics.streams.Dec()

	// An ID beyond the twin's latest change comes from before a restart of
	// ingest (sequence numbers start again): the client's state cannot be
	// trusted, so it must resync, from the changes after the latest
	// (unless a replicated twin will reach it: see twin's Replicas).
	resync := false
	if last := a.reader.LastSeq(); after > last && !resumes(a.reader, after) {
		resync, after = true, last
	}
	// One of ch (any Reader) and sub (the twin) is set.
	var (
		ch          <-chan twin.Change
		sub         *twin.Subscription
		dropped     <-chan struct{}
		unsubscribe func()
	)
	if bs, ok := a.reader.(batchSubscriber); ok {
		sub, unsubscribe = bs.SubscribeBatches(f, after)
		dropped = sub.Dropped()
	} else {
		ch, unsubscribe = a.reader.Subscribe(f, after)
	}
	defer unsubscribe()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	if r.ProtoMajor == 1 {
		// Over HTTP/1.1 the body ends with the connection, unchunked
		// (net/http's setup for SSE): a chunk's header and trailer made
		// each write of more than 4 KiB three system calls instead of
		// one. (HTTP/2 frames the stream itself.)
		h.Set("Transfer-Encoding", "identity")
	}
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	// A stream outlives the server's write timeout: each flush sets its
	// own write deadline (WriteTimeout), so a client that stops reading is
	// still cut off. (The server's read deadline is cleared by net/http
	// once a request without a body is read.)
	s := &stream{a: a, scope: scope, w: w, rc: rc}
	s.buf.WriteString("retry: 2000\n: connected\n\n")
	if resync {
		s.change(&twin.Change{})
	}
	if !s.indicators() || !s.flush() {
		return
	}
	heartbeat := time.NewTicker(a.cfg.Heartbeat)
	defer heartbeat.Stop()
	indTick := time.NewTicker(a.cfg.IndicatorInterval)
	defer indTick.Stop()
	coalesce := a.cfg.StreamCoalesce
	tick := time.NewTimer(coalesce) // armed while events are pending
	tick.Stop()
	defer tick.Stop()
	armed := false
	var batch []*twin.Change
	ctx := r.Context()
	for {
		// While a write waits for its tick, the changes wait in the
		// twin's log: a stream wakes once per tick, not per change.
		var wake <-chan struct{}
		in := ch
		if armed {
			in = nil
		} else if sub != nil {
			wake = sub.Ready()
		}
		select {
		case <-ctx.Done():
			return
		case <-dropped:
			s.drop(r)
			return
		case <-wake:
			if batch = s.take(sub, batch); batch == nil {
				return
			}
			if s.buf.Len() == 0 {
				// Nothing in those writes for this stream (its filter or
				// scope): it looks again a tick later, not at the next
				// write, or a stream that matches little would wake at
				// every write of the twin (every write wakes every
				// stream waiting on Ready).
				tick.Reset(coalesce)
				armed = true
			}
		case c, ok := <-in:
			if !ok {
				s.drop(r)
				return
			}
			if !s.change(&c) {
				return
			}
		burst:
			for range maxBurst - 1 {
				select {
				case c, ok := <-ch:
					if !ok {
						break burst
					}
					if !s.change(&c) {
						return
					}
				default:
					break burst
				}
			}
		case <-heartbeat.C:
			s.buf.WriteString(": ping\n\n")
		case <-indTick.C:
			if !s.indicators() {
				return
			}
		case <-tick.C:
			armed = false
			if sub != nil {
				if batch = s.take(sub, batch); batch == nil {
					return
				}
			}
		}
		if s.buf.Len() == 0 || armed {
			continue
		}
		// Pending events go at once when the last write was coalesce
		// ago or more (a quiet stream adds no delay), else when that
		// much has passed.
		if wait := coalesce - time.Since(s.flushed); wait > 0 {
			tick.Reset(wait)
			armed = true
		} else if !s.flush() {
			return
		}
	}
}

// take adds the changes queued in sub to the pending events, using
// spare's array, and returns the (cleared) batch for the next take; nil
// means a write failed.
func (s *stream) take(sub *twin.Subscription, spare []*twin.Change) []*twin.Change {
	batch := sub.Take(spare)
	ok := true
	for i := range batch {
		if ok = s.change(batch[i]); !ok {
			break
		}
	}
	clear(batch)
	if !ok {
		return nil
	}
	if batch == nil {
		batch = []*twin.Change{}
	}
	return batch[:0]
}

// drop ends a stream the twin dropped for falling behind, after writing
// the events it holds: the client resumes after the last of them.
func (s *stream) drop(r *http.Request) {
	s.a.metrics.dropped.Inc()
	s.a.cfg.Logger.Debug("twin dropped a slow stream", "remote", r.RemoteAddr)
	s.flush()
}

// stream is the state of one SSE response.
type stream struct {
	a          *API
	scope      twin.Scope // what the caller sees
	w          http.ResponseWriter
	rc         *http.ResponseController
	buf        bytes.Buffer
	indVersion uint64
	// entities and removed count the events in buf, added to the
	// metrics once per flush (a shared counter per event and stream
	// was an atomic add on one cache line a million times a second).
	entities, removed int
	flushed           time.Time // the last write
	deadline          time.Time // the write deadline set
}

// change adds one change to the pending events, writing those pending
// first when it would take them past flushBytes; false means that write
// failed.
func (s *stream) change(c *twin.Change) bool {
	if c.Seq != 0 && !s.scope.Visible(&c.Entity) {
		return true
	}
	if c.Seq == 0 {
		// The resync carries the current last ID, so that the client's
		// reconnect resumes from here instead of resyncing again.
		s.buf.WriteString("id: ")
		s.buf.Write(strconv.AppendUint(s.buf.AvailableBuffer(), s.a.reader.LastSeq(), 10))
		s.buf.WriteString("\nevent: resync\ndata: {}\n\n")
		s.a.metrics.resyncEvents.Inc()
		return true
	}
	if c.Removed {
		s.removed++
	} else {
		s.entities++
	}
	frame := s.a.cache.get(c, func() areaLookup { return indicatorLookup(s.a.reader) })
	// The pending events go before they pass flushBytes, so that buf
	// stays within it (its array grew to twice that when written after).
	if s.buf.Len() > 0 && s.buf.Len()+len(frame) > flushBytes && !s.flush() {
		return false
	}
	s.buf.Write(frame)
	return true
}

// indicators writes the pending events and the indicators event when
// they changed since the last one this stream sent; false means the
// write failed. The stream's first indicators event is the Indicators in
// full; later ones carry the values only (indicatorValues).
func (s *stream) indicators() bool {
	v, full, values := s.a.indicatorsEvent()
	if v == s.indVersion || full == nil {
		return true
	}
	body := values
	if s.indVersion == 0 {
		body = full
	}
	s.indVersion = v
	s.a.metrics.indicatorEvents.Inc()
	// The body, shared by every stream, is written as it is after the
	// pending events: copied into each stream's buf it cost a copy per
	// stream and kept a buf that large per stream.
	s.buf.WriteString("event: indicators\ndata: ")
	return s.write(body)
}

// indicatorValues are the Indicators without what never changes between
// two of a stream's indicators events: each indicator's unit, window and
// definition (the stream's first event has them). At 41 areas they are
// 21 KB of the full JSON's 86 KB, which went to every stream every
// second: at 1,000 streams the 65 MB/s saved are as many bytes as 150
// changes/s of sites.
type indicatorValues struct {
	Generated time.Time        `json:"generated"`
	City      []indicatorValue `json:"city"`
	Areas     []areaValues     `json:"areas"`
}

type areaValues struct {
	ID         string           `json:"id"`
	Name       string           `json:"name"`
	Level      string           `json:"level,omitempty"`
	Indicators []indicatorValue `json:"indicators"`
}

type indicatorValue struct {
	Name      string    `json:"name"`
	Value     *float64  `json:"value"`
	Sensors   int       `json:"sensors"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
}

// valuesOf returns ind's values (ind sanitized).
func valuesOf(ind twin.Indicators) indicatorValues {
	of := func(in []twin.Indicator) []indicatorValue {
		out := make([]indicatorValue, len(in))
		for i, x := range in {
			out[i] = indicatorValue{Name: x.Name, Value: x.Value, Sensors: x.Sensors, UpdatedAt: x.UpdatedAt}
		}
		return out
	}
	out := indicatorValues{Generated: ind.Generated, City: of(ind.City), Areas: make([]areaValues, len(ind.Areas))}
	for i, a := range ind.Areas {
		out.Areas[i] = areaValues{ID: a.ID, Name: a.Name, Level: a.Level, Indicators: of(a.Indicators)}
	}
	return out
}

// flush writes the pending events within WriteTimeout and flushes them.
func (s *stream) flush() bool {
	if s.buf.Len() == 0 {
		s.count()
		return true
	}
	return s.write(nil)
}

// write writes the pending events, then data and the blank line that ends
// its event when data is not nil, within WriteTimeout, and flushes them.
func (s *stream) write(data []byte) bool {
	s.count()
	// The deadline moves on only once an eighth of it has passed
	// (setting it takes the poller's lock: a sixth of a write's cost), so
	// a client that stops reading is cut off between 7/8 of WriteTimeout
	// and WriteTimeout after.
	s.flushed = time.Now()
	if timeout := s.a.cfg.WriteTimeout; s.deadline.Sub(s.flushed) < timeout-timeout/8 {
		s.deadline = s.flushed.Add(timeout)
		_ = s.rc.SetWriteDeadline(s.deadline)
	}
	_, err := s.w.Write(s.buf.Bytes())
	s.buf.Reset()
	if err == nil && data != nil {
		if _, err = s.w.Write(data); err == nil {
			_, err = io.WriteString(s.w, "\n\n")
		}
	}
	if err == nil {
		err = s.rc.Flush()
	}
	return err == nil
}

// count adds the events written since the last call to the metrics.
func (s *stream) count() {
	if s.entities > 0 {
		s.a.metrics.entityEvents.Add(float64(s.entities))
		s.entities = 0
	}
	if s.removed > 0 {
		s.a.metrics.removedEvents.Add(float64(s.removed))
		s.removed = 0
	}
}

// indicatorsEvent returns the indicators as JSON, in full and as
// indicatorValues, and a version that changes when they do. The twin is
// asked at most twice per IndicatorInterval however many streams there
// are.
func (a *API) indicatorsEvent() (version uint64, full, values []byte) {
	a.indMu.Lock()
	defer a.indMu.Unlock()
	now := time.Now()
	if a.indBody != nil && now.Sub(a.indAt) < a.cfg.IndicatorInterval/2 {
		return a.indVersion, a.indBody, a.indValues
	}
	ind := sanitized(a.reader.Indicators())
	b, err := json.Marshal(ind)
	if err == nil && !bytes.Equal(b, a.indBody) {
		// The values are encoded only when the indicators changed.
		var v []byte
		if v, err = json.Marshal(valuesOf(ind)); err == nil {
			a.indBody, a.indValues = b, v
			a.indVersion++
		}
	}
	if err != nil {
		a.cfg.Logger.Warn("encode indicators for the stream", "err", err)
		return a.indVersion, a.indBody, a.indValues
	}
	a.indAt = now
	return a.indVersion, a.indBody, a.indValues
}

// lastEventID reads the resume point: the Last-Event-ID header, else the
// lastEventId query parameter; 0 when neither is given.
func lastEventID(r *http.Request) (uint64, *paramError) {
	name, v := "Last-Event-ID", r.Header.Get("Last-Event-ID")
	if v == "" {
		name, v = "lastEventId", r.URL.Query().Get("lastEventId")
	}
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, &paramError{name, quote(v) + " is not an event ID (a non-negative integer)"}
	}
	return n, nil
}
