package replica

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/wire"
)

// snapshotObject is the object name of the twin's snapshot in the bucket.
const snapshotObject = "twin"

// metaApplied is the snapshot object's metadata key holding the stream
// sequence it covers, read without fetching the object.
const metaApplied = "applied"

// The snapshot encoding, little-endian:
//
//	magic "PNTC" | version u8 (1)
//	applied u64 | taken i64 (unix ns)
//	count uvarint, count x (length uvarint, wire batch)
//	extra length uvarint, extra (version 2: the follower's marks)
//	crc32c u32 over everything before it
//
// Version 1 (without extra) is still read.
var snapshotMagic = [4]byte{'P', 'N', 'T', 'C'}

const snapshotVersion = 2

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrSnapshot is wrapped by every error decoding a snapshot.
var ErrSnapshot = errors.New("twin snapshot")

// EncodeSnapshot encodes a twin checkpoint.
func EncodeSnapshot(cp *twin.Checkpoint) ([]byte, error) {
	dst := append([]byte(nil), snapshotMagic[:]...)
	dst = append(dst, snapshotVersion)
	dst = binary.LittleEndian.AppendUint64(dst, cp.Applied)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(cp.Taken.UnixNano()))
	dst = binary.AppendUvarint(dst, uint64(len(cp.Batches)))
	var b []byte
	for i, batch := range cp.Batches {
		var err error
		if b, err = wire.Encode(b[:0], batch); err != nil {
			return nil, fmt.Errorf("%w: batches[%d] (gateway %s): %w", ErrSnapshot, i, batch.Gateway, err)
		}
		dst = binary.AppendUvarint(dst, uint64(len(b)))
		dst = append(dst, b...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(cp.Extra)))
	dst = append(dst, cp.Extra...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst, castagnoli)), nil
}

// DecodeSnapshot decodes what EncodeSnapshot wrote. Any other input gets
// an error wrapping ErrSnapshot, saying where it went wrong.
func DecodeSnapshot(data []byte) (*twin.Checkpoint, error) {
	const head = len(snapshotMagic) + 1 + 8 + 8
	fail := func(format string, args ...any) (*twin.Checkpoint, error) {
		return nil, fmt.Errorf("%w: "+format, append([]any{ErrSnapshot}, args...)...)
	}
	if len(data) < head+1+4 || !bytes.Equal(data[:4], snapshotMagic[:]) {
		return fail("not a snapshot (expected %q and at least %d bytes, got %d)", snapshotMagic[:], head+5, len(data))
	}
	v := data[4]
	if v != 1 && v != snapshotVersion {
		return fail("version %d (expected 1 or %d)", v, snapshotVersion)
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return fail("checksum %08x, expected %08x (corrupt or truncated)", got, sum)
	}
	cp := &twin.Checkpoint{Applied: binary.LittleEndian.Uint64(body[5:]),
		Taken: time.Unix(0, int64(binary.LittleEndian.Uint64(body[13:]))).UTC()}
	rest := body[head:]
	count, n := binary.Uvarint(rest)
	if n <= 0 || count > uint64(len(rest)) {
		return fail("batch count at byte %d", head)
	}
	rest = rest[n:]
	for i := range count {
		size, n := binary.Uvarint(rest)
		if n <= 0 || size > uint64(len(rest)-n) {
			return fail("batches[%d]: length %d beyond the %d bytes left", i, size, len(rest)-max(n, 0))
		}
		b, err := wire.Decode(rest[n : n+int(size)])
		if err != nil {
			return fail("batches[%d]: %w", i, err)
		}
		cp.Batches = append(cp.Batches, b)
		rest = rest[n+int(size):]
	}
	if v >= 2 {
		size, n := binary.Uvarint(rest)
		if n <= 0 || size > uint64(len(rest)-n) {
			return fail("extra: length %d beyond the %d bytes left", size, len(rest)-max(n, 0))
		}
		if size > 0 {
			cp.Extra = append([]byte(nil), rest[n:n+int(size)]...)
		}
		rest = rest[n+int(size):]
	}
	if len(rest) != 0 {
		return fail("%d bytes after the last batch", len(rest))
	}
	return cp, nil
}

// loadSnapshot reads the stored snapshot (nil when there is none).
func (r *Replica) loadSnapshot(ctx context.Context) (*twin.Checkpoint, int, error) {
	var data []byte
	for n := 0; ; n++ {
		gctx, cancel := context.WithTimeout(ctx, 4*opTimeout)
		var err error
		data, err = r.objs.GetBytes(gctx, snapshotObject)
		cancel()
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, 0, nil
		}
		if err == nil {
			break
		}
		r.log.Warn("replica: read the twin snapshot", "bucket", r.cfg.Bucket, "err", err)
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("replica: read the twin snapshot from bucket %s: %w", r.cfg.Bucket, err)
		case <-time.After(retry.Wait(n)):
		}
	}
	cp, err := DecodeSnapshot(data)
	if err != nil {
		return nil, 0, fmt.Errorf("replica: bucket %s object %s: %w", r.cfg.Bucket, snapshotObject, err)
	}
	return cp, len(data), nil
}

// snapshots writes tw's snapshot every SnapshotInterval until ctx is done.
func (r *Replica) snapshots(ctx context.Context, tw *twin.Twin) {
	tk := time.NewTicker(r.cfg.SnapshotInterval)
	defer tk.Stop()
	var written uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
		}
		if tw.Applied() <= written {
			continue
		}
		applied, err := r.WriteSnapshot(ctx, tw)
		if err != nil {
			r.m.snapshotErrs.Inc()
			r.log.Warn("replica: write the twin snapshot", "err", err)
			continue
		}
		written = applied
	}
}

// WriteSnapshot writes tw's checkpoint to the bucket unless the stored one
// covers as much of the stream (another instance wrote it); it returns the
// stream sequence the stored snapshot covers.
func (r *Replica) WriteSnapshot(ctx context.Context, tw *twin.Twin) (uint64, error) {
	ictx, cancel := context.WithTimeout(ctx, opTimeout)
	info, err := r.objs.GetInfo(ictx, snapshotObject)
	cancel()
	var stored uint64
	switch {
	case err == nil:
		stored, _ = strconv.ParseUint(info.Metadata[metaApplied], 10, 64)
	case !errors.Is(err, jetstream.ErrObjectNotFound):
		return 0, err
	}
	r.applyMu.Lock()
	cp := tw.Checkpoint()
	cp.Extra = r.marks.encode()
	r.applyMu.Unlock()
	if cp.Applied <= stored {
		return stored, nil
	}
	data, err := EncodeSnapshot(cp)
	if err != nil {
		return 0, err
	}
	pctx, cancel := context.WithTimeout(ctx, 4*opTimeout)
	defer cancel()
	_, err = r.objs.Put(pctx, jetstream.ObjectMeta{Name: snapshotObject,
		Metadata: map[string]string{metaApplied: strconv.FormatUint(cp.Applied, 10)}}, bytes.NewReader(data))
	if err != nil {
		return 0, fmt.Errorf("put %d bytes into bucket %s: %w", len(data), r.cfg.Bucket, err)
	}
	r.m.snapshots.Inc()
	r.m.snapshotBytes.Set(float64(len(data)))
	r.log.Debug("replica: twin snapshot written", "applied", cp.Applied, "bytes", len(data))
	return cp.Applied, nil
}
