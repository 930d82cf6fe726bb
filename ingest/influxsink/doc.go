// Package influxsink adapts the InfluxDB sink (package influx) to the
// pipeline's Sink interface (package service), which keeps its own
// Rejected type so that the pipeline builds and tests without InfluxDB.
package influxsink
