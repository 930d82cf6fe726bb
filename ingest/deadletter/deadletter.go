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

// Config configures a Dir.
type Config struct {
	// Dir is the dead-letter directory; it is created if missing.
	Dir string
	// MaxBytes caps the directory (payloads and sidecars; default 256 MiB).
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

// Letter describes one refused payload.
type Letter struct {
	// Reason is a short snake_case cause, also the metric label
	// (e.g. "corrupt", "gateway_mismatch", "time_out_of_range").
	Reason string `json:"reason"`
	// Detail is the full error text.
	Detail string `json:"detail,omitempty"`
	// Transport is "mqtt" or "http".
	Transport string `json:"transport,omitempty"`
	// Topic is the MQTT topic (or HTTP path) it arrived on.
	Topic string `json:"topic,omitempty"`
	// Gateway is the gateway the transport vouched for.
	Gateway string `json:"gateway,omitempty"`
	// Time is when it was dead-lettered.
	Time time.Time `json:"time"`
	// Bytes is the payload size.
	Bytes int `json:"bytes"`
	// Readings is how many readings the payload holds, when known.
	Readings int `json:"readings,omitempty"`
}

// Dir is a bounded dead-letter directory. It is safe for concurrent use.
type Dir struct {
	cfg     Config
	evicted prometheus.Counter

	mu    sync.Mutex
	seq   uint64
	files []entry // oldest first
	total int64
}

type entry struct {
	base  string // path without extension
	bytes int64
}

// Open opens (creating) the directory and accounts for the letters already
// in it.
func Open(cfg Config) (*Dir, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("dead_letter: create %s: %w", cfg.Dir, err)
	}
	d := &Dir{cfg: cfg, evicted: prometheus.NewCounter(prometheus.CounterOpts{
		Name: "ponte_ingest_dead_letters_evicted_total",
		Help: "Dead letters removed (oldest first) to keep the directory under its byte cap.",
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
	for base, n := range sizes {
		d.files = append(d.files, entry{base: filepath.Join(cfg.Dir, base), bytes: n})
		d.total += n
	}
	sort.Slice(d.files, func(i, j int) bool { return d.files[i].base < d.files[j].base })
	return d, nil
}

// Put stores payload with its letter and returns the path of the payload
// file. Letter.Time and Letter.Bytes are filled in.
func (d *Dir) Put(l Letter, payload []byte) (string, error) {
	if l.Time.IsZero() {
		l.Time = time.Now().UTC()
	}
	l.Bytes = len(payload)
	meta, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return "", fmt.Errorf("dead_letter: encode letter: %w", err)
	}
	meta = append(meta, '\n')
	size := int64(len(payload) + len(meta))
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	base := filepath.Join(d.cfg.Dir, fmt.Sprintf("%s-%06d", l.Time.Format("20060102T150405.000000000Z"), d.seq%1000000))
	d.evict(size)
	if err := os.WriteFile(base+".bin", payload, 0o644); err != nil {
		return "", fmt.Errorf("dead_letter: write payload (%s): %w", l.Reason, err)
	}
	if err := os.WriteFile(base+".json", meta, 0o644); err != nil {
		os.Remove(base + ".bin")
		return "", fmt.Errorf("dead_letter: write letter (%s): %w", l.Reason, err)
	}
	d.files = append(d.files, entry{base: base, bytes: size})
	d.total += size
	d.cfg.Logger.Warn("dead letter", "reason", l.Reason, "detail", l.Detail, "gateway", l.Gateway,
		"topic", l.Topic, "bytes", l.Bytes, "readings", l.Readings, "file", base+".bin")
	return base + ".bin", nil
}

// evict removes the oldest letters until size more bytes fit under the cap.
func (d *Dir) evict(size int64) {
	for len(d.files) > 0 && d.total+size > d.cfg.MaxBytes {
		e := d.files[0]
		d.files = d.files[1:]
		d.total -= e.bytes
		os.Remove(e.base + ".bin")
		os.Remove(e.base + ".json")
		d.evicted.Inc()
	}
}

// Bytes returns the bytes the directory holds.
func (d *Dir) Bytes() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.total
}

// Count returns the number of letters the directory holds.
func (d *Dir) Count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.files)
}

// List returns the letters in the directory, oldest first, for tests and
// tools.
func List(dir string) ([]Letter, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dead_letter: list %s: %w", dir, err)
	}
	var out []Letter
	for _, e := range ents {
		if filepath.Ext(e.Name()) != ".json" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("dead_letter: read %s: %w", e.Name(), err)
		}
		var l Letter
		if err := json.Unmarshal(data, &l); err != nil {
			return nil, fmt.Errorf("dead_letter: parse %s: %w", e.Name(), err)
		}
		out = append(out, l)
	}
	return out, nil
}
