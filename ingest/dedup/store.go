package dedup

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Config configures a FileStore.
type Config struct {
	// Dir holds one state file per gateway; it is created if missing.
	// Instances sharing a Dir share the state (see the package doc).
	Dir string
	// MaxEpochs is how many epochs per gateway are remembered (default 4).
	MaxEpochs int
	// MaxRanges is how many ranges beyond a gap are kept per epoch
	// (default 32); a batch that would need more is not written until the
	// gap before it fills (see Tx.Fits).
	MaxRanges int
	// Logger receives state changes (default slog.Default()).
	Logger *slog.Logger
}

const (
	slotSize   = 4096
	slotHeader = 20 // magic 4 | counter 8 | length 4 | crc32c 4
)

var slotMagic = [4]byte{'P', 'N', 'D', '1'}

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if c.Dir == "" {
		return errors.New("dedup: dir: required (the directory holding the dedup state)")
	}
	if err := validateLimits(&c.MaxEpochs, &c.MaxRanges); err != nil {
		return err
	}
	if need := 1 + c.MaxEpochs*(33+16*(c.MaxRanges+1)); need > slotSize-slotHeader || c.MaxEpochs > 255 {
		return fmt.Errorf("dedup: max_epochs %d x max_ranges %d do not fit a %d-byte state slot", c.MaxEpochs, c.MaxRanges, slotSize)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// ErrCorruptState is returned by Lock when neither slot of a gateway's
// state file is valid. Ingest refuses that gateway's batches rather than
// forget what it wrote; the operator decides (removing the file means
// replays are written and applied once more).
var ErrCorruptState = errors.New("corrupt dedup state")

// FileStore is the per-gateway state in files of one directory.
//
// FileStore is safe for concurrent use. A gateway's state is read and
// written only through a Tx from Lock, which excludes other goroutines and
// other processes using the same Dir; its Commit never returns
// ErrConflict.
type FileStore struct {
	cfg Config

	mu    sync.Mutex
	files map[string]*gwFile
	// bufs are the Txs' buffers (*[]byte of 2*slotSize) for reading both
	// slots and writing one: 12 KiB allocated per batch were most of what
	// ingest allocated at 1,000 one-reading batches a second, and a
	// buffer kept per gateway would be 8 MB held at 1,000 gateways.
	bufs sync.Pool
}

type gwFile struct {
	mu      sync.Mutex // held by the Tx, in-process exclusion
	f       *os.File
	counter uint64 // counter of the newest valid slot
	slot    int    // which slot holds it
}

// Open prepares the state directory.
func Open(cfg Config) (*FileStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("dedup: create state dir: %w", err)
	}
	n := 0
	if ents, err := os.ReadDir(cfg.Dir); err == nil {
		for _, e := range ents {
			if filepath.Ext(e.Name()) == ".state" {
				n++
			}
		}
	}
	cfg.Logger.Info("dedup state opened", "dir", cfg.Dir, "gateways", n)
	return &FileStore{cfg: cfg, files: map[string]*gwFile{}}, nil
}

// fileTx is a FileStore's Tx.
type fileTx struct {
	txState
	s   *FileStore
	gf  *gwFile
	buf *[]byte // from s.bufs until Unlock
}

// scratch returns the Tx's buffer of 2*slotSize bytes.
func (tx *fileTx) scratch() []byte {
	if tx.buf == nil {
		p, _ := tx.s.bufs.Get().(*[]byte)
		if p == nil {
			b := make([]byte, 2*slotSize)
			p = &b
		}
		tx.buf = p
	}
	return (*tx.buf)[:2*slotSize]
}

// release returns the Tx's buffer; nothing may use it after.
func (tx *fileTx) release() {
	if tx.buf != nil {
		tx.s.bufs.Put(tx.buf)
		tx.buf = nil
	}
}

// Lock locks gateway's state against other goroutines and processes,
// waiting until ctx is done, and loads it.
func (s *FileStore) Lock(ctx context.Context, gateway string) (Tx, error) {
	s.mu.Lock()
	gf := s.files[gateway]
	if gf == nil {
		gf = &gwFile{}
		s.files[gateway] = gf
	}
	s.mu.Unlock()
	gf.mu.Lock()
	tx := &fileTx{txState: txState{lim: limits{s.cfg.MaxEpochs, s.cfg.MaxRanges, s.cfg.Logger}, gw: gateway}, s: s, gf: gf}
	if err := tx.load(ctx); err != nil {
		tx.release()
		gf.mu.Unlock()
		return nil, fmt.Errorf("dedup: lock state of %s: %w", gateway, err)
	}
	return tx, nil
}

func (tx *fileTx) load(ctx context.Context) error {
	gf := tx.gf
	if gf.f == nil {
		f, err := os.OpenFile(filepath.Join(tx.s.cfg.Dir, tx.gw+".state"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return err
		}
		gf.f = f
	}
	delay := time.Millisecond
	for {
		err := syscall.Flock(int(gf.f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("flock: %w", err)
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
	st, err := tx.read()
	if err != nil {
		syscall.Flock(int(gf.f.Fd()), syscall.LOCK_UN)
		return err
	}
	tx.state = st
	return nil
}

// read returns the state in the newest valid slot (empty for a new file).
func (tx *fileTx) read() (Gateway, error) {
	buf := tx.scratch()
	n, err := tx.gf.f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read state: %w", err)
	}
	buf = buf[:n]
	if n == 0 {
		// New file: a valid empty record in slot 1 first, so that a torn
		// first Commit (to slot 0) falls back to it.
		tx.gf.counter, tx.gf.slot = 0, 0
		tx.dirty = true
		if err := tx.Commit(context.Background()); err != nil {
			return nil, err
		}
		return Gateway{}, nil
	}
	best, bestSlot := uint64(0), -1
	var bestState Gateway
	var firstErr error
	for slot := 0; slot < 2 && slot*slotSize < len(buf); slot++ {
		g, counter, err := parseSlot(buf[slot*slotSize : min(len(buf), (slot+1)*slotSize)])
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("slot %d: %w", slot, err)
			}
			continue
		}
		if bestSlot < 0 || counter > best {
			best, bestSlot, bestState = counter, slot, g
		}
	}
	if bestSlot < 0 {
		if allZero(buf[:min(len(buf), slotSize)]) {
			// Slot 0 is written only after the creation record in slot
			// 1 was synced: this is a creation cut short.
			tx.gf.counter, tx.gf.slot = 0, 1
			return Gateway{}, nil
		}
		return nil, fmt.Errorf("%s: %w (%v)", tx.gf.f.Name(), ErrCorruptState, firstErr)
	}
	tx.gf.counter, tx.gf.slot = best, bestSlot
	return bestState, nil
}

func parseSlot(rec []byte) (Gateway, uint64, error) {
	if len(rec) < slotHeader || [4]byte(rec[:4]) != slotMagic {
		return nil, 0, errors.New("no state record")
	}
	counter := binary.LittleEndian.Uint64(rec[4:])
	n := int(binary.LittleEndian.Uint32(rec[12:]))
	sum := binary.LittleEndian.Uint32(rec[16:])
	if n > len(rec)-slotHeader {
		return nil, 0, errShort
	}
	body := rec[slotHeader : slotHeader+n]
	if crc32.Checksum(body, castagnoli)^uint32(counter) != sum {
		return nil, 0, errors.New("crc mismatch (torn write)")
	}
	g, err := parseGateway(body)
	return g, counter, err
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// Commit writes the state if it changed and returns once it is durable
// (one fsync; ctx is not consulted: a local write is not abandoned
// midway). On error the state on disk is the one before; the Tx stays
// locked and Commit may be retried.
func (tx *fileTx) Commit(context.Context) error {
	if !tx.dirty {
		return nil
	}
	tx.prune()
	body := tx.state.appendTo(tx.scratch()[:slotHeader])
	if len(body) > slotSize { // Config.Validate makes this impossible
		return fmt.Errorf("dedup: state of %s: %d bytes do not fit a slot", tx.gw, len(body))
	}
	counter := tx.gf.counter + 1
	copy(body, slotMagic[:])
	binary.LittleEndian.PutUint64(body[4:], counter)
	binary.LittleEndian.PutUint32(body[12:], uint32(len(body)-slotHeader))
	binary.LittleEndian.PutUint32(body[16:], crc32.Checksum(body[slotHeader:], castagnoli)^uint32(counter))
	slot := 1 - tx.gf.slot
	if _, err := tx.gf.f.WriteAt(body, int64(slot*slotSize)); err != nil {
		return fmt.Errorf("dedup: write state of %s: %w", tx.gw, err)
	}
	if err := tx.gf.f.Sync(); err != nil {
		return fmt.Errorf("dedup: sync state of %s: %w", tx.gw, err)
	}
	tx.gf.counter, tx.gf.slot = counter, slot
	tx.dirty = false
	return nil
}

// Unlock implements Tx.
func (tx *fileTx) Unlock() {
	if tx.gf == nil {
		return
	}
	syscall.Flock(int(tx.gf.f.Fd()), syscall.LOCK_UN)
	tx.release()
	tx.gf.mu.Unlock()
	tx.gf = nil
}

// Mark implements Store, locking the gateway briefly.
func (s *FileStore) Mark(ctx context.Context, gateway string, epoch uint64) (uint64, error) {
	tx, err := s.Lock(ctx, gateway)
	if err != nil {
		return 0, err
	}
	defer tx.Unlock()
	return markOf(tx.(*fileTx).state, epoch), nil
}

// Close closes the open state files. Call it after the last Tx ended.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for gw, gf := range s.files {
		if gf.f != nil {
			errs = append(errs, gf.f.Close())
		}
		delete(s.files, gw)
	}
	return errors.Join(errs...)
}
