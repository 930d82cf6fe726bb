package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
)

// commandsPath is the operators' commands (issue 16: write-back to
// devices); Config.Commands serves it and everything below it.
const commandsPath = "/api/v1/commands"

// handleCommands passes the commands' routes to Config.Commands (package
// ingest/command), behind the operator check: ScopeOf gives it the
// caller's scope, OperatorID who the caller is. Without Config.Commands
// they answer 503, as the alarms' do.
func (a *API) handleCommands(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Commands == nil {
		writeError(w, http.StatusServiceUnavailable, "", "commands are not configured on this server (ingest: commands)")
		return
	}
	a.cfg.Commands.ServeHTTP(w, r)
}

type operatorKey struct{}

// OperatorID returns who made r, as the operator check found it: "op-"
// and the first 10 hex digits of the SHA-256 of the caller's token (each
// operator holds a token of their own, so two IDs are two people; the
// token itself is never kept). "" for a request that did not pass the
// check.
func OperatorID(r *http.Request) string {
	id, _ := r.Context().Value(operatorKey{}).(string)
	return id
}

// withOperator records the caller's operator ID, from its token, in r.
func withOperator(r *http.Request, token string) *http.Request {
	sum := sha256.Sum256([]byte(token))
	return r.WithContext(context.WithValue(r.Context(), operatorKey{}, "op-"+hex.EncodeToString(sum[:5])))
}
