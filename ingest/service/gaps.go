package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/wire"
)

// Gap is an open gap in a gateway's sequence: later batches are written
// and applied, but the gateway is acknowledged only up to Mark until the
// missing readings arrive or the gateway declares it dropped them.
type Gap struct {
	Gateway string    `json:"gateway"`
	Epoch   uint64    `json:"epoch"`
	Mark    uint64    `json:"acknowledged_seq"`
	Missing uint64    `json:"missing_readings"`
	Since   time.Time `json:"open_since"`
}

// Gaps returns the gateways' open gaps, by gateway ID. Only the epoch a
// gateway last sent in counts: an older epoch's gap cannot be filled
// (the gateway's buffer started again) and holds no acknowledgement back.
func (s *Service) Gaps() []Gap {
	s.gapMu.Lock()
	out := make([]Gap, 0, len(s.gaps))
	for _, g := range s.gaps {
		out = append(out, g)
	}
	s.gapMu.Unlock()
	slices.SortFunc(out, func(a, b Gap) int { return strings.Compare(a.Gateway, b.Gateway) })
	return out
}

// noteGap records the state of the gateway's epoch after a batch.
func (s *Service) noteGap(gateway string, epoch uint64, ep *dedup.Epoch) {
	s.gapMu.Lock()
	defer s.gapMu.Unlock()
	if len(ep.Ahead) == 0 {
		delete(s.gaps, gateway)
		return
	}
	s.gaps[gateway] = Gap{Gateway: gateway, Epoch: epoch, Mark: ep.Mark, Missing: ep.Missing(), Since: ep.GapSince}
}

// DroppedMsg is the log message of readings the acknowledgement moved over
// because the gateway declared it dropped them (the fault suite counts
// them: with no buffer cap reached, there must be none).
const DroppedMsg = "gateway dropped readings before sending them"

// droppedByGateway logs and counts seqs the acknowledgement moved over
// because the gateway declared it no longer holds them.
func (s *Service) droppedByGateway(gateway string, epoch, dropped uint64, ep *dedup.Epoch) {
	s.m.dropped.WithLabelValues(gateway).Add(float64(dropped))
	s.cfg.Logger.Warn(DroppedMsg, "gateway", gateway, "epoch", epoch, "readings", dropped, "mark", ep.Mark,
		"why", "its buffer's byte or age cap, or a lost disk; the acknowledgement moves past them")
}

// Release applies a gateway's word, from its status message, that it
// holds nothing of epoch below retained (see wire.Status). It returns the
// acknowledgement to send when the mark moved.
func (s *Service) Release(ctx context.Context, gateway string, epoch, retained uint64) (wire.Ack, bool, error) {
	if retained == 0 {
		return wire.Ack{}, false, nil
	}
	for {
		ack, moved, err := s.release(ctx, gateway, epoch, retained)
		if !errors.Is(err, dedup.ErrConflict) {
			return ack, moved, err
		}
		s.m.dedupConflicts.Inc() // redone on the state the other instance stored
	}
}

func (s *Service) release(ctx context.Context, gateway string, epoch, retained uint64) (wire.Ack, bool, error) {
	tx, err := s.cfg.Dedup.Lock(ctx, gateway)
	if err != nil {
		return wire.Ack{}, false, err
	}
	defer tx.Unlock()
	ep := tx.Epoch(epoch)
	dropped := tx.Release(epoch, retained, s.cfg.Now())
	if dropped == 0 {
		return wire.Ack{}, false, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return wire.Ack{}, false, err
	}
	s.droppedByGateway(gateway, epoch, dropped, ep)
	s.noteGap(gateway, epoch, ep)
	return wire.Ack{Gateway: gateway, Epoch: epoch, Seq: ep.Mark}, true, nil
}
