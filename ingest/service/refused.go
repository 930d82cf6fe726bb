package service

import (
	"slices"
	"strings"
	"time"

	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/wire"
)

// refusal is one group of readings of a batch dead-lettered together:
// the letter they went into (reason, detail, window) and the readings.
type refusal struct {
	letter deadletter.Letter
	b      *wire.Batch
}

// windowAt returns the acquisition times ingest accepts at now.
func windowAt(now time.Time, maxAge, maxFuture time.Duration) *deadletter.Window {
	now = now.UTC()
	return &deadletter.Window{From: now.Add(-maxAge), To: now.Add(maxFuture)}
}

// refusedSummary is the acknowledgement's account of what ingest refused
// of a batch (wire.Ack.Refused): per device, by name, the readings refused
// and those written (good), and the refused reading with the highest
// sequence number. Devices beyond wire.MaxRefusedDevices are counted, not
// listed.
func refusedSummary(refusals []refusal, good *wire.Batch) ([]wire.Refused, int) {
	byDev := map[string]*wire.Refused{}
	for _, rf := range refusals {
		detail := rf.letter.Detail
		if w := rf.letter.Window; w != nil {
			detail = "accepted window " + w.From.Format(time.RFC3339) + " to " + w.To.Format(time.RFC3339)
		}
		for i := range rf.b.Readings {
			r, seq := &rf.b.Readings[i], rf.b.Seqs[i]
			e := byDev[r.Device]
			if e == nil {
				e = &wire.Refused{Device: r.Device}
				byDev[r.Device] = e
			}
			e.Count++
			if seq >= e.LastSeq {
				e.LastSeq, e.LastPoint, e.LastTime = seq, r.Point, r.Time
				e.LastValue = clip(r.Value.String())
				e.Reason, e.Detail = rf.letter.Reason, clip(detail)
			}
		}
	}
	for i := range good.Readings {
		if e := byDev[good.Readings[i].Device]; e != nil {
			e.Accepted++
		}
	}
	out := make([]wire.Refused, 0, len(byDev))
	for _, e := range byDev {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b wire.Refused) int { return strings.Compare(a.Device, b.Device) })
	if len(out) > wire.MaxRefusedDevices {
		return out[:wire.MaxRefusedDevices], len(out) - wire.MaxRefusedDevices
	}
	return out, 0
}

// clip bounds a text of the summary to wire.MaxRefusedText bytes, on a
// rune boundary.
func clip(s string) string {
	if len(s) <= wire.MaxRefusedText {
		return s
	}
	return strings.ToValidUTF8(s[:wire.MaxRefusedText-3], "") + "..."
}
