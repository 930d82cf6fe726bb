package influx

import (
	"strings"
	"sync"
	"time"

	"github.com/ponte-city/ponte/wire"
)

// job is the readings of one Write call on their way to InfluxDB, as
// lines: the readings of one device at one time share a line.
//
// A job whose line InfluxDB refused may split that line into a part: a job
// of its own with one line per reading of the line, sent again so that only
// the readings InfluxDB refuses are rejected (see split). A part's state
// lives in its whole (the job of the Write call).
//
// buf, ends, members, mends, readings, gateway and whole are set before
// the job is queued (or the part sent) and never change; taken is guarded
// by queue.mu; the rest by the whole's mu.
type job struct {
	buf      []byte         // the lines, each ending in '\n'
	ends     []int          // ends[i] is the offset just past line i in buf
	members  []int          // indices in readings of the lines' readings, line after line
	mends    []int          // mends[i] is the offset just past line i's readings in members
	readings []wire.Reading // the caller's, read only while the caller waits
	gateway  string         // the gateway of the readings
	whole    *job           // the Write call's job a part belongs to; nil for that job
	enq      time.Time      // when the job was queued
	queued   bool           // it was queued: its readings count as pending
	weight   int64          // admission weight to release when done

	taken int // lines handed to the flush loops (queue.mu)

	mu        sync.Mutex
	remaining int        // lines not yet written, rejected or dropped (a part's: of its own)
	rejected  []Rejected // the caller's result
	abandoned bool       // the caller stopped waiting; readings must not be read
	err       error      // why the job ended unwritten (ErrClosed)
	done      chan struct{}
	onDone    func(*job) // releases admission; called once, under j.mu, before done closes (it must not take j.mu or q.mu)
}

// line returns line i without its newline.
func (j *job) line(i int) []byte {
	start := 0
	if i > 0 {
		start = j.ends[i-1]
	}
	return j.buf[start : j.ends[i]-1]
}

// lineReadings returns the indices in readings of line i's readings.
func (j *job) lineReadings(i int) []int {
	start := 0
	if i > 0 {
		start = j.mends[i-1]
	}
	return j.members[start:j.mends[i]]
}

// root returns the Write call's job: j, or the whole j is a part of.
func (j *job) root() *job {
	if j.whole != nil {
		return j.whole
	}
	return j
}

// finish records that n lines of j reached an end: written, or rejected
// (the lines listed in rej with their reasons: every reading of such a
// line) or dropped with err. The last line of a part ends the line of the
// whole it was split from.
func (j *job) finish(n int, rej []rejectedLine, err error) {
	w := j.root()
	w.mu.Lock()
	if !w.abandoned {
		for _, r := range rej {
			for _, k := range j.lineReadings(r.line) {
				w.rejected = append(w.rejected, Rejected{Reading: w.readings[k], Reason: r.reason})
			}
		}
		if err != nil && w.err == nil {
			w.err = err
		}
	}
	j.remaining -= n
	if j != w && j.remaining == 0 {
		w.remaining--
	}
	if w.remaining == 0 {
		// Released before the caller wakes, so that Stats().Pending
		// agrees with what Write returned.
		if w.onDone != nil {
			w.onDone(w)
		}
		close(w.done)
	}
	w.mu.Unlock()
}

// abandon marks the job as no longer awaited, so that writers stop reading
// the caller's readings and drop its lines not yet sent. It reports false
// when the job had already finished.
func (j *job) abandon() bool {
	j = j.root()
	j.mu.Lock()
	defer j.mu.Unlock()
	select {
	case <-j.done:
		return false
	default:
	}
	j.abandoned = true
	return true
}

// isAbandoned reports whether the caller stopped waiting.
func (j *job) isAbandoned() bool {
	j = j.root()
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.abandoned
}

// rejectedLine is a line InfluxDB refused, and why.
type rejectedLine struct {
	line   int
	reason string
}

// ref is one line of one job in a batch.
type ref struct {
	j *job
	i int
}

// batch is the lines of one HTTP write, job after job (the oldest, then
// its gateway's, see queue.takeLocked), so that the lines of a job are
// adjacent. The client reads the lines; only the queue (the
// ledger) ends them.
type batch []ref

// body returns the lines of b, each ending in a newline, as one write's
// body.
func (b batch) body() string {
	size := 0
	for _, r := range b {
		size += len(r.j.line(r.i)) + 1
	}
	var body strings.Builder
	body.Grow(size)
	for _, r := range b {
		start := 0
		if r.i > 0 {
			start = r.j.ends[r.i-1]
		}
		body.Write(r.j.buf[start:r.j.ends[r.i]])
	}
	return body.String()
}

// readings returns how many readings the lines of b carry.
func (b batch) readings() int {
	n := 0
	for _, r := range b {
		n += len(r.j.lineReadings(r.i))
	}
	return n
}

// lines returns the lines of b without their newlines.
func (b batch) lines() [][]byte {
	lines := make([][]byte, len(b))
	for i, r := range b {
		lines[i] = r.j.line(r.i)
	}
	return lines
}

// runs calls f with each run of b's lines that belong to one job.
func (b batch) runs(f func(j *job, run batch, start int)) {
	for start := 0; start < len(b); {
		j := b[start].j
		end := start
		for end < len(b) && b[end].j == j {
			end++
		}
		f(j, b[start:end], start)
		start = end
	}
}
