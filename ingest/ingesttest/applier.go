package ingesttest

import (
	"encoding/json"
	"fmt"
	"os"
	"sync"

	"github.com/ponte-city/ponte/wire"
)

// SeqKey identifies a reading by its place in a gateway's buffer.
type SeqKey struct {
	Gateway string
	Epoch   uint64
	Seq     uint64
}

// CountingApplier counts Apply calls per reading. It is safe for
// concurrent use.
type CountingApplier struct {
	mu     sync.Mutex
	counts map[SeqKey]int
	total  int
}

// NewCountingApplier returns an empty CountingApplier.
func NewCountingApplier() *CountingApplier {
	return &CountingApplier{counts: map[SeqKey]int{}}
}

// Apply implements service.Applier.
func (a *CountingApplier) Apply(gateway string, epoch uint64, b *wire.Batch) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, s := range b.Seqs {
		a.counts[SeqKey{gateway, epoch, s}]++
		a.total++
	}
}

// Counts returns a copy of the counts.
func (a *CountingApplier) Counts() map[SeqKey]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[SeqKey]int, len(a.counts))
	for k, v := range a.counts {
		out[k] = v
	}
	return out
}

// Total returns the number of readings applied, duplicates included.
func (a *CountingApplier) Total() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.total
}

// FileApplier journals every applied reading as a JSON SeqKey line,
// fsynced, so a test can count applications across kill -9.
type FileApplier struct {
	mu sync.Mutex
	f  *os.File
}

// OpenFileApplier opens (appending) path.
func OpenFileApplier(path string) (*FileApplier, error) {
	f, err := openLines(path)
	if err != nil {
		return nil, fmt.Errorf("open file applier: %w", err)
	}
	return &FileApplier{f: f}, nil
}

// Apply implements service.Applier.
func (a *FileApplier) Apply(gateway string, epoch uint64, b *wire.Batch) {
	var buf []byte
	for _, s := range b.Seqs {
		j, _ := json.Marshal(SeqKey{gateway, epoch, s})
		buf = append(append(buf, j...), '\n')
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.f.Write(buf)
	a.f.Sync()
}

// Close closes the file.
func (a *FileApplier) Close() error { return a.f.Close() }
