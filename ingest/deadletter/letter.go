package deadletter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/ponte-city/ponte/wire"
)

// MaxEntries bounds the readings a letter describes one by one; the
// payload keeps them all.
const MaxEntries = 1000

// replayedExt is the file recording a letter's replay.
const replayedExt = ".replayed"

// Letter describes one refused payload.
type Letter struct {
	// ID names the letter's files (<ID>.bin, <ID>.json): arrival time and
	// a counter, so IDs sort oldest first.
	ID string `json:"id"`
	// Reason is a short snake_case cause, also the metric label
	// (e.g. "corrupt", "gateway_mismatch", "time_out_of_range").
	Reason string `json:"reason"`
	// Detail is the full error text: for refused readings, the rule they
	// broke (the accepted time window, the device list).
	Detail string `json:"detail,omitempty"`
	// Transport is "mqtt", "http" or "replay".
	Transport string `json:"transport,omitempty"`
	// Topic is the MQTT topic (or HTTP path) it arrived on.
	Topic string `json:"topic,omitempty"`
	// Gateway is the gateway the transport vouched for.
	Gateway string `json:"gateway,omitempty"`
	// Epoch is the batch's buffer epoch, when the payload decodes.
	Epoch uint64 `json:"epoch,omitempty"`
	// Time is when it was dead-lettered.
	Time time.Time `json:"time"`
	// Bytes is the payload size.
	Bytes int `json:"bytes"`
	// Readings is how many readings the payload holds, when known.
	Readings int `json:"readings,omitempty"`
	// Entries are the refused readings (up to MaxEntries), when the
	// payload decodes as a batch: which device and point, and the
	// offending time and value.
	Entries []Entry `json:"entries,omitempty"`
	// EntriesOmitted counts readings beyond MaxEntries.
	EntriesOmitted int `json:"entries_omitted,omitempty"`
	// Window is the acquisition-time window ingest accepted when it
	// refused the readings for their time ("time_out_of_range"); nil for
	// other reasons and in letters written before it was recorded.
	Window *Window `json:"window,omitempty"`
	// Replayed is set once the letter was replayed (see MarkReplayed).
	Replayed *Replay `json:"replayed,omitempty"`
}

// Entry is one refused reading.
type Entry struct {
	Seq     uint64    `json:"seq"`
	Device  string    `json:"device"`
	Point   string    `json:"point"`
	Time    time.Time `json:"time"`
	Value   string    `json:"value"`
	Unit    string    `json:"unit,omitempty"`
	Quality string    `json:"quality,omitempty"`
}

// Window is the window of acquisition times ingest accepts at a moment:
// From is its clock minus max_age, To its clock plus max_future.
type Window struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
}

// Contains reports whether t is inside the window (ends included).
func (w Window) Contains(t time.Time) bool { return !t.Before(w.From) && !t.After(w.To) }

// Replay records a replay of a letter through ingest's pipeline.
type Replay struct {
	Time         time.Time `json:"time"`
	Written      int       `json:"written"`
	Duplicates   int       `json:"duplicates"`
	DeadLettered int       `json:"dead_lettered"`
}

// describe fills l's Epoch, Readings and Entries from payload when it is
// a wire batch; anything else (a corrupt payload) is left to Detail.
func describe(l *Letter, payload []byte) {
	b, err := wire.Decode(payload)
	if err != nil {
		return
	}
	l.Epoch = b.Epoch
	if l.Readings == 0 {
		l.Readings = len(b.Readings)
	}
	n := min(len(b.Readings), MaxEntries)
	l.EntriesOmitted = len(b.Readings) - n
	l.Entries = make([]Entry, n)
	for i := range n {
		r := &b.Readings[i]
		e := Entry{Seq: b.Seqs[i], Device: r.Device, Point: r.Point, Time: r.Time, Value: r.Value.String(), Unit: r.Unit}
		if !r.Quality.Good() {
			e.Quality = r.Quality.String()
			if r.Reason != "" {
				e.Quality += ": " + r.Reason
			}
		}
		l.Entries[i] = e
	}
}

// ErrNotFound is wrapped by Read's error when no letter has the ID.
var ErrNotFound = errors.New("no such dead letter")

// validID matches letter IDs as Put makes them; Read accepts nothing else,
// so an ID from a URL cannot name another file.
var validID = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{9}Z-[0-9]{6}$`)

// ValidID reports whether id has the form of a letter ID.
func ValidID(id string) bool { return validID.MatchString(id) }

// readLetter reads the letter id of dir, with its replay record.
func readLetter(dir, id string) (Letter, error) {
	var l Letter
	data, err := os.ReadFile(filepath.Join(dir, id+".json"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return l, fmt.Errorf("dead_letter: %s in %s: %w", id, dir, ErrNotFound)
		}
		return l, fmt.Errorf("dead_letter: read %s: %w", id, err)
	}
	if err := json.Unmarshal(data, &l); err != nil {
		return l, fmt.Errorf("dead_letter: parse %s.json: %w", id, err)
	}
	if l.ID == "" { // letters written before IDs were recorded
		l.ID = id
	}
	if data, err := os.ReadFile(filepath.Join(dir, id+replayedExt)); err == nil {
		var r Replay
		if json.Unmarshal(data, &r) == nil {
			l.Replayed = &r
		}
	}
	return l, nil
}

// Read returns the letter id of dir and its payload.
func Read(dir, id string) (Letter, []byte, error) {
	if !ValidID(id) {
		return Letter{}, nil, fmt.Errorf("dead_letter: %q is not a letter ID (expected e.g. 20261122T101502.123456789Z-000042): %w", id, ErrNotFound)
	}
	l, err := readLetter(dir, id)
	if err != nil {
		return l, nil, err
	}
	payload, err := os.ReadFile(filepath.Join(dir, id+".bin"))
	if err != nil {
		return l, nil, fmt.Errorf("dead_letter: read payload of %s: %w", id, err)
	}
	return l, payload, nil
}

// MarkReplayed records that letter id was replayed, so that list and
// show say so; the letter stays as evidence.
func MarkReplayed(dir, id string, r Replay) error {
	if !ValidID(id) {
		return fmt.Errorf("dead_letter: %q is not a letter ID: %w", id, ErrNotFound)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("dead_letter: encode replay of %s: %w", id, err)
	}
	if err := os.WriteFile(filepath.Join(dir, id+replayedExt), append(data, '\n'), FileMode); err != nil {
		return fmt.Errorf("dead_letter: record replay of %s: %w", id, err)
	}
	return nil
}

// List returns the letters in the directory, oldest first, for tools.
func List(dir string) ([]Letter, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dead_letter: list %s: %w", dir, err)
	}
	var out []Letter
	for _, e := range ents {
		name := e.Name()
		if filepath.Ext(name) != ".json" {
			continue
		}
		l, err := readLetter(dir, name[:len(name)-len(".json")])
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// ReplayResult is ingest's answer to a replay of a letter (POST
// /api/v1/deadletters/{id}/replay), as ingest writes it and ponte-ctl
// reads it; a refused replay answers only Error.
type ReplayResult struct {
	ID string `json:"id,omitempty"`
	// Path is "letter" (the letter's own dedup ledger) or "pipeline" (the
	// gateway's live pipeline and dedup).
	Path         string `json:"path,omitempty"`
	Written      int    `json:"written"`
	Duplicates   int    `json:"duplicates"`
	DeadLettered int    `json:"dead_lettered"`
	Message      string `json:"message,omitempty"`
	Error        string `json:"error,omitempty"`
}
