package wire

import (
	"fmt"
	"strings"
)

// DefaultPrefix is the topic prefix when a deployment sets none.
const DefaultPrefix = "ponte"

// Topics names the MQTT topics of the edge-ingest contract under a prefix:
//
//	{prefix}/gw/{gateway}/up      batches, gateway -> ingest, QoS 1
//	{prefix}/gw/{gateway}/ack     acknowledgements, ingest -> gateway, QoS 1
//	{prefix}/gw/{gateway}/status  gateway status, retained; the MQTT last
//	                              will publishes "offline" here
//	{prefix}/gw/{gateway}/cmd     commands, ingest -> gateway, QoS 1 (see
//	                              Command)
//	{prefix}/gw/{gateway}/report  command reports, gateway -> ingest, QoS 1
//
// Every topic of a gateway sits under {prefix}/gw/{gateway}/, so one broker
// ACL pattern ({prefix}/gw/%u/#, Mosquitto's %u = username) confines a
// gateway to its own ID.
type Topics struct {
	Prefix string
}

func (t Topics) base(gateway string) string {
	p := t.Prefix
	if p == "" {
		p = DefaultPrefix
	}
	return p + "/gw/" + gateway + "/"
}

// Up is the gateway's batch topic.
func (t Topics) Up(gateway string) string { return t.base(gateway) + "up" }

// Ack is the gateway's acknowledgement topic.
func (t Topics) Ack(gateway string) string { return t.base(gateway) + "ack" }

// Status is the gateway's retained status topic.
func (t Topics) Status(gateway string) string { return t.base(gateway) + "status" }

// Cmd is the gateway's command topic.
func (t Topics) Cmd(gateway string) string { return t.base(gateway) + "cmd" }

// Report is the gateway's command report topic.
func (t Topics) Report(gateway string) string { return t.base(gateway) + "report" }

// ReportFilter is the subscription for every gateway's command reports.
func (t Topics) ReportFilter() string { return t.base("+") + "report" }

// UpFilter is the subscription for every gateway's batches; with a
// non-empty group it is an MQTT 5 / broker-extension shared subscription
// ($share/group/...), so that ingest instances split the gateways.
func (t Topics) UpFilter(group string) string {
	f := t.base("+") + "up"
	if group != "" {
		f = "$share/" + group + "/" + f
	}
	return f
}

// StatusFilter is the subscription for every gateway's status.
func (t Topics) StatusFilter() string { return t.base("+") + "status" }

// Gateway returns the gateway ID in topic (any of the topics above), and
// the last level ("up", "ack", ...).
func (t Topics) Gateway(topic string) (gateway, kind string, err error) {
	prefix := strings.TrimSuffix(t.base(""), "/")
	rest, ok := strings.CutPrefix(topic, prefix)
	if !ok {
		return "", "", fmt.Errorf("topic %q is not under %q", topic, prefix)
	}
	gw, kind, ok := strings.Cut(rest, "/")
	if !ok || gw == "" || kind == "" || strings.Contains(kind, "/") {
		return "", "", fmt.Errorf("topic %q: expected %s{gateway}/{kind}", topic, prefix)
	}
	return gw, kind, nil
}

// ValidGatewayID reports whether id can be a gateway ID: it becomes a topic
// level, a username and an InfluxDB tag, so it is kept to letters, digits,
// '-', '_' and '.', 1 to 64 characters.
func ValidGatewayID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
