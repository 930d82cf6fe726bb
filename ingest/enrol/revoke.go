package enrol

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
)

// RevokeToken revokes an unused enrolment token, so that it enrols no
// gateway (the refusal says it was revoked) and no longer counts as
// pending. may, if set, says whether the caller may see the token: one it
// may not is answered as unknown (404), like one that does not exist.
// Revoking a revoked token again is a no-op; a used token cannot be
// revoked (409: revoke its gateway instead).
func (r *Registry) RevokeToken(id, by string, may func(Token) bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	r.wmu.Lock()
	defer r.wmu.Unlock()
	for n := 0; ; n++ {
		t, rev, err := r.store.token(ctx, id)
		if err != nil {
			return fmt.Errorf("enrol: %w", err)
		}
		if t == nil || (may != nil && !may(*t)) {
			return refuse(http.StatusNotFound, "enrolment token %q is not known", id)
		}
		switch {
		case t.Revoked != nil:
			return nil
		case t.Used != nil:
			return refuse(http.StatusConflict, "enrolment token %s was already used at %s by gateway %s; revoke the gateway instead (ponte-ctl enrolment revoke %s)",
				id, t.Used.Format(time.RFC3339), t.UsedBy, t.UsedBy)
		}
		now := r.cfg.Now().UTC()
		t.Revoked, t.RevokedBy = &now, by
		if t.Expires.After(now) {
			t.Expires = now
		}
		recs, err := r.store.updateToken(ctx, t, rev)
		if errors.Is(err, errConflict) && n < conflictRetries {
			continue // used or changed meanwhile on another instance
		}
		if err != nil {
			return fmt.Errorf("enrol: %w", err)
		}
		r.applyAll(recs)
		r.log.Warn("enrolment token revoked", "token", id, "scope", t.Scope.String(), "by", by)
		return nil
	}
}

func (f *fileStore) updateToken(_ context.Context, t *Token, rev uint64) ([]rec, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.revs["t/"+t.ID] != rev || f.st.Tokens[t.ID] == nil {
		return nil, errConflict
	}
	prev := f.st.Tokens[t.ID]
	c := *t
	f.st.Tokens[t.ID] = &c
	pruned, err := f.save()
	if err != nil {
		f.st.Tokens[t.ID] = prev
		return nil, err
	}
	return append(pruned, f.tokenRec(t.ID, t)), nil
}

func (s *kvStore) updateToken(ctx context.Context, t *Token, rev uint64) ([]rec, error) {
	r, err := s.putToken(ctx, t, rev)
	if err != nil {
		return nil, err
	}
	return []rec{r}, nil
}

// revokeToken answers POST /api/v1/enrolment/tokens/{id}/revoke: an
// operator of some tenants revokes only their tokens.
func (h *handler) revokeToken(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var may func(Token) bool
	if tenants, all := h.caller(r); !all {
		may = func(t Token) bool { return t.Scope.Tenant != "" && slices.Contains(tenants, t.Scope.Tenant) }
	}
	if h.fail(w, h.cfg.Registry.RevokeToken(id, "operator at "+r.RemoteAddr, may)) {
		return
	}
	reply(w, http.StatusOK, map[string]any{"token": id, "revoked": true})
}
