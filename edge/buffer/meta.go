package buffer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

const (
	metaName    = "meta.json"
	metaTmpName = "meta.json.tmp"
	metaVersion = 1
)

// checkpoint says how far the active segment is known durable: recovery
// scans only from there.
type checkpoint struct {
	Segment uint64 `json:"segment"`
	Offset  int64  `json:"offset"`
	Next    uint64 `json:"next_seq"`
}

// meta is the metadata file. It is small and rewritten whole, atomically.
type meta struct {
	Version int    `json:"version"`
	Epoch   uint64 `json:"epoch"`
	Acked   uint64 `json:"acked_seq"`
	// Head is where the oldest live record was: recovery reads that one
	// record instead of scanning for it.
	HeadSeq     uint64     `json:"head_seq"`
	HeadSegment uint64     `json:"head_segment"`
	HeadOffset  int64      `json:"head_offset"`
	Check       checkpoint `json:"checkpoint"`
}

// errMetaCorrupt reports a metadata file that exists but cannot be used.
var errMetaCorrupt = errors.New("metadata unreadable")

// readMeta returns the metadata, nil if there is none.
func readMeta(fsys FS, dir string) (*meta, error) {
	name := filepath.Join(dir, metaName)
	f, err := fsys.OpenFile(name, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	var m meta
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errMetaCorrupt, name, err)
	}
	if m.Version != metaVersion || m.Epoch == 0 {
		return nil, fmt.Errorf("%w: %s: version %d epoch %d", errMetaCorrupt, name, m.Version, m.Epoch)
	}
	return &m, nil
}

// writeMeta replaces the metadata atomically: write a temporary file, fsync
// it, rename it over the old one, fsync the directory.
func writeMeta(fsys FS, dir string, m meta) error {
	m.Version = metaVersion
	data, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode metadata: %w", err)
	}
	tmp := filepath.Join(dir, metaTmpName)
	f, err := fsys.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", tmp, err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, filepath.Join(dir, metaName)); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	if err := syncDir(fsys, dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
