package service

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	received         prometheus.Counter
	batches          *prometheus.CounterVec
	readings         *prometheus.CounterVec
	dedupHits        prometheus.Counter
	dedupConflicts   prometheus.Counter
	deadLetters      *prometheus.CounterVec
	deadLetterErrors prometheus.Counter
	writeSeconds     prometheus.Histogram
	trains           prometheus.Histogram
	sinkErrors       prometheus.Counter
	dropped          *prometheus.CounterVec
	lastSeen         *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer, s *Service) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_payloads_total", Help: "Payloads taken from the transports."}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_ingest_batches_total",
			Help: "Batches processed, by result: written, duplicate (replay), invalid (dead-lettered as a whole), deferred (too many gaps open before it; the gateway sends it again), error (not processed; delivered again later)."},
			[]string{"result"}),
		readings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_ingest_readings_total",
			Help: "Readings by result: received, written, duplicate, dead_letter."},
			[]string{"result"}),
		dedupHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_dedup_hits_total", Help: "Readings dropped because they were already written (replays)."}),
		dedupConflicts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_dedup_conflicts_total",
			Help: "Batches and status messages redone from the dedup filter because another instance committed the gateway's shared state first."}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_ingest_dead_letters_total",
			Help: "Dead letters by gateway and reason (gateway \"" + otherGateway + "\": an ID not in the configuration's gateways, or not a valid ID)."},
			[]string{"gateway", "reason"}),
		deadLetterErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_dead_letter_errors_total", Help: "Dead letters that could not be stored."}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ponte_ingest_write_seconds", Help: "Duration of one sink write call.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)}),
		trains: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ponte_ingest_train_batches",
			Help:    "Batches of one gateway processed as a chain of two or more: each written as it came while the ones before were in flight, committed in order (a gateway sending faster than one write at a time).",
			Buckets: []float64{2, 4, 8, 16, 32, 64, 128, 256}}),
		sinkErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_influx_errors_total", Help: "Sink (InfluxDB) write calls that failed and were retried."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_ingest_gateway_dropped_readings_total",
			Help: "Sequence numbers the acknowledgement moved over because the gateway declared it no longer holds them (its buffer's byte or age cap); never on a timer."},
			[]string{"gateway"}),
		lastSeen: newLastSeen(),
	}
	if reg == nil {
		return m, nil
	}
	backpressure := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ponte_ingest_backpressure",
		Help: "1 while the sink is unhealthy or a batch is being retried (intake holds back), else 0."},
		func() float64 {
			if s.Ready() {
				return 0
			}
			return 1
		})
	for _, c := range []prometheus.Collector{m.received, m.batches, m.readings, m.dedupHits, m.dedupConflicts, m.deadLetters,
		m.deadLetterErrors, m.writeSeconds, m.trains, m.sinkErrors, m.dropped, m.lastSeen, backpressure, gapCollector{s}} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("service: register metrics: %w", err)
		}
	}
	return m, nil
}

var (
	gapMissingDesc = prometheus.NewDesc("ponte_ingest_gap_missing_readings",
		"Readings an open gap in the gateway's sequence waits for; the gateway is not acknowledged past the gap until they arrive or it declares them dropped.",
		[]string{"gateway"}, nil)
	gapAgeDesc = prometheus.NewDesc("ponte_ingest_gap_open_seconds",
		"How long the gateway's oldest open gap has been open.", []string{"gateway"}, nil)
)

// gapCollector exports the open gaps, one series per gateway with a gap.
type gapCollector struct{ s *Service }

func (c gapCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- gapMissingDesc
	ch <- gapAgeDesc
}

func (c gapCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.s.cfg.Now()
	for _, g := range c.s.Gaps() {
		ch <- prometheus.MustNewConstMetric(gapMissingDesc, prometheus.GaugeValue, float64(g.Missing), g.Gateway)
		ch <- prometheus.MustNewConstMetric(gapAgeDesc, prometheus.GaugeValue, now.Sub(g.Since).Seconds(), g.Gateway)
	}
}
