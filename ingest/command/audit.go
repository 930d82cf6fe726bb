package command

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Audit file names: the file being written, and rotated ones named by
// the sequence number of their first entry (zero-padded, so that names
// sort in order).
const (
	auditFile     = "audit.jsonl"
	rotatedPrefix = "audit-"
	rotatedSuffix = ".jsonl"
	maxAuditLine  = 1 << 20
)

// ErrBrokenAudit is wrapped by the error of a start on a log whose hash
// chain is broken (a line changed, removed or inserted).
var ErrBrokenAudit = errors.New("audit log's hash chain is broken")

// auditLog is the append-only, hash-chained audit log. It is not safe
// for concurrent use: the Service's mutex guards it.
type auditLog struct {
	dir       string
	maxBytes  int64
	retention time.Duration
	now       func() time.Time
	log       *slog.Logger

	f        *os.File
	size     int64
	seq      uint64 // of the last entry
	prev     string // hex SHA-256 of the last line
	firstSeq uint64 // of audit.jsonl's first entry (0: empty)
}

// lineHash is the chain's link: the hex SHA-256 of a line without its
// newline.
func lineHash(line []byte) string {
	s := sha256.Sum256(line)
	return hex.EncodeToString(s[:])
}

// rotatedFiles lists the rotated files of dir in order.
func rotatedFiles(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, de := range des {
		n := de.Name()
		if strings.HasPrefix(n, rotatedPrefix) && strings.HasSuffix(n, rotatedSuffix) && !de.IsDir() {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// openAudit reads the log in dir back, checking its chain, and opens it
// for appending. broken is called for each break when cont allows them;
// otherwise the first break is the error.
func openAudit(cfg *Config, broken func(error)) (*auditLog, []Entry, error) {
	a := &auditLog{dir: cfg.AuditDir, maxBytes: cfg.AuditMaxBytes, retention: cfg.AuditRetention, now: cfg.Now, log: cfg.Logger}
	if err := os.MkdirAll(a.dir, 0o750); err != nil {
		return nil, nil, fmt.Errorf("commands: audit_dir: %w", err)
	}
	a.prune()
	files, err := rotatedFiles(a.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("commands: audit_dir: %w", err)
	}
	var entries []Entry
	anchored := false
	for _, name := range append(files, auditFile) {
		es, err := a.replay(name, &anchored, cfg.ContinueBrokenAudit, broken)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, es...)
	}
	path := filepath.Join(a.dir, auditFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, nil, fmt.Errorf("commands: open audit log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("commands: open audit log: %w", err)
	}
	a.f, a.size = f, st.Size()
	return a, entries, nil
}

// replay reads one file of the log, checking each line's seq and prev
// against the line before (the first line read of all is the anchor:
// rotated files before it may have been removed). A last line without
// its newline is a write cut short by a crash, never acknowledged: it is
// cut off.
func (a *auditLog) replay(name string, anchored *bool, cont bool, broken func(error)) ([]Entry, error) {
	path := filepath.Join(a.dir, name)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("commands: read audit log: %w", err)
	}
	if i := bytes.LastIndexByte(data, '\n'); i != len(data)-1 {
		a.log.Warn("audit log ends in a partial line (a write cut short); cutting it off", "file", path, "bytes", len(data)-(i+1))
		if err := os.Truncate(path, int64(i+1)); err != nil {
			return nil, fmt.Errorf("commands: cut partial line of %s: %w", path, err)
		}
		data = data[:i+1]
	}
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxAuditLine)
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		var e Entry
		err := json.Unmarshal(line, &e)
		switch {
		case err != nil:
			err = fmt.Errorf("%s:%d: %w: expected a JSON audit entry: %v", path, n, ErrBrokenAudit, err)
		case *anchored && e.Seq != a.seq+1:
			err = fmt.Errorf("%s:%d: %w: seq %d, expected %d (a line removed or inserted before it)", path, n, ErrBrokenAudit, e.Seq, a.seq+1)
		case *anchored && e.Prev != a.prev:
			err = fmt.Errorf("%s:%d: %w: prev %.12s... is not the SHA-256 of the line before (%.12s...): that line or an earlier one was changed", path, n, ErrBrokenAudit, e.Prev, a.prev)
		}
		if err != nil {
			if !cont {
				return nil, fmt.Errorf("commands: %w (commands.audit_continue_broken: true starts anyway)", err)
			}
			broken(err)
		}
		*anchored = true
		a.prev = lineHash(line)
		if e.Seq > a.seq || err == nil {
			a.seq = e.Seq
		}
		if name == auditFile && a.firstSeq == 0 {
			a.firstSeq = e.Seq
		}
		if json.Valid(line) && e.Command != "" {
			out = append(out, e)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("commands: read %s: %w", path, err)
	}
	return out, nil
}

// append writes e as the next line, with its seq and prev, and syncs it
// to disk before returning. On an error nothing is appended.
func (a *auditLog) append(e *Entry) error {
	e.Seq, e.Prev = a.seq+1, a.prev
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit entry: %w", err)
	}
	n, err := a.f.Write(append(line, '\n'))
	if err == nil {
		err = a.f.Sync()
	}
	if err != nil {
		// Take a partial line back, so that the next one starts clean.
		_ = a.f.Truncate(a.size)
		return fmt.Errorf("append to audit log %s: %w", a.f.Name(), err)
	}
	a.size += int64(n)
	a.seq, a.prev = e.Seq, lineHash(line)
	if a.firstSeq == 0 {
		a.firstSeq = e.Seq
	}
	if a.size >= a.maxBytes {
		if err := a.rotate(); err != nil {
			// The entry is written; a rotation is retried on the next one.
			a.log.Error("audit log rotation failed", "err", err)
		}
	}
	return nil
}

// rotate renames audit.jsonl to audit-<first seq>.jsonl and starts a new
// one; the chain continues (the next line's prev is this file's last
// line's hash). Then it removes rotated files past the retention.
func (a *auditLog) rotate() error {
	path := filepath.Join(a.dir, auditFile)
	to := filepath.Join(a.dir, rotatedPrefix+fmt.Sprintf("%020d", a.firstSeq)+rotatedSuffix)
	if err := os.Rename(path, to); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if d, err := os.Open(a.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	a.f.Close()
	a.f, a.size, a.firstSeq = f, 0, 0
	a.prune()
	return nil
}

// prune removes rotated files last written before the retention.
func (a *auditLog) prune() {
	files, err := rotatedFiles(a.dir)
	if err != nil {
		return
	}
	cut := a.now().Add(-a.retention)
	for _, n := range files {
		p := filepath.Join(a.dir, n)
		if st, err := os.Stat(p); err == nil && st.ModTime().Before(cut) {
			if err := os.Remove(p); err == nil {
				a.log.Info("audit log file past its retention removed", "file", p)
			}
		}
	}
}

// auditSnapshot is the log as it stood when taken: its rotated files by
// name and the current file, open, up to its size then. It is read
// without the Service's mutex: rotated files do not change (one removed
// by the retention meanwhile is skipped), and the open current file is
// read only up to the size captured, even if it is rotated meanwhile.
type auditSnapshot struct {
	dir     string
	rotated []string
	cur     *os.File
	size    int64
}

// snapshot takes a snapshot of the log; the Service's mutex is held.
func (a *auditLog) snapshot() (*auditSnapshot, error) {
	files, err := rotatedFiles(a.dir)
	if err != nil {
		return nil, fmt.Errorf("list audit files: %w", err)
	}
	f, err := os.Open(filepath.Join(a.dir, auditFile))
	if err != nil {
		return nil, fmt.Errorf("open audit log: %w", err)
	}
	return &auditSnapshot{dir: a.dir, rotated: files, cur: f, size: a.size}, nil
}

// read calls fn with the snapshot's entries in order until fn says stop
// (the API's audit view reads the files, not memory), and closes it.
func (s *auditSnapshot) read(fn func(e *Entry) bool) error {
	defer s.cur.Close()
	for _, name := range s.rotated {
		f, err := os.Open(filepath.Join(s.dir, name))
		if err != nil {
			continue // removed by the retention meanwhile
		}
		stop := readLines(f, fn)
		f.Close()
		if stop {
			return nil
		}
	}
	readLines(io.LimitReader(s.cur, s.size), fn)
	return nil
}

// readLines decodes r's lines; it reports whether fn asked to stop.
func readLines(r io.Reader, fn func(e *Entry) bool) bool {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxAuditLine)
	for sc.Scan() {
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		if !fn(&e) {
			return true
		}
	}
	return false
}

// close closes the file.
func (a *auditLog) close() error { return a.f.Close() }
