// Package monitoring holds the test of what Ponte ships for monitoring:
// the Prometheus alert rules (deploy/prometheus/ponte-rules.yaml) and the
// Grafana dashboard (deploy/grafana/ponte.json). Every metric an alert or
// a panel names must be one the code registers (a "ponte_..." name in a
// Go file of the module), so a renamed metric fails here rather than
// silently in the control room; the rules also go through
// `promtool check rules` when promtool is installed (Debian: apt-get
// install prometheus).
package monitoring
