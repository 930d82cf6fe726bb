package intake

import "strings"

// natsSubject returns the NATS subject nats-server gives the MQTT topic
// (server/mqtt.go, mqttToNATSSubjectConversion): each '/' becomes '.' and
// each '.' becomes "//". Ponte's topics have no empty level (prefix and
// gateway IDs are never empty and never start or end with '/'), so the
// server's escapes for leading, trailing and doubled '/' are not needed;
// a topic with an empty level is returned as "" (no subject).
func natsSubject(topic string) string {
	if topic == "" || strings.HasPrefix(topic, "/") || strings.HasSuffix(topic, "/") || strings.Contains(topic, "//") {
		return ""
	}
	var b strings.Builder
	b.Grow(len(topic) + 4)
	for i := 0; i < len(topic); i++ {
		switch c := topic[i]; c {
		case '/':
			b.WriteByte('.')
		case '.':
			b.WriteString("//")
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// mqttTopic is natsSubject's inverse (server/mqtt.go,
// natsSubjectToMQTTTopic, for subjects without the escapes of empty
// levels): "//" becomes '.', '.' becomes '/'.
func mqttTopic(subject string) string {
	var b strings.Builder
	b.Grow(len(subject))
	for i := 0; i < len(subject); i++ {
		switch c := subject[i]; {
		case c == '/' && i+1 < len(subject) && subject[i+1] == '/':
			b.WriteByte('.')
			i++
		case c == '.':
			b.WriteByte('/')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
