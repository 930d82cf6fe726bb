package mqtt

import (
	"fmt"
	"strings"
)

// validFilter checks an MQTT topic filter as MQTT 3.1.1 section 4.7 does:
// non-empty, no NUL, '+' and '#' only as whole levels, '#' only last.
func validFilter(f string) error {
	if f == "" {
		return fmt.Errorf("topic filter is empty")
	}
	if strings.ContainsRune(f, 0) {
		return fmt.Errorf("topic filter %q contains NUL", f)
	}
	levels := strings.Split(shareless(f), "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return fmt.Errorf("topic filter %q: '#' must be the last level", f)
		case l != "#" && l != "+" && strings.ContainsAny(l, "#+"):
			return fmt.Errorf("topic filter %q: wildcards must fill a whole level (level %q)", f, l)
		}
	}
	return nil
}

// shareless strips a shared-subscription prefix ($share/group/), which
// names the consumers, not the topics.
func shareless(f string) string {
	if strings.HasPrefix(f, "$share/") {
		parts := strings.SplitN(f, "/", 3)
		if len(parts) == 3 {
			return parts[2]
		}
	}
	return f
}

// matchTopic reports whether topic matches filter. Wildcards at the first
// level do not match topics starting with '$' (broker-internal topics).
func matchTopic(filter, topic string) bool {
	filter = shareless(filter)
	if strings.HasPrefix(topic, "$") && (strings.HasPrefix(filter, "+") || strings.HasPrefix(filter, "#")) {
		return false
	}
	for {
		fl, frest, fmore := strings.Cut(filter, "/")
		if fl == "#" {
			return true
		}
		tl, trest, tmore := strings.Cut(topic, "/")
		if fl != "+" && fl != tl {
			return false
		}
		if !fmore || !tmore {
			// "a/#" matches "a": the parent level of a multi-level wildcard.
			return fmore == tmore || (fmore && frest == "#")
		}
		filter, topic = frest, trest
	}
}
