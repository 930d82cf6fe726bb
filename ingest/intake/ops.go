package intake

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is a named readiness condition.
type Check struct {
	Name string
	OK   func() bool
}

// RegisterOps adds /healthz (the process serves), /readyz (every check
// passes, e.g. the sink is healthy and the broker connected; 503 listing
// the failing ones otherwise) and /metrics (g) to mux.
func RegisterOps(mux *http.ServeMux, g prometheus.Gatherer, checks ...Check) {
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		var failing []byte
		for _, c := range checks {
			if !c.OK() {
				failing = append(failing, c.Name+" not ready\n"...)
			}
		}
		if len(failing) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write(failing)
			return
		}
		w.Write([]byte("ready\n"))
	})
	mux.Handle("/metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{}))
}
