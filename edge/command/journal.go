package command

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"strconv"
	"time"

	"github.com/ponte-city/ponte/internal/atomicfile"
	"github.com/ponte-city/ponte/wire"
)

// JournalFile is the journal's file name in Config.Dir.
const JournalFile = "commands.journal"

// journalHeader is the journal's first line: its format and version.
const journalHeader = "ponte-commands v1"

// Keep is how long after its command's expiry a journal entry is kept:
// long enough that no resend of the command can still arrive (ingest
// stops resending at the expiry; a broker may hold a message a little
// longer), short enough that the journal stays small.
const Keep = 24 * time.Hour

// compactEvery is how many records are appended between compactions.
const compactEvery = 1000

// compactRetry is how many records are appended before a compaction that
// failed (a full disk) is tried again; the journal keeps growing in the
// meantime, in its old file.
const compactRetry = 100

// MaxUnpublished bounds the final reports kept that the broker never
// acknowledged. They are never dropped by age (a gateway offline over a
// weekend still owes ingest its applied reports); past this count the
// oldest are dropped and counted
// (ponte_edge_command_journal_dropped_total).
const MaxUnpublished = 10000

// Kinds of journal records.
const (
	recStart     = "start"     // the command is about to be written (fsynced first)
	recFinal     = "final"     // its final report (fsynced before it is published)
	recPublished = "published" // the broker acknowledged the final report
)

// record is one line of the journal after its CRC: JSON, so that a
// technician can read the file with less.
type record struct {
	Kind    string       `json:"k"`
	ID      string       `json:"id"`
	Device  string       `json:"device,omitempty"`
	Point   string       `json:"point,omitempty"`
	Value   float64      `json:"value"`
	Text    string       `json:"text,omitempty"`
	Expires time.Time    `json:"expires"`
	Report  *wire.Report `json:"report,omitempty"`
	// At is when the record was first appended, by the gateway's clock:
	// compaction never judges age against a clock that is before the
	// journal's newest record (a clock that was ahead, then corrected).
	At time.Time `json:"at,omitzero"`
}

// journal is the append-only file of command IDs and their outcomes. Each
// line is the CRC-32 (IEEE) of the JSON in 8 hex digits, a space, and a
// record's JSON. A line that is torn (a crash while appending) or whose
// CRC does not match is skipped and counted; the records around it stand.
// Its methods are called with the executor's lock held.
type journal struct {
	path     string
	f        *os.File // nil after a failed reopen: append opens it again
	appended int      // records since the last compaction
	newest   time.Time
	now      func() time.Time
	replace  func(path string, data []byte, perm os.FileMode) error // atomicfile.Write; a test's failing disk
}

// errUnreadable marks an existing journal that cannot be read (no header:
// another file, or damaged): the executor refuses every command rather
// than guess, since the IDs it holds might be lost.
var errUnreadable = errors.New("command journal unreadable")

// loaded is what openJournal found.
type loaded struct {
	es      map[string]*entry
	order   []string
	bad     int   // lines skipped
	dropped int   // unpublished reports dropped by MaxUnpublished
	compact error // the compaction failed; the old file is appended to
}

// openJournal reads path (creating it if missing or empty: a crash right
// after its creation), compacts it (see compact), and opens it for
// appending. An error wrapping errUnreadable says the file exists but is
// not a journal.
func openJournal(path string, now func() time.Time) (*journal, *loaded, error) {
	es := map[string]*entry{}
	var order []string
	var bad int
	j := &journal{path: path, now: now, replace: atomicfile.Write}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist), err == nil && len(data) == 0:
	case err != nil:
		return nil, nil, fmt.Errorf("%w: %s: %w", errUnreadable, path, err)
	default:
		first, rest, _ := bytes.Cut(data, []byte("\n"))
		if string(first) != journalHeader {
			return nil, nil, fmt.Errorf("%w: %s: line 1: %.40q: expected %q", errUnreadable, path, first, journalHeader)
		}
		order, bad, j.newest = replay(rest, es)
	}
	dropped, cerr := j.compact(es, &order)
	if cerr != nil && len(data) == 0 {
		return nil, nil, cerr // no journal to fall back on
	}
	if cerr != nil && j.f == nil { // not compacted: append to the old file
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("command journal: %w", err)
		}
		j.f = f
	}
	return j, &loaded{es: es, order: order, bad: bad, dropped: dropped, compact: cerr}, nil
}

// replay applies the journal's records (after the header) to es and
// returns the IDs in order of first appearance, the count of bad lines
// and the newest record's time.
func replay(data []byte, es map[string]*entry) (order []string, bad int, newest time.Time) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		rec, ok := parseLine(sc.Bytes())
		if !ok {
			bad++
			continue
		}
		newest = later(newest, rec.At)
		if rec.Report != nil {
			newest = later(newest, rec.Report.At)
		}
		e := es[rec.ID]
		if e == nil {
			e = &entry{id: rec.ID}
			es[rec.ID] = e
			order = append(order, rec.ID)
		}
		switch rec.Kind {
		case recStart:
			e.device, e.point, e.value, e.text, e.expires, e.started, e.startAt = rec.Device, rec.Point, rec.Value, rec.Text, rec.Expires, true, rec.At
		case recFinal:
			e.final = rec.Report
			if e.device == "" {
				e.device, e.point, e.value, e.text = rec.Device, rec.Point, rec.Value, rec.Text
			}
			e.expires = rec.Expires
		case recPublished:
			e.published, e.pubAt = true, rec.At
		}
	}
	return order, bad, newest
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// parseLine checks one line's CRC and decodes its record.
func parseLine(line []byte) (record, bool) {
	var rec record
	sum, body, ok := bytes.Cut(line, []byte(" "))
	if !ok || len(sum) != 8 {
		return rec, false
	}
	want, err := strconv.ParseUint(string(sum), 16, 32)
	if err != nil || crc32.ChecksumIEEE(body) != uint32(want) {
		return rec, false
	}
	if json.Unmarshal(body, &rec) != nil || !wire.ValidCommandID(rec.ID) {
		return rec, false
	}
	switch rec.Kind {
	case recStart, recPublished:
	case recFinal:
		if rec.Report == nil {
			return rec, false
		}
	default:
		return rec, false
	}
	return rec, true
}

// appendLine formats rec as a journal line.
func appendLine(b []byte, rec *record) []byte {
	body, _ := json.Marshal(rec) // plain fields: cannot fail
	b = fmt.Appendf(b, "%08x ", crc32.ChecksumIEEE(body))
	b = append(b, body...)
	return append(b, '\n')
}

// append writes rec at the end of the journal; sync waits until it is on
// disk (fsync), as a start and a final record must be before the step
// they record is taken.
func (j *journal) append(rec *record, sync bool) error {
	if j.f == nil { // a compaction could not reopen it
		f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("command journal %s: reopen: %w", j.path, err)
		}
		j.f = f
	}
	if rec.At.IsZero() {
		rec.At = j.now().UTC()
	}
	j.newest = later(j.newest, rec.At)
	if _, err := j.f.Write(appendLine(nil, rec)); err != nil {
		return fmt.Errorf("command journal %s: append %s %s: %w", j.path, rec.Kind, rec.ID, err)
	}
	j.appended++
	if sync {
		if err := j.f.Sync(); err != nil {
			return fmt.Errorf("command journal %s: fsync after %s %s: %w", j.path, rec.Kind, rec.ID, err)
		}
	}
	return nil
}

// due reports whether enough was appended to compact again.
func (j *journal) due() bool { return j.appended >= compactEvery }

// compact drops from es (and order) the entries whose command expired
// more than Keep ago, and replaces the file atomically with the records of
// the others; it then appends to the new file. Age is judged against
// min(now, the newest record's time), and nothing is dropped by age while
// the clock is before the newest record: a gateway that booted with its
// clock days ahead, then corrected by NTP, must not forget IDs ingest may
// still resend. A final report the broker never acknowledged is not
// dropped by age; past MaxUnpublished of them the oldest are, and counted
// in dropped. When the new file cannot be written (a full disk), es and
// the old file stay as they were and compaction is tried again after
// compactRetry more records.
func (j *journal) compact(es map[string]*entry, order *[]string) (dropped int, err error) {
	now := j.now()
	ageOK := !now.Before(j.newest)
	ref := now
	if !j.newest.IsZero() && j.newest.Before(now) {
		ref = j.newest
	}
	unpublished := 0
	for _, id := range *order {
		if e := es[id]; e != nil && e.final != nil && !e.published && e.idle() {
			unpublished++
		}
	}
	buf := []byte(journalHeader + "\n")
	var kept, gone []string
	for _, id := range *order {
		e := es[id]
		if e == nil {
			continue
		}
		if e.idle() {
			owed := e.final != nil && !e.published
			switch {
			case owed && unpublished > MaxUnpublished:
				unpublished--
				dropped++
				gone = append(gone, id)
				continue
			case !owed && ageOK && !e.expires.IsZero() && ref.After(e.expires.Add(Keep)):
				gone = append(gone, id)
				continue
			}
		}
		kept = append(kept, id)
		if !e.started && e.final == nil {
			continue // queued only: nothing durable yet
		}
		if e.started {
			buf = appendLine(buf, &record{Kind: recStart, ID: id, Device: e.device, Point: e.point, Value: e.value, Text: e.text, Expires: e.expires, At: e.startAt})
		}
		if e.final != nil {
			buf = appendLine(buf, &record{Kind: recFinal, ID: id, Device: e.device, Point: e.point, Value: e.value, Text: e.text, Expires: e.expires, Report: e.final, At: e.final.At})
		}
		if e.published {
			buf = appendLine(buf, &record{Kind: recPublished, ID: id, At: e.pubAt})
		}
	}
	if err := j.replace(j.path, buf, 0o600); err != nil {
		j.appended = compactEvery - compactRetry
		return 0, fmt.Errorf("command journal: compact (the old file is kept): %w", err)
	}
	for _, id := range gone {
		delete(es, id)
	}
	*order = kept
	if j.f != nil {
		_ = j.f.Close() // the replaced file
		j.f = nil
	}
	j.appended = 0
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return dropped, fmt.Errorf("command journal: reopen after compaction (tried again at the next record): %w", err)
	}
	j.f = f
	return dropped, nil
}

func (j *journal) close() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
