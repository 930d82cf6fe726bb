package alarms

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/ponte-city/ponte/internal/atomicfile"
)

// stateVersion is the version of the state file's format.
const stateVersion = 1

// stateFile is the state file: every open alarm and the recent closed
// ones, and the last alarm number issued.
type stateFile struct {
	Version int     `json:"version"`
	Seq     uint64  `json:"seq"`
	Alarms  []Alarm `json:"alarms"`
}

// maxStateBytes bounds the state file read at start.
const maxStateBytes = 64 << 20

// decodeState parses and checks a state file.
func decodeState(data []byte) (*stateFile, error) {
	var f stateFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not a state file: %w", err)
	}
	if f.Version != stateVersion {
		return nil, fmt.Errorf("version %d (expected %d)", f.Version, stateVersion)
	}
	seen := map[string]bool{}
	open := map[key]bool{}
	for i, a := range f.Alarms {
		switch {
		case a.ID == "" || a.Rule == "" || a.Entity == "":
			return nil, fmt.Errorf("alarms[%d]: id, rule and entity are required", i)
		case seen[a.ID]:
			return nil, fmt.Errorf("alarms[%d]: id %q twice", i, a.ID)
		case !slices.Contains(states, a.State):
			return nil, fmt.Errorf("alarms[%d]: state %q (expected one of %v)", i, a.State, states)
		case !slices.Contains(severities, a.Severity):
			return nil, fmt.Errorf("alarms[%d]: severity %q (expected one of %v)", i, a.Severity, severities)
		case a.State.open() && open[key{a.Rule, a.Entity}]:
			return nil, fmt.Errorf("alarms[%d]: a second open alarm of rule %q on %q", i, a.Rule, a.Entity)
		case (a.State == Acknowledged || a.State == Closed) && a.Acknowledged == nil:
			return nil, fmt.Errorf("alarms[%d]: state %s without its acknowledgement", i, a.State)
		}
		seen[a.ID] = true
		if a.State.open() {
			open[key{a.Rule, a.Entity}] = true
		}
	}
	return &f, nil
}

// load reads the state file; a missing one is an empty state, a corrupt
// one is renamed aside (so an operator can look at it) and logged.
func (e *Engine) load(now time.Time) error {
	path := e.cfg.StateFile
	if path == "" {
		return nil
	}
	data, err := readCapped(path, maxStateBytes)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("alarms: read state: %w", err)
	}
	f, err := decodeState(data)
	if err != nil {
		aside := fmt.Sprintf("%s.corrupt-%d", path, now.Unix())
		e.log.Error("alarms: the state file is unreadable; starting without its alarms", "file", path, "moved_to", aside, "err", err)
		if rerr := os.Rename(path, aside); rerr != nil {
			return fmt.Errorf("alarms: state %s: %v; and it could not be moved aside: %w", path, err, rerr)
		}
		return nil
	}
	e.seq = max(e.seq, f.Seq)
	for i := range f.Alarms {
		a := &f.Alarms[i]
		k := key{a.Rule, a.Entity}
		e.byID[a.ID] = a
		if !a.State.open() {
			e.closed = append(e.closed, a)
			continue
		}
		e.open[k] = a
		if a.State.active() && e.rule(a.Rule) == nil {
			// Its rule is gone from the config: nothing can clear it.
			e.clear(k, a, now, "rule removed")
		}
	}
	slices.SortStableFunc(e.closed, func(x, y *Alarm) int { return x.UpdatedAt.Compare(y.UpdatedAt) })
	if over := len(e.closed) - e.cfg.MaxClosed; over > 0 {
		for _, old := range e.closed[:over] {
			delete(e.byID, old.ID)
		}
		e.closed = slices.Delete(e.closed, 0, over)
	}
	if len(f.Alarms) > 0 {
		e.log.Info("alarms: loaded", "file", path, "open", len(e.open), "closed", len(e.closed))
	}
	return nil
}

func readCapped(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than a state file may hold (%d)", path, st.Size(), limit)
	}
	data := make([]byte, st.Size())
	_, err = fh.ReadAt(data, 0)
	if err != nil && st.Size() > 0 {
		return nil, err
	}
	return data, nil
}

// save writes the state file if anything changed since the last write.
// Writes are serialised and never run under e.mu.
func (e *Engine) save() {
	if e.shared != nil {
		e.writeMu.Lock()
		defer e.writeMu.Unlock()
		e.saveShared()
		return
	}
	if e.cfg.StateFile == "" {
		return
	}
	e.writeMu.Lock()
	defer e.writeMu.Unlock()
	e.mu.Lock()
	v := e.version
	if v == e.written {
		e.mu.Unlock()
		return
	}
	f := stateFile{Version: stateVersion, Seq: e.seq, Alarms: make([]Alarm, 0, len(e.open)+len(e.closed))}
	for _, a := range e.closed {
		f.Alarms = append(f.Alarms, copyAlarm(a))
	}
	for _, a := range e.open {
		f.Alarms = append(f.Alarms, copyAlarm(a))
	}
	e.mu.Unlock()
	for i := range f.Alarms {
		f.Alarms[i] = finite(f.Alarms[i])
	}
	data, err := json.Marshal(f)
	if err == nil {
		err = atomicfile.Write(e.cfg.StateFile, data, 0o600)
	}
	if err != nil {
		e.m.writeErrors.Inc()
		e.log.Warn("alarms: write state", "file", e.cfg.StateFile, "err", err)
		return
	}
	e.written = v
}
