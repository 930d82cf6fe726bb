package deadletter

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// File and directory modes: letters hold what gateways sent (names,
// values, locations) and are for operators only.
const (
	DirMode  os.FileMode = 0o700
	FileMode os.FileMode = 0o600
)

// Config configures a Dir.
type Config struct {
	// Dir is the dead-letter directory; it is created if missing.
	Dir string
	// MaxBytes caps each gateway's letters (payloads and sidecars; default
	// 256 MiB): a gateway's new letter evicts that gateway's oldest ones
	// only, so a flood from one gateway never removes another's evidence.
	MaxBytes int64
	// Logger receives a line per dead letter (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("dead_letter: dir: required (the directory for refused payloads)")
	}
	if c.MaxBytes < 0 {
		return fmt.Errorf("dead_letter: max_bytes: %d (expected > 0)", c.MaxBytes)
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = 256 << 20
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Dir is a bounded dead-letter directory. It is safe for concurrent use.
type Dir struct {
	cfg     Config
	evicted prometheus.Counter

	mu    sync.Mutex
	seq   uint64
	gws   map[string]*gwLetters // by Letter.Gateway ("" for none)
	total int64
}

// gwLetters are one gateway's letters, oldest first.
type gwLetters struct {
	files []entry
	bytes int64
}

type entry struct {
	base  string // path without extension
	bytes int64
}

// Open opens (creating) the directory, restricts it to its owner, and
// accounts for the letters already in it.
func Open(cfg Config) (*Dir, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, DirMode); err != nil {
		return nil, fmt.Errorf("dead_letter: create %s: %w", cfg.Dir, err)
	}
	if err := os.Chmod(cfg.Dir, DirMode); err != nil {
		return nil, fmt.Errorf("dead_letter: restrict %s to its owner (%o): %w", cfg.Dir, DirMode, err)
	}
	d := &Dir{cfg: cfg, gws: map[string]*gwLetters{}, evicted: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ponte_ingest_dead_letters_evicted_total",
		Help: "Dead letters removed (oldest of the same gateway first) to keep each gateway's letters under the byte cap.",
	})}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(d.evicted); err != nil {
			return nil, fmt.Errorf("dead_letter: register metrics: %w", err)
		}
	}
	ents, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("dead_letter: list %s: %w", cfg.Dir, err)
	}
	sizes := map[string]int64{}
	for _, e := range ents {
		name := e.Name()
		ext := filepath.Ext(name)
		if ext != ".bin" && ext != ".json" {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		sizes[strings.TrimSuffix(name, ext)] += info.Size()
	}
	ids := make([]string, 0, len(sizes))
	for id := range sizes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		gw := ""
		if l, err := readLetter(cfg.Dir, id); err == nil {
			gw = l.Gateway
		}
		d.add(gw, entry{base: filepath.Join(cfg.Dir, id), bytes: sizes[id]})
	}
	return d, nil
}

// add accounts for e as gw's newest letter; d.mu is held or d is new.
func (d *Dir) add(gw string, e entry) {
	g := d.gws[gw]
	if g == nil {
		g = &gwLetters{}
		d.gws[gw] = g
	}
	g.files = append(g.files, e)
	g.bytes += e.bytes
	d.total += e.bytes
}

// Put stores payload with its letter and returns the path of the payload
// file. Letter.ID, Time and Bytes are filled in, and, when the payload is
// a wire batch, Epoch and Entries (what each refused reading was).
func (d *Dir) Put(l Letter, payload []byte) (string, error) {
	if l.Time.IsZero() {
		l.Time = time.Now().UTC()
	}
	l.Bytes = len(payload)
	describe(&l, payload)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	l.ID = fmt.Sprintf("%s-%06d", l.Time.Format("20060102T150405.000000000Z"), d.seq%1000000)
	meta, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return "", fmt.Errorf("dead_letter: encode letter: %w", err)
	}
	meta = append(meta, '\n')
	size := int64(len(payload) + len(meta))
	base := filepath.Join(d.cfg.Dir, l.ID)
	d.evict(l.Gateway, size)
	if err := os.WriteFile(base+".bin", payload, FileMode); err != nil {
		return "", fmt.Errorf("dead_letter: write payload (%s): %w", l.Reason, err)
	}
	if err := os.WriteFile(base+".json", meta, FileMode); err != nil {
		os.Remove(base + ".bin")
		return "", fmt.Errorf("dead_letter: write letter (%s): %w", l.Reason, err)
	}
	d.add(l.Gateway, entry{base: base, bytes: size})
	args := []any{"reason", l.Reason, "detail", l.Detail, "gateway", l.Gateway,
		"topic", l.Topic, "bytes", l.Bytes, "readings", l.Readings, "id", l.ID, "file", base + ".bin"}
	if len(l.Entries) > 0 { // the first refused reading, so the log alone names a device
		e := l.Entries[0]
		args = append(args, "device", e.Device, "point", e.Point, "reading_time", e.Time, "value", e.Value)
	}
	d.cfg.Logger.Warn("dead letter", args...)
	return base + ".bin", nil
}

// evict removes gw's oldest letters until size more bytes fit under the
// cap; other gateways' letters are never touched.
func (d *Dir) evict(gw string, size int64) {
	g := d.gws[gw]
	if g == nil {
		return
	}
	for len(g.files) > 0 && g.bytes+size > d.cfg.MaxBytes {
		e := g.files[0]
		g.files = g.files[1:]
		g.bytes -= e.bytes
		d.total -= e.bytes
		for _, ext := range []string{".bin", ".json", replayedExt} {
			os.Remove(e.base + ext)
		}
		d.evicted.Inc()
	}
}

// Bytes returns the bytes the directory holds.
func (d *Dir) Bytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total
}

// GatewayBytes returns the bytes of gateway's letters.
func (d *Dir) GatewayBytes(gateway string) int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	if g := d.gws[gateway]; g != nil {
		return g.bytes
	}
	return 0
}

// Count returns the number of letters the directory holds.
func (d *Dir) Count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, g := range d.gws {
		n += len(g.files)
	}
	return n
}

// Path returns the directory.
func (d *Dir) Path() string { return d.cfg.Dir }
