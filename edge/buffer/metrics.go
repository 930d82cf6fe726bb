package buffer

import "github.com/prometheus/client_golang/prometheus"

// Reasons records are dropped, the label of ponte_edge_buffer_dropped_total.
const (
	reasonCapBytes   = "cap_bytes"   // deleted by the MaxBytes cap
	reasonCapAge     = "cap_age"     // older than MaxAge
	reasonMemoryFull = "memory_full" // memory queue over MemoryRecords while degraded
	reasonShutdown   = "shutdown"    // still in memory at Close
	reasonTorn       = "torn"        // a frame cut short (crash mid-write)
	reasonCRC        = "crc"         // a frame that does not verify
	reasonZero       = "zero_filled" // a tail of zero bytes (power cut)
	reasonHeader     = "header"      // a segment whose header does not verify
	reasonEpoch      = "epoch"       // a segment of another epoch
)

// metrics are the buffer's Prometheus metrics.
type metrics struct {
	bytes        prometheus.Gauge
	records      prometheus.Gauge
	memory       prometheus.Gauge
	oldestAge    prometheus.Gauge
	appended     prometheus.Counter
	dropped      *prometheus.CounterVec
	droppedBytes *prometheus.CounterVec
	recovered    prometheus.Counter
	ackedSeq     prometheus.Gauge
	durableSeq   prometheus.Gauge
	degraded     prometheus.Gauge
	fsync        prometheus.Histogram
	diskErrors   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_buffer_bytes",
			Help: "Size of the buffer's segment files on disk.",
		}),
		records: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_buffer_records",
			Help: "Records appended and not yet acknowledged or dropped.",
		}),
		memory: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_buffer_memory_records",
			Help: "Records held in memory only, not yet on disk.",
		}),
		oldestAge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_buffer_oldest_age_seconds",
			Help: "Age of the oldest record not yet acknowledged.",
		}),
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_edge_buffer_appended_total",
			Help: "Records appended.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_buffer_dropped_total",
			Help: "Records dropped before acknowledgement, by reason (cap_bytes, cap_age, memory_full, shutdown, torn, crc, zero_filled, header, epoch).",
		}, []string{"reason"}),
		droppedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_buffer_dropped_bytes_total",
			Help: "Bytes of damaged segment data cut off by recovery, by reason (torn, crc, zero_filled, header, epoch).",
		}, []string{"reason"}),
		recovered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_edge_buffer_recovered_total",
			Help: "Unacknowledged records found on disk at start-up.",
		}),
		ackedSeq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_buffer_acked_seq",
			Help: "Highest sequence number acknowledged by ingest.",
		}),
		durableSeq: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_buffer_durable_seq",
			Help: "Highest sequence number on disk and synced.",
		}),
		degraded: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ponte_edge_buffer_degraded",
			Help: "1 while the disk is failing and records are held in a bounded memory queue.",
		}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ponte_edge_buffer_fsync_seconds",
			Help:    "Time taken by one fsync of a segment file.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		diskErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_edge_buffer_disk_errors_total",
			Help: "Failed disk operations by kind (write, fsync, create, remove, meta, read).",
		}, []string{"op"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.bytes, m.records, m.memory, m.oldestAge, m.appended,
			m.dropped, m.droppedBytes, m.recovered, m.ackedSeq, m.durableSeq, m.degraded, m.fsync, m.diskErrors} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}
