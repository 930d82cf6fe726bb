package subs

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin"
)

// TestIDPatternAnchored: idPattern must match the whole entity ID, as
// idPattern of GET /ngsi-ld/v1/entities does (twin/api), not a part.
func TestIDPatternAnchored(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	const id = "urn:ngsi-ld:AirQualityObserved:ba-cavour"
	for _, c := range []struct {
		pattern string
		want    bool
	}{
		{"urn:ngsi-ld:AirQualityObserved:ba-.*", true},
		{".*:ba-cavour", true},
		{"ba-cavour|fi-.*", false}, // an alternative is anchored too
		{".*ba-cavour|fi-.*", true},
		{"ba-", false},    // a part of the ID
		{"cavour", false}, // a suffix
		{"urn:ngsi-ld", false},
	} {
		body := fmt.Sprintf(`{"type":"Subscription","entities":[{"type":"AirQualityObserved","idPattern":%q}],"notification":{"endpoint":{"uri":"http://x/n"}}}`, c.pattern)
		def, comp, err := decodeDefinition([]byte(body), now, func(*url.URL) bool { return true })
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		s := newSub(*def, comp, "*", twin.AllScope(), now)
		if got := s.named(&twin.Entity{ID: id, Type: "AirQualityObserved"}); got != c.want {
			t.Errorf("idPattern %q selects %s: %v, want %v", c.pattern, id, got, c.want)
		}
	}
}
