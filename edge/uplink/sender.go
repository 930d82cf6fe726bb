package uplink

import (
	"context"
	"errors"
	"fmt"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/wire"
)

// readRetry is how long the sender waits after a buffer read error.
const readRetry = time.Second

// Why the sender rewinds.
const (
	whyAckTimeout = "ack_timeout"
	whyReconnect  = "reconnect"
)

// inflight is a batch awaiting ingest's acknowledgement.
type inflight struct {
	framed
	sentAt time.Time
}

// pubWait is a publish awaiting the broker's PUBACK, for the latency
// metric, to notice a broken connection and to reuse its payload.
type pubWait struct {
	tok     paho.Token
	at      time.Time
	payload []byte
}

// sender is the forwarding state, owned by Run's goroutine. It outlives
// connections: the window and acknowledged position carry over, and each
// connection starts by rewinding to the oldest unacknowledged record.
type sender struct {
	f  *Forwarder
	fr *framer

	// cursor is the next sequence number to read; 0 reads from the
	// oldest unacknowledged record.
	cursor uint64
	// window holds the batches read and not yet acknowledged, in order.
	window []inflight
	// bufAcked is the highest sequence number acknowledged to the buffer.
	bufAcked uint64
	// pending is the first sequence number of a partial batch being held
	// back for more readings, and since when.
	pendingSeq   uint64
	pendingSince time.Time
	// replaying: the last read found a backlog and took a replay batch
	// (Config.ReplayBatchReadings); the window is then ReplayWindow.
	replaying bool
	// pace caps the rate while replaying a backlog; new per connection.
	pace *pacer
	pubs []pubWait
	// badN and badFirst summarize the undecodable records of one framing.
	badN     int
	badFirst error
	readErr  string
	// recs and arena are reused by every buffer read (Buffer.ReadInto).
	recs  []buffer.Record
	arena []byte
	// liveSince is when the sender last went from replay batches to live
	// ones (zero while replaying), for shrink.
	liveSince time.Time
}

// shrinkAfter is how long the sender sends live batches only before it
// lets go of what replay batches grew (sender.shrink). At 100k
// readings/s a second's polls arrive in a burst that is sent in replay
// batches every second, so the memory is let go only once a backlog is
// really over.
const shrinkAfter = time.Minute

func newSender(f *Forwarder) *sender {
	s := &sender{f: f}
	s.fr = newFramer(f.cfg.Gateway, f.epoch, func(seq uint64, err error) {
		f.m.badRecords.Inc()
		if s.badN == 0 {
			s.badFirst = fmt.Errorf("record %d: %w", seq, err)
		}
		s.badN++
	})
	if f.cfg.OnAck != nil {
		s.fr.flags = wire.FlagAckRefused
	}
	return s
}

// rewind makes the next read start from the oldest unacknowledged record
// and forgets the window: what was sent and not acknowledged is sent
// again, and ingest drops what it already has.
func (s *sender) rewind(why string) {
	if n := s.published(); n > 0 {
		s.f.m.resends.Inc()
		if why == whyAckTimeout {
			s.ackTimedOut(n)
		} else {
			s.f.log.Info("uplink resending from the oldest unacknowledged reading", "reason", why, "batches", n, "from", s.window[0].from)
		}
	}
	s.cursor = 0
	s.window = s.window[:0]
	s.pendingSeq = 0
	s.gauges()
}

// ackTimedOut says why the oldest batch may not have been acknowledged,
// from what the forwarder saw: acks arriving that stop short of it (ingest
// waits for readings it is missing: the resend brings them), or no ack at
// all since it was sent (ingest down, or InfluxDB behind it: ingest
// acknowledges only what InfluxDB accepted; or, if that lasts while ingest
// is healthy, a broker dropping what this gateway may not publish).
func (s *sender) ackTimedOut(batches int) {
	f := s.f
	st := f.Status()
	oldest := s.window[0]
	args := []any{"ack_timeout", f.cfg.AckTimeout, "batches", batches, "from", oldest.from, "acked_seq", st.AckedSeq, "buffered", f.buf.Stats().Records}
	if st.LastAck.After(oldest.sentAt) {
		f.log.Warn("uplink: ingest acknowledges, but not past its gap; resending from the oldest unacknowledged reading", args...)
		return
	}
	f.log.Warn("uplink: no acknowledgement from ingest; ingest or the InfluxDB behind it is unavailable (readings stay buffered and are resent). If this lasts while ingest is healthy, check that this gateway may publish to its up topic",
		append(args, "topic", f.up, "last_ack", st.LastAck)...)
}

// published counts window entries that were published.
func (s *sender) published() int {
	n := 0
	for i := range s.window {
		if s.window[i].n > 0 {
			n++
		}
	}
	return n
}

func (s *sender) gauges() {
	n := s.published()
	s.f.m.inFlight.Set(float64(n))
	s.f.update(func(st *Status) { st.InFlight = n })
}

// run forwards over c until the connection fails (an error) or ctx ends
// (nil).
func (s *sender) run(ctx context.Context, c *conn) error {
	f := s.f
	s.rewind(whyReconnect)
	s.pubs = s.pubs[:0]
	s.pace = newPacer(f.cfg.ReplayRate, f.cfg.BatchMaxReadings)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if err := s.settle(); err != nil {
			return err
		}
		now := time.Now()
		var deadline time.Time
		if d, ok := s.ackDeadline(); ok {
			if !now.Before(d) {
				s.rewind(whyAckTimeout)
				continue
			}
			deadline = d
		}
		var changed <-chan struct{}
		limit := f.cfg.Window
		if s.replaying {
			limit = f.cfg.ReplayWindow
		}
		if len(s.window) < limit {
			sent, ch, wait, err := s.trySend(c, now)
			if err != nil {
				return err
			}
			if sent {
				continue
			}
			changed = ch
			if !wait.IsZero() && (deadline.IsZero() || wait.Before(deadline)) {
				deadline = wait
			}
		}
		var pubDone <-chan struct{}
		if len(s.pubs) > 0 {
			pubDone = s.pubs[0].tok.Done()
		}
		var tick <-chan time.Time
		if !deadline.IsZero() {
			if !timer.Stop() {
				select {
				case <-timer.C:
				default:
				}
			}
			timer.Reset(time.Until(deadline))
			tick = timer.C
		}
		select {
		case <-ctx.Done():
			return nil
		case err := <-c.lost:
			return fmt.Errorf("connection to %s lost: %w", f.broker, err)
		case <-f.ackWake:
		case <-changed:
		case <-tick:
		case <-pubDone:
			p := s.pubs[0]
			s.pubs[0] = pubWait{}
			s.pubs = s.pubs[1:]
			if err := p.tok.Error(); err != nil {
				return fmt.Errorf("publish to %s: %w", f.up, err)
			}
			f.m.publishTime.Observe(time.Since(p.at).Seconds())
			// The payload can be reused once its publish completed without
			// an error, which for QoS 1 means the broker's PUBACK (paho
			// v1.5.1): paho copies the payload into its own packet buffer
			// before writing it to the connection (packets.PublishPacket
			// Write), so its writer is done with it before the broker can
			// answer, and the incoming side deletes the packet from its
			// memory store (persistInbound) before it completes the token
			// (flowComplete). A token completed with an error (the
			// connection lost, a publish timeout) may leave the packet
			// queued or stored, so its payload is left to the collector;
			// and each connection is a new client whose store nothing
			// resends from, so a payload is never written after its PUBACK.
			s.fr.release(p.payload)
		}
	}
}

// settle applies the acknowledged high-water mark: batches wholly
// acknowledged leave the window, and the buffer frees everything they
// cover (undecodable records and gaps included). A batch that carried no
// reading leaves as soon as everything before it has.
func (s *sender) settle() error {
	a := s.f.acked.Load()
	upTo := a
	popped := 0
	for popped < len(s.window) {
		e := &s.window[popped]
		if e.n > 0 && a < e.last {
			break
		}
		upTo = max(upTo, e.to)
		popped++
	}
	if popped > 0 {
		s.window = append(s.window[:0], s.window[popped:]...)
		s.gauges()
	}
	if upTo <= s.bufAcked {
		return nil
	}
	if err := s.f.buf.Ack(upTo); err != nil {
		return fmt.Errorf("free buffer up to %d: %w", upTo, err)
	}
	s.bufAcked = upTo
	s.f.m.ackedSeq.Set(float64(a))
	return nil
}

// ackDeadline is when the oldest published batch times out.
func (s *sender) ackDeadline() (time.Time, bool) {
	for i := range s.window {
		if s.window[i].n > 0 {
			return s.window[i].sentAt.Add(s.f.cfg.AckTimeout), true
		}
	}
	return time.Time{}, false
}

// trySend reads from the cursor and publishes one batch if one is due.
// Otherwise it returns what to wait for: the buffer's change signal and/or
// a time (a partial batch coming due, the pacer, a read retry).
func (s *sender) trySend(c *conn, now time.Time) (sent bool, changed <-chan struct{}, wait time.Time, err error) {
	f := s.f
	changed = f.buf.Changed()
	// A backlog of more than two batches goes in replay batches
	// (Config.ReplayBatchReadings), unless the replay is paced.
	n, nb := f.cfg.BatchMaxReadings, f.cfg.BatchMaxBytes
	d := f.buf.Stats().DurableSeq
	s.replaying = f.cfg.ReplayRate <= 0 && d >= s.cursor && d-s.cursor >= uint64(2*n)
	if s.replaying {
		n, nb = f.cfg.ReplayBatchReadings, f.cfg.ReplayBatchBytes
		s.liveSince = time.Time{}
	} else if s.liveSince.IsZero() {
		s.liveSince = now
	} else if now.Sub(s.liveSince) >= shrinkAfter {
		s.shrink(n, nb)
	}
	// The records are framed (decoded and encoded afresh) before the
	// next read, so one arena serves every read.
	recs, arena, err := f.buf.ReadInto(s.cursor, n, nb, s.recs, s.arena)
	s.recs, s.arena = recs, arena
	if errors.Is(err, buffer.ErrClosed) {
		return false, nil, time.Time{}, err
	}
	if err != nil && len(recs) == 0 {
		if msg := err.Error(); msg != s.readErr {
			s.readErr = msg
			f.log.Error("uplink cannot read the buffer", "err", err)
		}
		return false, nil, now.Add(readRetry), nil
	}
	s.readErr = ""
	if len(recs) == 0 {
		s.pendingSeq = 0
		return false, changed, time.Time{}, nil
	}
	full := s.full(recs)
	if !full {
		if s.pendingSeq != recs[0].Seq {
			s.pendingSeq, s.pendingSince = recs[0].Seq, now
		}
		age := max(now.Sub(recs[0].Time), now.Sub(s.pendingSince))
		if age < f.cfg.BatchMaxWait {
			return false, changed, now.Add(f.cfg.BatchMaxWait - age), nil
		}
	}
	bs := f.buf.Stats()
	replay := full && bs.DurableSeq > recs[len(recs)-1].Seq
	if replay {
		if d := s.pace.wait(len(recs), now); d > 0 {
			return false, nil, now.Add(d), nil
		}
	}
	s.badN = 0
	fr, err := s.fr.frame(s.cursor, bs.FirstSeq, recs)
	if s.badN > 0 {
		f.log.Error("uplink skipped undecodable buffer records; they are freed with the next acknowledgement", "count", s.badN, "first", s.badFirst)
	}
	if err != nil {
		// Only a bug in the wire encoder gets here; skipping keeps the
		// uplink going, and the log says what was lost.
		f.log.Error("uplink cannot frame records; skipping them", "err", err)
		fr = framed{from: max(s.cursor, recs[0].Seq), to: recs[len(recs)-1].Seq}
	}
	s.pendingSeq = 0
	s.cursor = fr.to + 1
	e := inflight{framed: fr, sentAt: now}
	if fr.n > 0 {
		if replay {
			s.pace.take(fr.n, now)
		}
		if fr.last > f.sent.Load() {
			f.sent.Store(fr.last)
		}
		s.pubs = append(s.pubs, pubWait{tok: c.client.Publish(f.up, 1, false, fr.payload), at: now, payload: fr.payload})
		e.payload = nil // paho holds it until PUBACK; the window needs only the range
		f.m.batches.Inc()
		f.m.readings.Add(float64(fr.n))
		f.update(func(st *Status) { st.SentSeq = max(st.SentSeq, fr.last) })
		f.log.Debug("uplink batch sent", "first", fr.from, "last", fr.last, "readings", fr.n, "replay", replay)
	}
	s.window = append(s.window, e)
	s.gauges()
	return true, nil, time.Time{}, nil
}

// shrink lets go of the read memory and framing state a replay grew
// beyond what live batches of n readings and nb bytes need (see
// framer.shrink), so that it does not stay live heap.
func (s *sender) shrink(n, nb int) {
	if cap(s.arena) > 2*nb {
		s.arena = nil
	}
	if cap(s.recs) > 2*n {
		s.recs = nil
	}
	s.fr.shrink(n, nb)
}

// full reports whether recs is as large a batch as one read may give, so
// there is no point in waiting for more.
func (s *sender) full(recs []buffer.Record) bool {
	if len(recs) >= s.f.cfg.BatchMaxReadings {
		return true
	}
	total, largest := 0, 0
	for i := range recs {
		total += len(recs[i].Data)
		largest = max(largest, len(recs[i].Data))
	}
	return total+largest > s.f.cfg.BatchMaxBytes
}
