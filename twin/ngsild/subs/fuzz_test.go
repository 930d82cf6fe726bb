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
		checkDecoded(t, body, d, err, now)
	})
}

// checkDecoded checks what decoding or patching body gave: a 400
// *ngsild.Problem, or a definition whose encoding (as the subscriptions
// file keeps it) decodes to the same.
func checkDecoded(t *testing.T, body []byte, d *Definition, err error, now time.Time) {
	t.Helper()
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
	d2, _, err := decodeDefinition(b, now, func(*url.URL) bool { return true })
	if err != nil {
		t.Fatalf("%s accepted, its encoding %s does not decode: %v", body, b, err)
	}
	if !reflect.DeepEqual(d, d2) {
		t.Fatalf("round trip changed %+v into %+v", d, d2)
	}
}

// FuzzPatchDefinition: PATCH's merge path (patchDefinition: mergeJSON of
// a fragment over a stored definition, then decodeDefinition) never
// panics; a fragment is refused with a 400 *ngsild.Problem or gives a
// definition that keeps the stored id and survives the subscriptions
// file's round trip.
func FuzzPatchDefinition(f *testing.F) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	anyURL := func(*url.URL) bool { return true }
	base, _, err := decodeDefinition([]byte(`{"id":"urn:ngsi-ld:Subscription:1","type":"Subscription","entities":[{"type":"A","idPattern":"urn:.*"}],"watchedAttributes":["no2"],"q":"no2>40","throttling":1.5,"notification":{"attributes":["no2"],"format":"keyValues","endpoint":{"uri":"http://x/n","accept":"application/ld+json"}}}`), now, anyURL)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{`{}`, `{"q":null}`, `{"notification":{"format":null}}`, `{"notification":null}`,
		`{"id":"urn:ngsi-ld:Subscription:2"}`, `{"id":"urn:ngsi-ld:Subscription:1","isActive":false}`,
		`{"notification":{"endpoint":{"uri":"http://x/a/%2e%2e/b"}}}`, `{"notification":[1]}`, `{"entities":null}`,
		`{"expiresAt":"2020-01-01T00:00:00Z"}`, `{"geoQ":{"georel":"near;maxDistance==10","geometry":"Point","coordinates":[1,2]}}`,
		`{"entities":[{"type":"B","idPattern":"a)|(b"}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var fragment map[string]json.RawMessage
		if json.Unmarshal(body, &fragment) != nil || fragment == nil {
			return // the handler answers 400 before the merge
		}
		d, _, err := patchDefinition(*base, fragment, now, anyURL)
		if err == nil && d.ID != base.ID {
			t.Fatalf("the patch changed the id into %q", d.ID)
		}
		checkDecoded(t, body, d, err, now)
	})
}

// FuzzParsePaging: the list's query never panics; it is refused with a
// 400 *ngsild.Problem or gives 0 <= limit <= MaxLimit and offset >= 0.
func FuzzParsePaging(f *testing.F) {
	for _, s := range []string{"", "limit=5&offset=2&count=true", "limit=-1", "offset=99999999999999999999", "limit=1001",
		"limit=%zz", "%zz=1", "limit=1&limit=2", "offset=+3", "limit=0x10", "count=true&&&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		pg, err := parsePaging(raw)
		if err != nil {
			var p *ngsild.Problem
			if !errors.As(err, &p) || p.Status != 400 || p.Detail == "" {
				t.Fatalf("error %v is not a 400 problem", err)
			}
			return
		}
		if pg.limit < 0 || pg.limit > ngsild.MaxLimit || pg.offset < 0 {
			t.Fatalf("%q gave limit %d offset %d", raw, pg.limit, pg.offset)
		}
	})
}
