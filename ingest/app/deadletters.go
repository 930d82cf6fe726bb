package app

// Replaying dead letters.
//
// POST /api/v1/deadletters/{id}/replay (operator token, as for the twin's
// API: Authorization: Bearer <one of twin.tokens>) re-submits the letter's
// batch to this ingest once its cause is fixed: the device added to the
// gateway's list, the gateway to the configuration, InfluxDB's field type
// corrected. `ponte-ctl deadletter replay ID` calls it.
//
// Why a route on ingest and not a resend through the HTTP intake: the
// intake takes a gateway's credentials, which an operator should not hold,
// and its dedup would drop most letters unseen. A letter of refused
// readings (unknown_device, time_out_of_range, sink_rejected) comes from a
// batch whose seq range ingest has recorded as written, so that the
// gateway was acknowledged and freed its buffer; the gateway's own dedup
// state says "written" for those seqs. So a replay goes through the same
// pipeline code (service.Process: validation with the configuration now
// in force, dedup, InfluxDB, the twin), but against a dedup ledger of its
// own, one per letter (<state_dir>/replay/<id>): a second replay of the
// same letter finds its readings written and is a duplicate, so the twin
// never counts a replayed reading twice, and the gateway's real state and
// acknowledgements are untouched. While it runs, the gateway's state is
// locked, so the replay and the gateway's live batches do not interleave.
// A batch refused as a whole for an unknown gateway was never recorded,
// so it goes through the live pipeline and the gateway's own dedup, and a
// later resend by the gateway is then a duplicate. Letters of corrupt,
// truncated, oversized or forged batches (gateway_mismatch, invalid
// gateway ID, unknown version) are refused with 422: no fix on ingest's
// side makes them valid, and they are evidence.
//
// Readings refused again are dead-lettered again, as a new letter, and
// counted in the answer: the first letter is then done (its ledger holds
// them as handled, a repeat is a no-op), and the new one is replayed once
// its cause is fixed. A replayed letter is kept, with a record of the
// replay that did something, for list and show.

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/ingest/deadletter"
	"github.com/ponte-city/ponte/ingest/dedup"
	"github.com/ponte-city/ponte/ingest/service"
)

// replayer serves replays of one ingest's dead letters.
type replayer struct {
	tokens [][]byte
	dl     *deadletter.Dir
	state  string
	svc    *service.Service
	svcCfg service.Config
	store  dedup.Store
	log    *slog.Logger
}

// registerReplay adds the replay route to mux.
func registerReplay(mux *http.ServeMux, cfg *config.Config, svc *service.Service, svcCfg service.Config, store dedup.Store, log *slog.Logger) {
	rp := &replayer{dl: svcCfg.DeadLetter, state: cfg.StateDir, svc: svc, svcCfg: svcCfg, store: store, log: log.With("component", "deadletter_replay")}
	if cfg.Twin != nil {
		for _, t := range cfg.Twin.Tokens {
			rp.tokens = append(rp.tokens, []byte(t))
		}
	}
	mux.HandleFunc("POST /api/v1/deadletters/{id}/replay", rp.serve)
}

func (rp *replayer) serve(w http.ResponseWriter, r *http.Request) {
	if len(rp.tokens) == 0 {
		replyError(w, http.StatusForbidden, "replay needs an operator token, and this ingest has none (twin.tokens)")
		return
	}
	if !rp.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ponte"`)
		replyError(w, http.StatusUnauthorized, "an operator token is required: Authorization: Bearer <token>")
		return
	}
	id := r.PathValue("id")
	l, payload, err := deadletter.Read(rp.dl.Path(), id)
	if errors.Is(err, deadletter.ErrNotFound) {
		replyError(w, http.StatusNotFound, err.Error())
		return
	} else if err != nil {
		replyError(w, http.StatusInternalServerError, err.Error())
		return
	}
	job := service.Job{Transport: "replay", Topic: "deadletter/" + id, Gateway: l.Gateway, Payload: payload}
	res := deadletter.ReplayResult{ID: id}
	var out service.Result
	switch l.Reason {
	case service.ReasonUnknownDevice, service.ReasonTime, service.ReasonSinkRejected:
		res.Path = "letter"
		out, err = rp.viaLedger(r.Context(), id, job)
	case service.ReasonUnknownGateway:
		res.Path = "pipeline"
		out, err = rp.viaPipeline(r.Context(), job)
	default:
		replyError(w, http.StatusUnprocessableEntity, fmt.Sprintf("a letter refused as %s cannot be replayed: no change to ingest's configuration makes that payload valid; it is kept as evidence", l.Reason))
		return
	}
	if err == nil {
		err = out.Err
	}
	var inv *service.InvalidError
	switch {
	case errors.As(err, &inv):
		replyError(w, http.StatusUnprocessableEntity, fmt.Sprintf("refused again and dead-lettered again: %v", inv))
		return
	case err != nil:
		replyError(w, http.StatusServiceUnavailable, fmt.Sprintf("not replayed, try again: %v", err))
		return
	}
	res.Written, res.Duplicates, res.DeadLettered = out.Written, out.Duplicates, out.DeadLettered
	switch {
	case res.Written == 0 && res.DeadLettered == 0:
		res.Message = "nothing new: already replayed"
	case res.DeadLettered > 0:
		res.Message = fmt.Sprintf("%d readings written; %d refused again (dead-lettered again as a new letter)", res.Written, res.DeadLettered)
	default:
		res.Message = fmt.Sprintf("%d readings written", res.Written)
	}
	// A repeat that did nothing keeps the record of the replay that did.
	if res.Written > 0 || res.DeadLettered > 0 {
		if err := deadletter.MarkReplayed(rp.dl.Path(), id, deadletter.Replay{Time: time.Now().UTC(),
			Written: res.Written, Duplicates: res.Duplicates, DeadLettered: res.DeadLettered}); err != nil {
			rp.log.Error("replay done but not recorded", "id", id, "err", err)
		}
	}
	rp.log.Info("dead letter replayed", "id", id, "gateway", l.Gateway, "reason", l.Reason, "path", res.Path,
		"written", res.Written, "duplicates", res.Duplicates, "dead_lettered", res.DeadLettered)
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

// viaLedger processes job with the pipeline's configuration and the
// letter's own dedup ledger, holding the gateway's live state meanwhile.
func (rp *replayer) viaLedger(ctx context.Context, id string, job service.Job) (service.Result, error) {
	tx, err := rp.store.Lock(ctx, job.Gateway)
	if err != nil {
		return service.Result{}, err
	}
	defer tx.Unlock()
	// The letter's batch is one range in a fresh ledger; a gap before it
	// (its first seq is not 1) only holds the ledger's mark, which nothing
	// acknowledges.
	ledger, err := dedup.Open(dedup.Config{Dir: filepath.Join(rp.state, "replay", id), Logger: rp.log})
	if err != nil {
		return service.Result{}, err
	}
	defer ledger.Close()
	c := rp.svcCfg
	c.Dedup, c.Registerer, c.Logger = ledger, nil, rp.log
	s, err := service.New(c)
	if err != nil {
		return service.Result{}, err
	}
	return s.Process(ctx, job), nil
}

// viaPipeline submits job to the live pipeline and waits for its result.
func (rp *replayer) viaPipeline(ctx context.Context, job service.Job) (service.Result, error) {
	done := make(chan service.Result, 1)
	job.Done = func(r service.Result) { done <- r }
	if err := rp.svc.Submit(ctx, job); err != nil {
		return service.Result{}, err
	}
	select {
	case r := <-done:
		return r, nil
	case <-ctx.Done():
		return service.Result{}, ctx.Err()
	}
}

// authorized says whether r carries one of the operator tokens.
func (rp *replayer) authorized(r *http.Request) bool {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return false
	}
	found := 0
	for _, t := range rp.tokens {
		found |= subtle.ConstantTimeCompare(t, []byte(strings.TrimSpace(tok)))
	}
	return found == 1
}

// replyError answers a JSON error.
func replyError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
