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
	deadLetters      *prometheus.CounterVec
	deadLetterErrors prometheus.Counter
	writeSeconds     prometheus.Histogram
	sinkErrors       prometheus.Counter
	gapsGivenUp      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Service) (*metrics, error) {
	m := &metrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_payloads_total", Help: "Payloads taken from the transports."}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_ingest_batches_total",
			Help: "Batches processed, by result: written, duplicate (replay), invalid (dead-lettered as a whole), error (not processed; delivered again later)."},
			[]string{"result"}),
		readings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_ingest_readings_total",
			Help: "Readings by result: received, written, duplicate, dead_letter."},
			[]string{"result"}),
		dedupHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_dedup_hits_total", Help: "Readings dropped because they were already written (replays)."}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ponte_ingest_dead_letters_total", Help: "Dead letters by reason."}, []string{"reason"}),
		deadLetterErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_dead_letter_errors_total", Help: "Dead letters that could not be stored."}),
		writeSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ponte_ingest_write_seconds", Help: "Duration of one sink write call.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)}),
		sinkErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_influx_errors_total", Help: "Sink (InfluxDB) write calls that failed and were retried."}),
		gapsGivenUp: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ponte_ingest_gap_seqs_given_up_total", Help: "Sequence numbers given up after a gap stayed open past the gap timeout."}),
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
	for _, c := range []prometheus.Collector{m.received, m.batches, m.readings, m.dedupHits, m.deadLetters,
		m.deadLetterErrors, m.writeSeconds, m.sinkErrors, m.gapsGivenUp, backpressure} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("service: register metrics: %w", err)
		}
	}
	return m, nil
}
