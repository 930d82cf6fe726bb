package replica

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	published, retries, unpublished prometheus.Counter
	applied, skipped, corrupt, gaps prometheus.Counter
	duplicates                      prometheus.Counter
	snapshots, snapshotErrs         prometheus.Counter
	snapshotBytes, pending          prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: "ponte_ingest_replica_" + name, Help: help})
	}
	g := func(name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Name: "ponte_ingest_replica_" + name, Help: help})
	}
	m := &metrics{
		published:     c("published_total", "Batches published to the applied stream."),
		retries:       c("publish_retries_total", "Publishes to the applied stream that failed and were retried."),
		unpublished:   c("unpublished_total", "Batches given up unpublished because ingest stopped (the twins miss them)."),
		applied:       c("applied_total", "Batches of the applied stream applied to this instance's twin."),
		skipped:       c("skipped_total", "Messages of the applied stream the twin had already applied."),
		duplicates:    c("duplicate_readings_total", "Readings of the applied stream this twin had applied from an earlier message (a batch published again after a crash or a lost compare-and-swap), not applied again."),
		corrupt:       c("corrupt_total", "Messages of the applied stream that did not decode (skipped)."),
		gaps:          c("gaps_total", "Times the stream no longer held the batches after the twin's snapshot."),
		snapshots:     c("snapshots_total", "Twin snapshots written."),
		snapshotErrs:  c("snapshot_errors_total", "Twin snapshots that could not be written or read."),
		snapshotBytes: g("snapshot_bytes", "Size of the latest twin snapshot written or loaded."),
		pending:       g("pending", "Messages of the applied stream not yet applied to this twin."),
	}
	for _, x := range []prometheus.Collector{m.published, m.retries, m.unpublished, m.applied, m.skipped,
		m.duplicates, m.corrupt, m.gaps, m.snapshots, m.snapshotErrs, m.snapshotBytes, m.pending} {
		if err := reg.Register(x); err != nil {
			return nil, err
		}
	}
	return m, nil
}
