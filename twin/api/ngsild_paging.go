package api

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/ponte-city/ponte/twin/ngsild"
)

// Pagination links (ETSI GS CIM 009 clauses 4.12 and 5.5.9): a page of a
// list answer that is not the first carries a Link rel="prev" to the page
// before it, and one that is not the last a Link rel="next" to the page
// after it, both relative to the server, with the request's parameters
// (sorted) but limit and offset, and the answer's media type. The ETSI
// NGSI-LD test suite asserts that form on the subscriptions' list (TP
// 031_02, clause 5.8.4); an extension TP of its GitHub copy
// marek-mraz/ngsi-ld-test-suite (019_31, clauses 4.12, 5.5.9.1, 5.5.9.2)
// asserts it on query entities. limit=0 (a count only) has no pages, so
// no links.

// addPageLinks adds the prev and next links of the page q selects from a
// list of total elements; v are the request's parameters.
func addPageLinks(h http.Header, r *http.Request, v url.Values, q *ngsild.Query, total int, ld bool) {
	if q.Limit == 0 {
		return
	}
	media := mediaJSON
	if ld {
		media = mediaJSONLD
	}
	link := func(offset int, rel string) {
		p := url.Values{}
		for k, vs := range v {
			p[k] = vs
		}
		p.Set("limit", strconv.Itoa(q.Limit))
		p.Set("offset", strconv.Itoa(offset))
		h.Add("Link", "<"+r.URL.Path+"?"+p.Encode()+`>; rel="`+rel+`"; type="`+media+`"`)
	}
	if q.Offset > 0 {
		link(max(0, q.Offset-q.Limit), "prev")
	}
	if q.Offset+q.Limit < total {
		link(q.Offset+q.Limit, "next")
	}
}
