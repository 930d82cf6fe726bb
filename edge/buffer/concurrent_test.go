package buffer

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ponte-city/ponte/internal/testenv"
)

// Appenders, a forwarder reading and acknowledging, and segment rolls and
// deletions all at once: every record is read exactly once, in sequence
// order, and each appender's records in its own order.
func TestConcurrentForwarding(t *testing.T) {
	const appenders, batches, per = 4, 100, 25
	const total = appenders * batches * per
	b := openT(t, Config{Dir: t.TempDir(), SegmentBytes: minSegmentBytes})
	defer closeT(t, b)

	var wg sync.WaitGroup
	for a := range appenders {
		wg.Go(func() {
			for i := range batches {
				recs := make([][]byte, per)
				for j := range recs {
					recs[j] = fmt.Appendf(nil, "%d:%06d", a, i*per+j)
				}
				if _, err := b.Append(recs); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}

	last := make([]int, appenders)
	for i := range last {
		last[i] = -1
	}
	var next uint64 = 1
	for read := 0; read < total; {
		changed := b.Changed() // before Read, so no signal is missed
		rs, err := b.Read(next, 64, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) == 0 {
			<-changed
			continue
		}
		for _, r := range rs {
			if r.Seq != next {
				t.Fatalf("got seq %d, want %d", r.Seq, next)
			}
			var a, n int
			if _, err := fmt.Sscanf(string(r.Data), "%d:%d", &a, &n); err != nil || n != last[a]+1 {
				t.Fatalf("seq %d: %q after %d", r.Seq, r.Data, last[a])
			}
			last[a] = n
			next++
		}
		read += len(rs)
		if err := b.Ack(next - 1); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if rs, err := b.Read(0, 10, 0); err != nil || len(rs) != 0 {
		t.Fatalf("after reading all: %d more records, %v", len(rs), err)
	}
	testenv.Eventually(t, 10*time.Second, "acknowledged segments deleted", func() bool { return len(segFiles(t, b.dir)) == 1 })
}
