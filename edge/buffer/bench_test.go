package buffer

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// benchRecord is a 64-byte record, about one encoded reading.
func benchRecord(i int) []byte {
	r := make([]byte, 64)
	copy(r, "reading-")
	copy(r[8:], strconv.Itoa(i))
	return r
}

// BenchmarkAppendDurable appends 64-byte records in appends of 100, as the
// agent does per poll, with a 10 ms group commit, and waits for each append
// to be reported durable (in a second goroutine, as the agent's forwarder
// would not block polling). One op is one record.
func BenchmarkAppendDurable(b *testing.B) {
	buf := openT(b, Config{Dir: b.TempDir(), SyncInterval: 10 * time.Millisecond, MemoryRecords: 1_000_000})
	defer closeT(b, buf)
	batch := make([][]byte, 100)
	for i := range batch {
		batch[i] = benchRecord(i)
	}
	// At most 500,000 records outstanding: within MemoryRecords, so none
	// are dropped, and far above what one core appends in 10 ms.
	commits := make(chan Commit, 5000)
	waited := make(chan error, 1)
	go func() {
		for c := range commits {
			if err := c.Wait(context.Background()); err != nil {
				waited <- err
				return
			}
		}
		waited <- nil
	}()
	b.ResetTimer()
	start := time.Now()
	n := 0
	for ; n < b.N; n += len(batch) {
		c, err := buf.Append(batch)
		if err != nil {
			b.Fatal(err)
		}
		commits <- c
	}
	close(commits)
	if err := <-waited; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "readings/s")
	if d := dropped(buf, reasonMemoryFull); d > 0 {
		b.Fatalf("%v records dropped", d)
	}
}

// BenchmarkReplay reopens a buffer of 1M 64-byte records and reads them all
// back in order, 1,000 per Read, as the forwarder replays after an outage.
func BenchmarkReplay(b *testing.B) {
	const total = 1_000_000
	dir := b.TempDir()
	cfg := Config{Dir: dir, SyncInterval: 10 * time.Millisecond}
	buf := openT(b, cfg)
	batch := make([][]byte, 1000)
	for i := 0; i < total; i += len(batch) {
		for j := range batch {
			batch[j] = benchRecord(i + j)
		}
		c, err := buf.Append(batch)
		if err != nil {
			b.Fatal(err)
		}
		if i%50_000 == 0 {
			if err := c.Wait(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	closeT(b, buf)
	b.ResetTimer()
	start := time.Now()
	read := 0
	for range b.N {
		buf := openT(b, cfg)
		for from := uint64(0); ; {
			rs, err := buf.Read(from, 1000, 0)
			if err != nil {
				b.Fatal(err)
			}
			if len(rs) == 0 {
				break
			}
			read += len(rs)
			from = rs[len(rs)-1].Seq + 1
		}
		closeT(b, buf)
	}
	if read != b.N*total {
		b.Fatalf("read %d records, want %d", read, b.N*total)
	}
	b.ReportMetric(float64(read)/time.Since(start).Seconds(), "readings/s")
}

// BenchmarkOpen measures start-up with a large buffer: 1 GiB of 64 MiB
// segments of 64-byte records (PONTE_BENCH_OPEN_BYTES overrides the size),
// written directly in the segment format. "checkpoint" is the normal case;
// "no-metadata" is the worst case, where the whole last segment is scanned.
// The files are in the page cache, as after a restart of the agent alone.
func BenchmarkOpen(b *testing.B) {
	size := int64(1 << 30)
	if s, err := strconv.ParseInt(os.Getenv("PONTE_BENCH_OPEN_BYTES"), 10, 64); err == nil && s > 0 {
		size = s
	}
	dir := b.TempDir()
	recs := buildSegments(b, dir, size, DefaultSegmentBytes)

	cfg := Config{Dir: dir, FS: OSFS{}}
	for _, tt := range []struct {
		name   string
		noMeta bool
	}{{"checkpoint", false}, {"no-metadata", true}} {
		b.Run(tt.name, func(b *testing.B) {
			closeT(b, openT(b, cfg)) // write the metadata
			var took time.Duration
			for range b.N {
				if tt.noMeta {
					if err := os.Remove(filepath.Join(dir, metaName)); err != nil {
						b.Fatal(err)
					}
				}
				start := time.Now()
				buf := openT(b, cfg)
				took += time.Since(start)
				if got := buf.Stats().Records; got != uint64(recs) {
					b.Fatalf("opened with %d records, want %d", got, recs)
				}
				closeT(b, buf)
			}
			b.ReportMetric(took.Seconds()/float64(b.N), "s/open")
			b.ReportMetric(float64(size>>20), "MiB")
			b.ReportMetric(float64(recs), "records")
		})
	}
}

// buildSegments writes size/segBytes full segments of 64-byte records
// into dir and returns the number of records.
func buildSegments(b *testing.B, dir string, size, segBytes int64) int {
	epoch := newEpoch()
	base := time.Now().UnixMilli()
	seq := uint64(1)
	for range max(size/segBytes, 1) {
		buf := segHeader{epoch: epoch, first: seq, base: base}.encode()
		first := seq
		for int64(len(buf))+80 < segBytes {
			buf = appendFrame(buf, base, base+int64(seq%1000), benchRecord(int(seq)))
			seq++
		}
		if err := os.WriteFile(filepath.Join(dir, segName(first)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return int(seq - 1)
}
