package influx

import (
	"strings"
	"sync"
	"time"

	"github.com/ponte-city/ponte/wire"
)

// job is the points of one Write call on their way to InfluxDB.
//
// buf, ends, idx and readings are set before the job is queued and never
// change; taken is guarded by queue.mu; the rest by job.mu.
type job struct {
	buf      []byte         // the lines, each ending in '\n'
	ends     []int          // ends[i] is the offset just past line i in buf
	idx      []int          // idx[i] is the index in readings of line i
	readings []wire.Reading // the caller's, read only while the caller waits
	enq      time.Time      // when the job was queued
	weight   int64          // admission weight to release when done

	taken int // lines handed to the flush loops (queue.mu)

	mu        sync.Mutex
	remaining int        // lines not yet written, rejected or dropped
	rejected  []Rejected // the caller's result
	abandoned bool       // the caller stopped waiting; readings must not be read
	err       error      // why the job ended unwritten (ErrClosed)
	done      chan struct{}
	onDone    func(*job) // releases admission; called once, outside j.mu
}

// line returns line i without its newline.
func (j *job) line(i int) []byte {
	start := 0
	if i > 0 {
		start = j.ends[i-1]
	}
	return j.buf[start : j.ends[i]-1]
}

// finish records that n lines reached an end: written, or rejected (the
// lines listed in rej with their reasons) or dropped with err.
func (j *job) finish(n int, rej []rejectedLine, err error) {
	j.mu.Lock()
	if !j.abandoned {
		for _, r := range rej {
			j.rejected = append(j.rejected, Rejected{Reading: j.readings[j.idx[r.line]], Reason: r.reason})
		}
		if err != nil && j.err == nil {
			j.err = err
		}
	}
	j.remaining -= n
	last := j.remaining == 0
	if last {
		close(j.done)
	}
	j.mu.Unlock()
	if last && j.onDone != nil {
		j.onDone(j)
	}
}

// abandon marks the job as no longer awaited, so that writers stop reading
// the caller's readings and drop its lines not yet sent. It reports false
// when the job had already finished.
func (j *job) abandon() bool {
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

// batch is the lines of one HTTP write, in queue order, so that the lines
// of a job are adjacent. The client reads the lines; only the queue (the
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
