package intake

import (
	"strings"
	"testing"

	"github.com/ponte-city/ponte/wire"
)

func TestNATSSubject(t *testing.T) {
	for _, c := range []struct{ topic, subject string }{
		{"ponte/gw/gw1/up", "ponte.gw.gw1.up"},
		{"ponte/gw/fi.q2.0042/ack", "ponte.gw.fi//q2//0042.ack"},
		{"city/ponte/gw/*/status", "city.ponte.gw.*.status"},
		{"/ponte/gw", ""},
		{"ponte//gw", ""},
	} {
		if got := natsSubject(c.topic); got != c.subject {
			t.Errorf("natsSubject(%q) = %q, want %q", c.topic, got, c.subject)
		}
		if c.subject != "" {
			if back := mqttTopic(c.subject); back != c.topic {
				t.Errorf("mqttTopic(%q) = %q, want %q", c.subject, back, c.topic)
			}
		}
	}
}

// FuzzNATSSubject: every topic of a valid gateway ID maps to a subject
// and back unchanged; nothing panics on any input.
func FuzzNATSSubject(f *testing.F) {
	f.Add("ponte", "gw1")
	f.Add("a.b", "x.y.z")
	f.Fuzz(func(t *testing.T, prefix, gw string) {
		_ = mqttTopic(prefix + gw)
		if !wire.ValidGatewayID(gw) || prefix == "" || strings.ContainsAny(prefix, "+#* \t\r\n\f\x7f") ||
			natsSubject(prefix) == "" {
			return
		}
		topic := wire.Topics{Prefix: prefix}.Up(gw)
		s := natsSubject(topic)
		if s == "" || mqttTopic(s) != topic {
			t.Fatalf("topic %q -> subject %q -> topic %q", topic, s, mqttTopic(s))
		}
	})
}
