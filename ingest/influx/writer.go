package influx

import (
	"time"
)

// writer takes batches from the queue and delivers them, until the sink is
// closing with nothing left to take or the run is stopped.
func (s *Sink) writer() {
	defer s.wg.Done()
	var refs []ref
	for {
		refs = s.take(refs[:0])
		if len(refs) == 0 {
			return
		}
		s.deliver(refs)
		s.mu.Lock()
		s.inflight--
		s.notifyLocked()
		s.mu.Unlock()
	}
}

// take waits until a batch is due and appends its lines to refs: at once
// when no other write is in flight (low latency when InfluxDB keeps up),
// otherwise when BatchSize lines wait or the oldest has waited
// FlushInterval (large writes when it does not). While writes are failing
// only the writer already retrying talks to InfluxDB. It returns refs
// empty when the writer should stop.
func (s *Sink) take(refs []ref) []ref {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.runCtx.Err() != nil {
			return refs
		}
		closing := s.closeCtx.Err() != nil
		var wait time.Duration
		if s.untaken > 0 && (!s.failing || s.inflight == 0) {
			due := closing || s.inflight == 0 || s.untaken >= s.minBatch()
			if !due {
				wait = time.Until(s.queue[0].enq.Add(s.cfg.FlushInterval))
				due = wait <= 0
			}
			if due {
				refs = s.takeLocked(refs)
				if len(refs) > 0 {
					s.inflight++
					return refs
				}
				continue
			}
		} else if s.untaken == 0 && closing {
			return refs
		}
		ch := s.changed
		s.mu.Unlock()
		var t *time.Timer
		var timeout <-chan time.Time
		if wait > 0 {
			t = time.NewTimer(wait)
			timeout = t.C
		}
		select {
		case <-ch:
		case <-timeout:
		case <-s.runCtx.Done():
		}
		if t != nil {
			t.Stop()
		}
		s.mu.Lock()
	}
}

// takeLocked moves up to BatchSize queued lines into refs, dropping the
// lines of abandoned jobs; s.mu is held.
func (s *Sink) takeLocked(refs []ref) []ref {
	for len(refs) < s.cfg.BatchSize && len(s.queue) > 0 {
		j := s.queue[0]
		left := len(j.ends) - j.taken
		if j.isAbandoned() {
			j.taken = len(j.ends)
			s.untaken -= left
			s.popLocked()
			s.abandonedLines(j, left)
			continue
		}
		k := min(s.cfg.BatchSize-len(refs), left)
		for i := j.taken; i < j.taken+k; i++ {
			refs = append(refs, ref{j: j, i: i})
		}
		j.taken += k
		s.untaken -= k
		if j.taken == len(j.ends) {
			s.popLocked()
		}
	}
	return refs
}

// popLocked removes the queue's first job; s.mu is held.
func (s *Sink) popLocked() {
	s.queue[0] = nil
	s.queue = s.queue[1:]
}

// abandonedLines ends n lines of an abandoned job unwritten.
func (s *Sink) abandonedLines(j *job, n int) {
	s.m.abandoned.Add(float64(n))
	j.finish(n, nil, nil)
}

// outcome is how one delivery attempt of a batch ended.
type outcome int

const (
	sentOK      outcome = iota // InfluxDB accepted every line
	sentRefused                // InfluxDB refused lines of it (400, 422, 413)
	sentEmpty                  // every line's caller gave up; nothing to send
	sentStopped                // the run was stopped before it was accepted
)

// deliver writes refs, splitting off the lines InfluxDB refuses: lines the
// refusal names are rejected and the rest sent again (InfluxDB may have
// written them already; writing a point again overwrites it); when the
// refusal names none, the batch is halved until each refused line stands
// alone.
func (s *Sink) deliver(refs []ref) {
	work := [][]ref{refs}
	for len(work) > 0 {
		b := work[len(work)-1]
		work = work[:len(work)-1]
		res, ref := s.sendRetrying(&b)
		switch res {
		case sentEmpty:
		case sentOK:
			s.settle(b, nil, true)
		case sentStopped:
			s.settleErr(b, ErrClosed)
			for _, w := range work {
				s.settleErr(w, ErrClosed)
			}
			return
		case sentRefused:
			lines := make([][]byte, len(b))
			for i, r := range b {
				lines[i] = r.j.line(r.i)
			}
			bad := attribute(ref, lines)
			if len(bad) == 0 {
				if len(b) > 1 {
					mid := len(b) / 2
					work = append(work, b[mid:], b[:mid])
					continue
				}
				bad = map[int]string{0: clip(ref.Message)}
			}
			s.logRefusal(b, bad, ref)
			if rest := s.settle(b, bad, false); len(rest) > 0 {
				work = append(work, rest)
			}
		}
	}
}

// settle ends the lines of b that bad names as rejected and, when
// written, all others as written; otherwise it returns the others.
func (s *Sink) settle(b []ref, bad map[int]string, written bool) (rest []ref) {
	if !written {
		rest = make([]ref, 0, len(b)-len(bad))
	}
	nbad := 0
	for start := 0; start < len(b); {
		j := b[start].j
		end := start
		var rej []rejectedLine
		n := 0
		for ; end < len(b) && b[end].j == j; end++ {
			if why, ok := bad[end]; ok {
				rej = append(rej, rejectedLine{line: b[end].i, reason: why})
				n++
			} else if written {
				n++
			} else {
				rest = append(rest, b[end])
			}
		}
		nbad += len(rej)
		if n > 0 {
			j.finish(n, rej, nil)
		}
		start = end
	}
	if written {
		ok := len(b) - nbad
		s.points.Add(int64(ok))
		s.m.points.Add(float64(ok))
	}
	if nbad > 0 {
		s.rejected.Add(int64(nbad))
		s.m.rejected.WithLabelValues("server").Add(float64(nbad))
	}
	return rest
}

// settleErr ends the lines of b unwritten with err.
func (s *Sink) settleErr(b []ref, err error) {
	for start := 0; start < len(b); {
		j := b[start].j
		end := start
		for end < len(b) && b[end].j == j {
			end++
		}
		j.finish(end-start, nil, err)
		start = end
	}
}

// dropAbandoned removes from *b the lines whose callers gave up.
func (s *Sink) dropAbandoned(b *[]ref) {
	out := (*b)[:0]
	for start := 0; start < len(*b); {
		j := (*b)[start].j
		end := start
		for end < len(*b) && (*b)[end].j == j {
			end++
		}
		if j.isAbandoned() {
			s.abandonedLines(j, end-start)
		} else {
			out = append(out, (*b)[start:end]...)
		}
		start = end
	}
	*b = out
}

// logRefusal logs one line per refused batch (not per reading).
func (s *Sink) logRefusal(b []ref, bad map[int]string, r refusal) {
	var first string
	for i := range b {
		if why, ok := bad[i]; ok {
			first = why
			break
		}
	}
	s.log.Warn("influxdb refused points", "points", len(bad), "batch_points", len(b), "reason", first)
}

// minBatch is the size at which a free writer sends without lingering
// while another write is in flight: a tenth of BatchSize keeps both
// writers busy with worthwhile batches, where waiting for a full batch
// would leave one idle when fewer than BatchSize points can be pending.
func (s *Sink) minBatch() int { return max(1, s.cfg.BatchSize/10) }
