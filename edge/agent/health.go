package agent

// current is the device's state as /status shows it: what its latest
// readings said (StateOK, StateFailing, StateUnknown), except that a
// device read well whose every reading ingest refuses is StateRefused.
func (s *deviceState) current() string {
	if s.refused.all && s.state == StateOK {
		return StateRefused
	}
	return s.state
}

// deviceCounts counts the tracked devices by their /status state, for the
// uplink's status message (wire.Health): up is StateOK, bad is
// StateFailing or StateRefused (its last poll or message had no good
// reading, which includes an MQTT device silent past its expected
// interval, since the source then emits bad readings for it; or ingest
// refuses it). A device not read yet (StateUnknown) is neither: it has
// not had a chance to fail. It is safe for concurrent use.
func (r *recorder) deviceCounts() (up, bad int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.devs {
		switch d.current() {
		case StateOK:
			up++
		case StateFailing, StateRefused:
			bad++
		}
	}
	return up, bad
}
