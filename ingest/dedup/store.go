package dedup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// FileName is the name of the state file inside Config.Dir.
const FileName = "state.json"

// Config configures a Store.
type Config struct {
	// Dir holds the state file; it is created if missing.
	Dir string
	// MaxEpochs is how many epochs per gateway are remembered (default 4).
	MaxEpochs int
	// Logger receives state changes (default slog.Default()).
	Logger *slog.Logger
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("dedup: dir: required (the directory holding the dedup state)")
	}
	if c.MaxEpochs < 0 {
		return fmt.Errorf("dedup: max_epochs: %d (expected >= 1)", c.MaxEpochs)
	}
	if c.MaxEpochs == 0 {
		c.MaxEpochs = 4
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// ErrCorruptState is returned by Open when the state file cannot be parsed.
// Ingest refuses to start rather than forget what it wrote; the operator
// decides (moving the file away means replays are written and applied once
// more).
var ErrCorruptState = errors.New("corrupt dedup state")

// Store is the persistent high-water mark per (gateway, epoch).
//
// Store is safe for concurrent use. High and Advance for different
// gateways run in parallel; the caller serialises the batches of one
// gateway (a failed Advance leaves the new mark in memory but not on disk,
// and must be retried before that gateway's next batch is looked at).
type Store struct {
	cfg  Config
	path string

	mu    sync.Mutex
	state map[string]map[uint64]mark
	gen   uint64 // bumped by each change

	flushMu sync.Mutex
	flushed uint64 // gen covered by the file (guarded by flushMu)
}

type mark struct {
	Seq  uint64    `json:"seq"`
	Seen time.Time `json:"seen"`
}

// fileState is the on-disk form.
type fileState struct {
	Version  int                   `json:"version"`
	Gateways map[string][]fileMark `json:"gateways"`
}

type fileMark struct {
	Epoch uint64    `json:"epoch"`
	Seq   uint64    `json:"seq"`
	Seen  time.Time `json:"seen"`
}

// Open loads the state from cfg.Dir (an absent file is an empty state).
func Open(cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("dedup: create state dir: %w", err)
	}
	s := &Store{cfg: cfg, path: filepath.Join(cfg.Dir, FileName), state: map[string]map[uint64]mark{}}
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		cfg.Logger.Info("dedup state starts empty", "path", s.path)
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("dedup: read state: %w", err)
	}
	var fs fileState
	if err := json.Unmarshal(data, &fs); err != nil {
		return nil, fmt.Errorf("dedup: parse %s: %w: %w", s.path, ErrCorruptState, err)
	}
	if fs.Version != 1 {
		return nil, fmt.Errorf("dedup: %s: version %d: %w (expected 1)", s.path, fs.Version, ErrCorruptState)
	}
	for gw, marks := range fs.Gateways {
		m := make(map[uint64]mark, len(marks))
		for _, fm := range marks {
			m[fm.Epoch] = mark{Seq: fm.Seq, Seen: fm.Seen}
		}
		s.state[gw] = m
	}
	cfg.Logger.Info("dedup state loaded", "path", s.path, "gateways", len(s.state))
	return s, nil
}

// High returns the highest durably written sequence number of the
// gateway's epoch, 0 if none.
func (s *Store) High(gateway string, epoch uint64) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state[gateway][epoch].Seq
}

// Advance raises the gateway's epoch mark to seq (a lower seq changes
// nothing) and returns once the state file holds it.
func (s *Store) Advance(ctx context.Context, gateway string, epoch, seq uint64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dedup: advance %s/%d to %d: %w", gateway, epoch, seq, err)
	}
	s.mu.Lock()
	m := s.state[gateway]
	if m == nil {
		m = map[uint64]mark{}
		s.state[gateway] = m
	}
	if cur, ok := m[epoch]; ok && cur.Seq >= seq {
		// Already there; but it may be a retry after a failed write.
		s.mu.Unlock()
		return s.flush(s.genNow())
	}
	m[epoch] = mark{Seq: seq, Seen: time.Now().UTC()}
	s.prune(m)
	s.gen++
	my := s.gen
	s.mu.Unlock()
	if err := s.flush(my); err != nil {
		return fmt.Errorf("dedup: advance %s/%d to %d: %w", gateway, epoch, seq, err)
	}
	return nil
}

func (s *Store) genNow() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen
}

// prune keeps the MaxEpochs most recently advanced epochs.
func (s *Store) prune(m map[uint64]mark) {
	if len(m) <= s.cfg.MaxEpochs {
		return
	}
	type em struct {
		epoch uint64
		seen  time.Time
	}
	all := make([]em, 0, len(m))
	for e, mk := range m {
		all = append(all, em{e, mk.Seen})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].seen.After(all[j].seen) })
	for _, x := range all[s.cfg.MaxEpochs:] {
		delete(m, x.epoch)
	}
}

// flush writes the state unless a write covering gen already happened.
func (s *Store) flush(gen uint64) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	if s.flushed >= gen {
		return nil
	}
	s.mu.Lock()
	fs := fileState{Version: 1, Gateways: make(map[string][]fileMark, len(s.state))}
	for gw, m := range s.state {
		marks := make([]fileMark, 0, len(m))
		for e, mk := range m {
			marks = append(marks, fileMark{Epoch: e, Seq: mk.Seq, Seen: mk.Seen})
		}
		sort.Slice(marks, func(i, j int) bool { return marks[i].Epoch < marks[j].Epoch })
		fs.Gateways[gw] = marks
	}
	covered := s.gen
	s.mu.Unlock()
	data, err := json.Marshal(fs)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := writeAtomic(s.path, data); err != nil {
		return err
	}
	s.flushed = covered
	return nil
}

// writeAtomic replaces path with data: temporary file, fsync, rename,
// fsync of the directory, so a crash leaves either the old or the new
// file, never a mix.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write state: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename state: %w", err)
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("sync state dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync state dir: %w", err)
	}
	return nil
}

// Gateways returns the number of gateways with state, for status pages.
func (s *Store) Gateways() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.state)
}
