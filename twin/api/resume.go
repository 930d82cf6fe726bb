package api

import "github.com/ponte-city/ponte/twin"

// resumer is a Reader that can resume from an event ID beyond its LastSeq:
// a twin fed from the replicated applied stream, given an ID another
// instance issued for a batch it has yet to apply (twin.Twin.Resumes).
type resumer interface {
	Resumes(after uint64) bool
}

// resumes reports whether r honours after although it is beyond LastSeq.
func resumes(r twin.Reader, after uint64) bool {
	x, ok := r.(resumer)
	return ok && x.Resumes(after)
}
