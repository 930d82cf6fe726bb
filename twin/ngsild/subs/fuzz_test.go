package subs

import (
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/ponte-city/ponte/twin/ngsild"
)

// FuzzDecodeDefinition: any body either decodes or is refused with a
// *ngsild.Problem, never a panic; what decodes survives the round trip
// through the subscriptions file (encode, decode) unchanged.
func FuzzDecodeDefinition(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*/body.json")
	more, _ := filepath.Glob("testdata/spec/*")
	for _, p := range append(seeds, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"type":"Subscription","entities":[{"type":"A","idPattern":"^urn:.*"}],"watchedAttributes":["no2"],"q":"no2>40;pm10<3","geoQ":{"georel":"within","geometry":"Polygon","coordinates":"[[[0,0],[1,0],[1,1],[0,0]]]"},"throttling":1.5,"expiresAt":"2099-01-01T00:00:00Z","notification":{"attributes":["no2"],"format":"keyValues","endpoint":{"uri":"http://x/n","accept":"application/ld+json"}}}`))
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	anyURL := func(*url.URL) bool { return true }
	f.Fuzz(func(t *testing.T, body []byte) {
		d, _, err := decodeDefinition(body, now, anyURL)
		if err != nil {
			var p *ngsild.Problem
			if !errors.As(err, &p) || p.Status != 400 || p.Detail == "" {
				t.Fatalf("error %v is not a 400 problem", err)
			}
			return
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		d2, _, err := decodeDefinition(b, now, anyURL)
		if err != nil {
			t.Fatalf("%s decoded, its encoding %s does not: %v", body, b, err)
		}
		if !reflect.DeepEqual(d, d2) {
			t.Fatalf("round trip changed %+v into %+v", d, d2)
		}
	})
}
