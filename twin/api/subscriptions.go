package api

import (
	"net/http"

	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/ngsild"
)

// subscriptionsPath is the NGSI-LD subscriptions' collection (clause
// 6.10); Config.Subscriptions serves it and its members.
const subscriptionsPath = ngsiPrefix + "/subscriptions"

// handleSubscriptions passes the NGSI-LD subscriptions' routes to
// Config.Subscriptions (twin/ngsild/subs' Handler), behind the operator
// check, with the caller's scope narrowed by NGSILD-Tenant (as the read
// API narrows it): SubscriptionScope gives it to the handler. Without
// Config.Subscriptions they answer 501 OperationNotSupported, as NGSI-LD
// brokers answer an operation they do not offer.
func (a *API) handleSubscriptions(w http.ResponseWriter, r *http.Request) {
	if a.cfg.Subscriptions == nil {
		writeProblem(w, ngsild.NewProblem(http.StatusNotImplemented, ngsild.ErrOperationNotSupported, "",
			"NGSI-LD subscriptions are not configured on this server (ingest: twin.ngsild.subscriptions)"))
		return
	}
	s, ok := a.ngsiScope(w, r)
	if !ok {
		return
	}
	a.cfg.Subscriptions.ServeHTTP(w, withScope(r, s))
}

// SubscriptionScope returns the scope of a request handed to
// Config.Subscriptions: its caller's, narrowed by NGSILD-Tenant; false
// for a request that did not pass the operator check (subs.Config.Scope).
func SubscriptionScope(r *http.Request) (twin.Scope, bool) {
	s, ok := r.Context().Value(scopeKey{}).(twin.Scope)
	return s, ok
}
