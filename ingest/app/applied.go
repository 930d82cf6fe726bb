package app

import (
	"context"
	"log/slog"
	"strconv"
	"strings"

	"github.com/ponte-city/ponte/ingest/service"
	"github.com/ponte-city/ponte/wire"
)

// AppliedMsg is the Debug message logged for every batch handed to the
// twin, with the attributes gateway, epoch, seqs (ranges such as
// "1-500,502-1000") and readings. The log is written before Run returns
// from each Apply, so it survives kill -9 of the process: the fault suite
// (e2e/fault) counts from it that every reading reached the twin once
// across ingest's restarts, which the twin's in-memory counters, reset at
// every start, cannot show.
const AppliedMsg = "twin applied"

// appliedLog passes batches on to the twin and logs each at Debug level.
type appliedLog struct {
	next service.Applier
	log  *slog.Logger
}

// Apply implements service.Applier.
func (a appliedLog) Apply(gateway string, epoch uint64, b *wire.Batch) {
	a.next.Apply(gateway, epoch, b)
	if b == nil || !a.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	a.log.Debug(AppliedMsg, "gateway", gateway, "epoch", strconv.FormatUint(epoch, 10),
		"seqs", seqRanges(b.Seqs), "readings", len(b.Readings))
}

// seqRanges writes increasing sequence numbers as comma-separated ranges.
func seqRanges(seqs []uint64) string {
	var sb strings.Builder
	for i := 0; i < len(seqs); {
		j := i
		for j+1 < len(seqs) && seqs[j+1] == seqs[j]+1 {
			j++
		}
		if sb.Len() > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatUint(seqs[i], 10))
		if j > i {
			sb.WriteByte('-')
			sb.WriteString(strconv.FormatUint(seqs[j], 10))
		}
		i = j + 1
	}
	return sb.String()
}
