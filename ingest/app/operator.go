package app

import (
	"crypto/subtle"
	"net/http"
	"strconv"
	"strings"

	"github.com/ponte-city/ponte/internal/throttle"
)

// Reasons of ponte_ingest_auth_failures_total for ingest's own operator
// routes (the twin's API counts its own).
const (
	authMissing = "missing_credentials"
	authBad     = "bad_credentials"
)

// operatorOnly wraps the operator routes ingest itself serves (enrolment):
// the request must carry one of the operators' tokens (twin.tokens) as
// "Authorization: Bearer <token>"; an address that spent its budget of
// failed attempts is answered 429 before its token is looked at.
func operatorOnly(tokens []string, guard *throttle.Guard) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			attempt, ok, wait := guard.Begin(throttle.Key(r.RemoteAddr), r.RemoteAddr)
			if !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
				replyError(w, http.StatusTooManyRequests, "too many failed authentications from this address; retry later")
				return
			}
			scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
			tok = strings.TrimSpace(tok)
			if !strings.EqualFold(scheme, "Bearer") || tok == "" {
				attempt.Refund(authMissing)
				w.Header().Set("WWW-Authenticate", `Bearer realm="ponte"`)
				replyError(w, http.StatusUnauthorized, "an operator token is required: Authorization: Bearer <token>")
				return
			}
			found := 0
			for _, t := range tokens {
				found |= subtle.ConstantTimeCompare([]byte(t), []byte(tok))
			}
			if found != 1 {
				attempt.Failed(authBad)
				w.Header().Set("WWW-Authenticate", `Bearer realm="ponte"`)
				replyError(w, http.StatusUnauthorized, "an operator token is required: Authorization: Bearer <token>")
				return
			}
			attempt.Succeeded()
			h.ServeHTTP(w, r)
		})
	}
}
