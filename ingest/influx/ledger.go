package influx

// The queue as the client's ledger: how the lines of a delivered batch
// end, reported back to the Write calls waiting for them.

// prune implements ledger: it drops from b, in place, the lines whose
// callers stopped waiting, counting them as abandoned.
func (q *queue) prune(b batch) batch {
	out := b[:0]
	b.runs(func(j *job, run batch, _ int) {
		if j.isAbandoned() {
			q.abandonedLines(j, len(run))
		} else {
			out = append(out, run...)
		}
	})
	return out
}

// written implements ledger: every line of b was written.
func (q *queue) written(b batch) {
	b.runs(func(j *job, run batch, _ int) { j.finish(len(run), nil, nil) })
}

// refused implements ledger: the lines of b that bad names (by index in b)
// are rejected with their reasons; the others are returned, to be sent
// again.
func (q *queue) refused(b batch, bad map[int]string) (rest batch) {
	rest = make(batch, 0, len(b)-len(bad))
	b.runs(func(j *job, run batch, start int) {
		var rej []rejectedLine
		for k, r := range run {
			if why, ok := bad[start+k]; ok {
				rej = append(rej, rejectedLine{line: r.i, reason: why})
			} else {
				rest = append(rest, r)
			}
		}
		if len(rej) > 0 {
			j.finish(len(rej), rej, nil)
		}
	})
	return rest
}

// failed implements ledger: the lines of b end unwritten with err.
func (q *queue) failed(b batch, err error) {
	b.runs(func(j *job, run batch, _ int) { j.finish(len(run), nil, err) })
}
