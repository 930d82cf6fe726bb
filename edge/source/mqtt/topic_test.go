package mqtt

import "testing"

func TestMatchTopic(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"application/+/device/+/event/up", "application/17c8/device/70b3d5e75e001a2c/event/up", true},
		{"application/+/device/+/event/up", "application/17c8/device/70b3d5e75e001a2c/event/join", false},
		{"application/+/device/+/event/up", "application/17c8/device/event/up", false},
		{"v3/+/devices/+/up", "v3/bari-air@ttn/devices/aq-01/up", true},
		{"v3/+/devices/+/up", "v3/bari-air@ttn/devices/aq-01/up/extra", false},
		{"city/#", "city", true},
		{"city/#", "city/noise/a", true},
		{"city/#", "town/noise", false},
		{"#", "anything/at/all", true},
		{"#", "$SYS/broker/uptime", false},
		{"+/x", "$SYS/x", false},
		{"city/+", "city/", true},
		{"city/+", "city", false},
		{"a/b", "a/b", true},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"$share/ingest/city/+", "city/a", true},
	}
	for _, c := range cases {
		t.Run(c.filter+" "+c.topic, func(t *testing.T) {
			if got := matchTopic(c.filter, c.topic); got != c.want {
				t.Fatalf("matchTopic(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
			}
		})
	}
}

func TestValidFilter(t *testing.T) {
	cases := []struct {
		filter string
		ok     bool
	}{
		{"application/+/device/+/event/up", true},
		{"city/#", true},
		{"#", true},
		{"", false},
		{"city/#/x", false},
		{"city/no+se", false},
		{"city/a#", false},
		{"a\x00b", false},
	}
	for _, c := range cases {
		t.Run(c.filter, func(t *testing.T) {
			if err := validFilter(c.filter); (err == nil) != c.ok {
				t.Fatalf("validFilter(%q) = %v, want ok=%v", c.filter, err, c.ok)
			}
		})
	}
}
