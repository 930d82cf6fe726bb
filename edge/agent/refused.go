package agent

import (
	"time"

	"github.com/ponte-city/ponte/wire"
)

// StateRefused is the state of a device whose readings ingest refuses:
// every reading of it in the last batch ingest reported on was refused
// (dead-lettered centrally), and no later reading of it has been
// acknowledged without refusal since. The device answers the gateway, but
// nothing of it reaches the time series or the twin.
const StateRefused = "refused"

// refusal is what ingest reported refusing of one device (wire.Ack.Refused).
type refusal struct {
	count        uint64 // readings refused since the agent started
	reason       string
	detail       string
	point, value string
	time         time.Time // acquisition time of the last refused reading
	at           time.Time // when the report arrived
	// seq is the last refused reading's sequence number.
	seq uint64
	// all is set while the device counts as refused (StateRefused).
	all bool
	// clearAt is the sequence number of a reading of the device after
	// seq; an acknowledgement reaching it without a new report of the
	// device clears all (0: no such reading yet).
	clearAt uint64
	// gaugeSet and gaugeAll are what ponte_edge_device_refused was last
	// set to for the device, if it was.
	gaugeSet, gaugeAll bool
}

// RefusedStatus is what ingest refused of a device, in DeviceStatus.
type RefusedStatus struct {
	// Readings is how many readings of the device ingest refused since
	// the agent started (they are dead-lettered centrally and freed here).
	Readings uint64 `json:"readings"`
	// Reason and Detail say why the last was refused, e.g.
	// "time_out_of_range" and the accepted window.
	Reason string `json:"reason"`
	Detail string `json:"detail,omitempty"`
	// Point, Value and Time are the last refused reading's point, value
	// and acquisition time: the offending value.
	Point string    `json:"point"`
	Value string    `json:"value"`
	Time  time.Time `json:"time"`
	// At is when ingest reported it.
	At time.Time `json:"at"`
}

// acked applies an acknowledgement ingest sent (the uplink's OnAck, on
// paho's goroutine): refusals it reports, then the acknowledged mark,
// which clears a device whose later readings got through.
func (r *recorder) acked(a wire.Ack) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for _, rf := range a.Refused {
		d := r.devs[rf.Device]
		if d == nil {
			continue // not (or no longer) a device of this site
		}
		ref := &d.refused
		ref.count += uint64(rf.Count)
		ref.at = now
		if rf.LastSeq < ref.seq {
			continue // an older batch's report, after a newer one
		}
		ref.seq, ref.reason, ref.detail = rf.LastSeq, rf.Reason, rf.Detail
		ref.point, ref.value, ref.time = rf.LastPoint, rf.LastValue, rf.LastTime
		ref.all, ref.clearAt = rf.Accepted == 0, 0
		if d.lastSeq > rf.LastSeq {
			ref.clearAt = d.lastSeq
		}
	}
	for name, d := range r.devs {
		if d.refused.all && d.refused.clearAt != 0 && a.Seq >= d.refused.clearAt {
			d.refused.all = false
		}
		// The gauge is set when it changes (and once per device), not on
		// every ack: at 100 acks/s over 1,000 devices the label lookups
		// were a tenth of the agent's CPU.
		if r.m != nil && (!d.refused.gaugeSet || d.refused.gaugeAll != d.refused.all) {
			v := 0.0
			if d.refused.all {
				v = 1
			}
			r.m.refused.WithLabelValues(name).Set(v)
			d.refused.gaugeSet, d.refused.gaugeAll = true, d.refused.all
		}
	}
}

// appended records that a reading of d got sequence number seq.
func (d *deviceState) appended(seq uint64) {
	d.lastSeq = seq
	if d.refused.all && d.refused.clearAt == 0 && seq > d.refused.seq {
		d.refused.clearAt = seq
	}
}

// status returns the device's refusals for /status (nil if none).
func (f *refusal) status() *RefusedStatus {
	if f.count == 0 {
		return nil
	}
	return &RefusedStatus{Readings: f.count, Reason: f.reason, Detail: f.detail, Point: f.point, Value: f.value,
		Time: f.time.UTC(), At: f.at.UTC()}
}
