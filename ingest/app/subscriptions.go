package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ponte-city/ponte/ingest/config"
	"github.com/ponte-city/ponte/twin"
	"github.com/ponte-city/ponte/twin/api"
	"github.com/ponte-city/ponte/twin/ngsild/subs"
)

// buildSubscriptions makes the NGSI-LD subscriptions' manager from
// twin.ngsild.subscriptions, or returns nil without the section. Its
// routes are mounted behind the twin API's operator check (subsHandler),
// which gives it the caller's scope; a stored subscription's scope is
// rebuilt from its key with the twin's tenants (scopeOfKey).
//
// The subscriptions are this instance's: with several ingest instances
// (twin.replica), each keeps and delivers those created through it, in
// its own dir, and the others answer 404 for them; a load balancer in
// front should send a client's subscription calls to one instance.
func buildSubscriptions(cfg *config.Config, tw *twin.Twin, log *slog.Logger, reg prometheus.Registerer) (*subs.Manager, error) {
	s, contextURL := cfg.NGSILDSubscriptions()
	if s == nil {
		return nil, nil
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("ingest: twin.ngsild.subscriptions.dir: %w", err)
	}
	m, err := subs.New(subs.Config{Reader: tw, Scope: api.SubscriptionScope, ResolveScope: scopeOfKey(tw),
		ContextURL: contextURL, Dir: s.Dir, AllowedEndpoints: s.AllowedEndpoints,
		MaxSubscriptions: maxSubscriptions(s, len(cfg.Tenants)), MaxPerScope: s.MaxPerScope, QueueSize: s.Queue, MaxAttempts: s.MaxAttempts,
		RetryBase: s.RetryBase.D(), RetryMax: s.RetryMax.D(), DeliveryTimeout: s.DeliveryTimeout.D(),
		QueueBytes: s.QueueBytes, TotalQueueBytes: s.TotalQueueBytes,
		Logger: log.With("component", "ngsild-subscriptions"), Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("ingest: NGSI-LD subscriptions: %w", err)
	}
	return m, nil
}

// subsHandler is m's HTTP handler, or nil (the API then answers 501)
// without subscriptions: never a nil *Manager in an interface.
func subsHandler(m *subs.Manager) http.Handler {
	if m == nil {
		return nil
	}
	return m.Handler()
}

// scopeOfKey rebuilds a scope from its key (twin.Scope.Key): "*" is the
// whole twin, "a,b" tenants a and b. A key naming a tenant that is no
// longer configured rebuilds nothing, so its subscription sees nothing.
func scopeOfKey(tw *twin.Twin) func(key string) (twin.Scope, bool) {
	return func(key string) (twin.Scope, bool) {
		switch key {
		case "*":
			return twin.AllScope(), true
		case "":
			return twin.Scope{}, false
		}
		s, err := tw.Scope(strings.Split(key, ",")...)
		return s, err == nil
	}
}
