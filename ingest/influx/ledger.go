package influx

// The queue as the client's ledger: how the lines of a delivered batch
// end, reported back to the Write calls waiting for them.

// prune implements ledger: it drops from b, in place, the lines whose
// callers stopped waiting, counting them as abandoned.
func (q *queue) prune(b batch) batch {
	out := b[:0]
	b.runs(func(j *job, run batch, _ int) {
		if j.isAbandoned() {
			q.m.abandoned.Add(float64(run.readings()))
			j.finish(len(run), nil, nil)
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
// again. A refused line of several readings is not rejected whole: it is
// split into a line per reading (encoder.split), returned to be sent
// again, so that only the readings InfluxDB refuses on their own are
// rejected. It returns the lines to send again; count, when not nil, is
// given the readings it rejected before any of b's callers is woken.
func (q *queue) refused(b batch, bad map[int]string, count func(rejected int)) (rest batch) {
	type settle struct {
		j   *job
		rej []rejectedLine
	}
	var settles []settle
	rejected := 0
	rest = make(batch, 0, len(b))
	b.runs(func(j *job, run batch, start int) {
		var rej []rejectedLine
		for k, r := range run {
			why, ok := bad[start+k]
			switch {
			case !ok:
				rest = append(rest, r)
			case len(j.lineReadings(r.i)) > 1:
				p := q.enc.split(j, r.i)
				for i := range p.ends {
					rest = append(rest, ref{j: p, i: i})
				}
			default:
				rej = append(rej, rejectedLine{line: r.i, reason: why})
				rejected += len(j.lineReadings(r.i))
			}
		}
		if len(rej) > 0 {
			settles = append(settles, settle{j, rej})
		}
	})
	// Counted before any caller is woken, so that Stats agrees with what
	// Write returned.
	if count != nil {
		count(rejected)
	}
	for _, st := range settles {
		st.j.finish(len(st.rej), st.rej, nil)
	}
	return rest
}

// failed implements ledger: the lines of b end unwritten with err.
func (q *queue) failed(b batch, err error) {
	b.runs(func(j *job, run batch, _ int) { j.finish(len(run), nil, err) })
}
