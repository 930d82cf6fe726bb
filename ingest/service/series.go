package service

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ReasonSeriesLimit is the dead-letter reason of readings of a device a
// gateway does not list, beyond the gateway's cap on new devices.
const ReasonSeriesLimit = "series_limit"

// DefaultMaxNewDevices is the default of Config.MaxNewDevices. It is above
// the largest gateway Ponte is sized for (1,000 devices), so a restart,
// after which every unlisted device is new again, still admits them all;
// and far below what hurts InfluxDB's series index (one gateway made
// 5,000 series with one 149 KB request before there was a cap).
const DefaultMaxNewDevices = 1000

// seriesWindow is the period MaxNewDevices counts over.
const seriesWindow = time.Hour

// seriesCap admits, per gateway, at most max devices the configuration
// does not list (each a new set of series in InfluxDB) per seriesWindow.
// A device once admitted stays admitted until ingest restarts, so only
// devices never seen before count. Readings of a device refused are
// dead-lettered with ReasonSeriesLimit; the device may be admitted in a
// later window. Safe for concurrent use; one gateway's batches are
// screened one at a time anyway (under its dedup lock).
//
// The admitted set grows by at most max devices per gateway and window:
// memory is bounded by the cap, as InfluxDB's series are.
type seriesCap struct {
	max     int
	log     *slog.Logger
	refused *prometheus.CounterVec

	mu  sync.Mutex
	gws map[string]*gatewaySeries // by gateway; guarded by mu
}

// gatewaySeries is one gateway's admitted devices and current window.
type gatewaySeries struct {
	mu       sync.Mutex
	admitted map[string]bool
	start    time.Time // of the current window
	n        int       // devices admitted in the current window
	warned   bool      // the cap was logged in the current window
}

func newSeriesCap(reg prometheus.Registerer, max int, log *slog.Logger) (*seriesCap, error) {
	c := &seriesCap{max: max, log: log, gws: map[string]*gatewaySeries{},
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_ingest_series_limit_readings_total",
			Help: "Readings dead-lettered because their device is not listed and the gateway had already added max_new_devices new devices in the last hour."},
			[]string{"gateway"})}
	if reg != nil {
		if err := reg.Register(c.refused); err != nil {
			return nil, fmt.Errorf("service: register series cap metric: %w", err)
		}
	}
	return c, nil
}

// gateway returns gw's state, locked; the caller unlocks it.
func (c *seriesCap) gateway(gw string) *gatewaySeries {
	c.mu.Lock()
	g := c.gws[gw]
	if g == nil {
		g = &gatewaySeries{admitted: map[string]bool{}}
		c.gws[gw] = g
	}
	c.mu.Unlock()
	g.mu.Lock()
	return g
}

// admit reports whether readings of the unlisted device dev of gateway gw
// may be written at now; g is c.gateway(gw), locked.
func (c *seriesCap) admit(g *gatewaySeries, gw, dev string, now time.Time) bool {
	if g.admitted[dev] {
		return true
	}
	if now.Sub(g.start) >= seriesWindow || now.Before(g.start) {
		g.start, g.n, g.warned = now, 0, false
	}
	if g.n >= c.max {
		c.refused.WithLabelValues(gw).Inc()
		if !g.warned {
			g.warned = true
			c.log.Warn("gateway reached its cap on new devices; readings of further unlisted devices are dead-lettered (series_limit) until the hour is over; list its devices in the ingest config or raise max_new_devices",
				"gateway", gw, "max_new_devices", c.max, "window_start", g.start, "device", dev)
		}
		return false
	}
	g.n++
	g.admitted[dev] = true
	return true
}
