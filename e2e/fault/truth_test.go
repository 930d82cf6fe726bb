//go:build fault

package fault

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/edge/buffer"
	"github.com/ponte-city/ponte/wire"
)

// segWatcher hard-links every segment file of an edge buffer into a
// directory of its own as soon as it appears, so that segments the buffer
// deletes once acknowledged can still be read at the end.
type segWatcher struct {
	src, dst string
	stop     chan struct{}
	done     chan struct{}

	mu   sync.Mutex
	errs []string
}

func watchSegments(t *testing.T, src, dst string) *segWatcher {
	w := &segWatcher{src: src, dst: dst, stop: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	t.Cleanup(w.close)
	return w
}

func (w *segWatcher) run() {
	defer close(w.done)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		w.scan()
		select {
		case <-w.stop:
			w.scan()
			return
		case <-tick.C:
		}
	}
}

// scan links segments not linked yet, and replaces a link whose name now
// belongs to another file (a segment deleted at recovery and made again).
func (w *segWatcher) scan() {
	ents, err := os.ReadDir(w.src)
	if err != nil {
		w.fail("read %s: %v", w.src, err)
		return
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".seg") {
			continue
		}
		src, dst := filepath.Join(w.src, e.Name()), filepath.Join(w.dst, e.Name())
		si, err := os.Stat(src)
		if err != nil {
			continue // deleted meanwhile; it was linked before if it ever held a record
		}
		if di, err := os.Stat(dst); err == nil {
			if os.SameFile(si, di) {
				continue
			}
			_ = os.Remove(dst)
		}
		if err := os.Link(src, dst); err != nil && !os.IsNotExist(err) {
			w.fail("link %s: %v", src, err)
		}
	}
}

func (w *segWatcher) fail(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errs = append(w.errs, fmt.Sprintf(format, args...))
}

func (w *segWatcher) close() {
	select {
	case <-w.stop:
	default:
		close(w.stop)
	}
	<-w.done
}

// accepted is one record of a gateway's buffer: what the gateway durably
// accepted under a sequence number.
type accepted struct {
	seq      uint64
	appended time.Time
	r        wire.Reading
}

// readAccepted reads every record the linked segments hold, in sequence
// order, with edge/buffer itself (the directory is a copy: opening it
// changes nothing of the edge's).
func readAccepted(ctx context.Context, dir string) (epoch uint64, recs []accepted, err error) {
	b, err := buffer.Open(ctx, buffer.Config{Dir: dir})
	if err != nil {
		return 0, nil, fmt.Errorf("open the segments seen in %s: %w", dir, err)
	}
	defer b.Close(ctx)
	var from uint64
	for {
		batch, err := b.Read(from, 10000, 0)
		if err != nil {
			return 0, nil, fmt.Errorf("read the segments seen in %s: %w", dir, err)
		}
		if len(batch) == 0 {
			return b.Epoch(), recs, nil
		}
		for _, rec := range batch {
			r, err := wire.DecodeRecord(rec.Data)
			if err != nil {
				return 0, nil, fmt.Errorf("record %d in %s: %w", rec.Seq, dir, err)
			}
			recs = append(recs, accepted{seq: rec.Seq, appended: rec.Time, r: r})
		}
		from = batch[len(batch)-1].Seq + 1
	}
}

// persistedAck returns the acknowledged seq and epoch an edge's buffer
// wrote to its meta.json (read after the agent stopped).
func persistedAck(bufDir string) (epoch, acked uint64, err error) {
	data, err := os.ReadFile(filepath.Join(bufDir, "meta.json"))
	if err != nil {
		return 0, 0, err
	}
	var m struct {
		Epoch uint64 `json:"epoch"`
		Acked uint64 `json:"acked_seq"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return 0, 0, fmt.Errorf("%s/meta.json: %w", bufDir, err)
	}
	return m.Epoch, m.Acked, nil
}

// timeline is what the test injected and saw, in order.
type timeline struct {
	start time.Time
	mu    sync.Mutex
	evs   []event
}

type event struct {
	at   time.Duration
	what string
}

func newTimeline() *timeline { return &timeline{start: time.Now()} }

func (tl *timeline) add(format string, args ...any) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.evs = append(tl.evs, event{at: time.Since(tl.start), what: fmt.Sprintf(format, args...)})
}

// count returns how many events begin with prefix.
func (tl *timeline) count(prefix string) int {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	n := 0
	for _, e := range tl.evs {
		if strings.HasPrefix(e.what, prefix) {
			n++
		}
	}
	return n
}

// around returns the events from a little before from to a little after to.
func (tl *timeline) around(from, to time.Time) []string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	lo, hi := from.Sub(tl.start)-20*time.Second, to.Sub(tl.start)+20*time.Second
	var out []string
	for _, e := range tl.evs {
		if e.at >= lo && e.at <= hi {
			out = append(out, fmt.Sprintf("%7.1fs %s", e.at.Seconds(), e.what))
		}
	}
	return out
}

func (tl *timeline) String() string {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var b strings.Builder
	for _, e := range tl.evs {
		fmt.Fprintf(&b, "%7.1fs %s\n", e.at.Seconds(), e.what)
	}
	return b.String()
}

// ranges writes sorted seqs as "a-b,c" ranges.
func ranges(seqs []uint64) string {
	var b strings.Builder
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		if j > i {
			fmt.Fprintf(&b, "%d-%d", seqs[i], seqs[j])
		} else {
			fmt.Fprintf(&b, "%d", seqs[i])
		}
		i = j + 1
	}
	return b.String()
}
