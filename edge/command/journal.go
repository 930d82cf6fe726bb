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
	Expires time.Time    `json:"expires"`
	Report  *wire.Report `json:"report,omitempty"`
}

// journal is the append-only file of command IDs and their outcomes. Each
// line is the CRC-32 (IEEE) of the JSON in 8 hex digits, a space, and a
// record's JSON. A line that is torn (a crash while appending) or whose
// CRC does not match is skipped and counted; the records around it stand.
// Its methods are called with the executor's lock held.
type journal struct {
	path     string
	f        *os.File
	appended int // records since the last compaction
}

// openJournal reads path (creating it if missing), drops the entries
// whose command expired more than Keep before now, rewrites the file
// atomically with what remains and opens it for appending. bad counts
// the lines skipped.
func openJournal(path string, now time.Time) (j *journal, es map[string]*entry, order []string, bad int, err error) {
	es = map[string]*entry{}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, nil, nil, 0, fmt.Errorf("command journal: %w", err)
	default:
		first, rest, _ := bytes.Cut(data, []byte("\n"))
		if string(first) != journalHeader {
			return nil, nil, nil, 0, fmt.Errorf("command journal %s: line 1: %.40q: expected %q", path, first, journalHeader)
		}
		order, bad = replay(rest, es)
	}
	j = &journal{path: path}
	if err := j.compact(es, &order, now); err != nil {
		return nil, nil, nil, 0, err
	}
	return j, es, order, bad, nil
}

// replay applies the journal's records (after the header) to es and
// returns the IDs in order of first appearance and the count of bad lines.
func replay(data []byte, es map[string]*entry) (order []string, bad int) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		rec, ok := parseLine(sc.Bytes())
		if !ok {
			bad++
			continue
		}
		e := es[rec.ID]
		if e == nil {
			e = &entry{id: rec.ID}
			es[rec.ID] = e
			order = append(order, rec.ID)
		}
		switch rec.Kind {
		case recStart:
			e.device, e.point, e.value, e.expires, e.started = rec.Device, rec.Point, rec.Value, rec.Expires, true
		case recFinal:
			e.final = rec.Report
			if e.device == "" {
				e.device, e.point, e.value = rec.Device, rec.Point, rec.Value
			}
			e.expires = rec.Expires
		case recPublished:
			e.published = true
		}
	}
	return order, bad
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
// more than Keep before now, and replaces the file atomically with the
// records of the others; it then reopens the file for appending.
func (j *journal) compact(es map[string]*entry, order *[]string, now time.Time) error {
	buf := []byte(journalHeader + "\n")
	kept := (*order)[:0]
	for _, id := range *order {
		e := es[id]
		if e == nil {
			continue
		}
		if !e.expires.IsZero() && now.After(e.expires.Add(Keep)) && e.idle() {
			delete(es, id)
			continue
		}
		kept = append(kept, id)
		if !e.started && e.final == nil {
			continue // queued only: nothing durable yet
		}
		if e.started {
			buf = appendLine(buf, &record{Kind: recStart, ID: id, Device: e.device, Point: e.point, Value: e.value, Expires: e.expires})
		}
		if e.final != nil {
			buf = appendLine(buf, &record{Kind: recFinal, ID: id, Device: e.device, Point: e.point, Value: e.value, Expires: e.expires, Report: e.final})
		}
		if e.published {
			buf = appendLine(buf, &record{Kind: recPublished, ID: id})
		}
	}
	*order = kept
	if j.f != nil {
		_ = j.f.Close()
		j.f = nil
	}
	if err := atomicfile.Write(j.path, buf, 0o600); err != nil {
		return fmt.Errorf("command journal: compact: %w", err)
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("command journal: %w", err)
	}
	j.f, j.appended = f, 0
	return nil
}

func (j *journal) close() error {
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}
