package app

import (
	"encoding/json"
	"net/http"

	"github.com/ponte-city/ponte/ingest/service"
)

// opsStatus is the answer of /status on the ops listener.
type opsStatus struct {
	// Ready is what /readyz says.
	Ready bool `json:"ready"`
	// Gaps are the gateways acknowledged only up to a gap: their later
	// readings are written, and they hold the rest until the gap fills or
	// they declare the missing readings dropped.
	Gaps []service.Gap `json:"gaps"`
}

// statusHandler serves /status: a JSON snapshot for operators and
// scripts (ponte-ctl, the fault suite).
func statusHandler(svc *service.Service, ready func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(opsStatus{Ready: ready(), Gaps: svc.Gaps()})
	})
}
