package api

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// pageLinks returns the Link values of resp that are not the @context's.
func pageLinks(resp *http.Response) []string {
	var out []string
	for _, l := range resp.Header.Values("Link") {
		if !strings.Contains(l, "json-ld#context") {
			out = append(out, l)
		}
	}
	return out
}

// TestNGSIPageLinks: query entities' pages link the pages around them as
// TP 019_31 (an extension TP of marek-mraz/ngsi-ld-test-suite, the GitHub
// copy of the ETSI test suite) expects: next only on the first, both
// in the middle, prev only on the last, none for limit=0; the links'
// type is the answer's.
func TestNGSIPageLinks(t *testing.T) {
	srv, _ := newTestServer(t, newFakeReader(fixtureEntities()...), nil)
	for _, c := range []struct {
		name, limit, offset, accept string
		want                        []string
	}{
		{"first page", "1", "0", "", []string{"</ngsi-ld/v1/entities?count=true&idPattern=urn%3Angsi-ld%3A.%2A&limit=1&offset=1&type=AirQualityObserved%2CTrafficFlowObserved>; rel=\"next\"; type=\"application/json\""}},
		{"middle page", "1", "1", "", []string{
			"</ngsi-ld/v1/entities?count=true&idPattern=urn%3Angsi-ld%3A.%2A&limit=1&offset=0&type=AirQualityObserved%2CTrafficFlowObserved>; rel=\"prev\"; type=\"application/json\"",
			"</ngsi-ld/v1/entities?count=true&idPattern=urn%3Angsi-ld%3A.%2A&limit=1&offset=2&type=AirQualityObserved%2CTrafficFlowObserved>; rel=\"next\"; type=\"application/json\""}},
		{"last page", "2", "2", "application/ld+json", []string{"</ngsi-ld/v1/entities?count=true&idPattern=urn%3Angsi-ld%3A.%2A&limit=2&offset=0&type=AirQualityObserved%2CTrafficFlowObserved>; rel=\"prev\"; type=\"application/ld+json\""}},
		{"all in one page", "20", "0", "", nil},
		{"count only", "0", "0", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := srv.URL + "/ngsi-ld/v1/entities?type=AirQualityObserved,TrafficFlowObserved&idPattern=urn:ngsi-ld:.*&count=true&limit=" + c.limit + "&offset=" + c.offset
			hdr := map[string]string{}
			if c.accept != "" {
				hdr["Accept"] = c.accept
			}
			resp, body := get(t, u, testToken, hdr)
			if resp.StatusCode != http.StatusOK || resp.Header.Get(ResultsCountHeader) != "3" {
				t.Fatalf("status %d count %q: %s", resp.StatusCode, resp.Header.Get(ResultsCountHeader), body)
			}
			if got := pageLinks(resp); !slices.Equal(got, c.want) {
				t.Errorf("links\n%q\nwant\n%q", got, c.want)
			}
			if c.accept == "" && len(resp.Header.Values("Link")) != len(c.want)+1 {
				t.Errorf("the @context link is missing: %q", resp.Header.Values("Link"))
			}
		})
	}
}
