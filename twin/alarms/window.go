package alarms

import (
	"math"
	"time"
)

// windowBuckets is how many buckets a rolling window is cut into: the
// window's edge moves in steps of Window/windowBuckets, and one (rule,
// site) pair costs at most this many buckets however often it reports.
const windowBuckets = 60

// window is a rolling mean over a duration, kept as sums per bucket.
// Samples are placed by their acquisition time; those older than the
// oldest bucket kept are dropped.
type window struct {
	width   time.Duration
	buckets []bucket // ascending idx
}

type bucket struct {
	idx int64
	sum float64
	n   int
}

func newWindow(d time.Duration) *window {
	w := max(d/windowBuckets, time.Millisecond)
	return &window{width: w}
}

// add records a sample (already transformed for the mean).
func (w *window) add(t time.Time, v float64) {
	idx := t.UnixNano() / int64(w.width)
	n := len(w.buckets)
	switch {
	case n == 0 || idx > w.buckets[n-1].idx:
		w.buckets = append(w.buckets, bucket{idx: idx, sum: v, n: 1})
	default:
		for i := n - 1; i >= 0; i-- {
			if w.buckets[i].idx == idx {
				w.buckets[i].sum += v
				w.buckets[i].n++
				return
			}
			if w.buckets[i].idx < idx {
				break // a gap in the past: the sample is dropped
			}
		}
		return
	}
	if len(w.buckets) > windowBuckets+1 {
		w.buckets = append(w.buckets[:0], w.buckets[len(w.buckets)-windowBuckets-1:]...)
	}
}

// mean returns the mean of the samples within the window ending at now;
// ok is false when there are none.
func (w *window) mean(now time.Time) (float64, bool) {
	from := now.UnixNano()/int64(w.width) - windowBuckets
	var sum float64
	var n int
	drop := 0
	for i, b := range w.buckets {
		if b.idx <= from {
			drop = i + 1
			continue
		}
		sum += b.sum
		n += b.n
	}
	if drop > 0 {
		w.buckets = append(w.buckets[:0], w.buckets[drop:]...)
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

// toMean and fromMean transform values for the rule's mean: sound levels
// are averaged as energies.
func toMean(m Mean, v float64) float64 {
	if m == Energy {
		return math.Pow(10, v/10)
	}
	return v
}

func fromMean(m Mean, v float64) float64 {
	if m == Energy {
		return 10 * math.Log10(v)
	}
	return v
}
