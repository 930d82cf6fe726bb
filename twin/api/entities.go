package api

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"

	"github.com/ponte-city/ponte/twin"
)

// geoJSON is the media type of GeoJSON answers (RFC 7946).
const geoJSON = "application/geo+json"

// handleEntities answers GET /api/v1/entities with a FeatureCollection.
func (a *API) handleEntities(w http.ResponseWriter, r *http.Request) {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		badParam(w, err.(*paramError))
		return
	}
	// The last change before the snapshot: a client that opens the stream
	// with it as Last-Event-ID misses nothing that happened while it was
	// loading (a change replayed onto the snapshot is harmless: each one is
	// a whole entity).
	seq := a.reader.LastSeq()
	ents := a.scoped(r).Entities(f)
	areas := indicatorLookup(a.reader)
	// The features first, then one buffer of their exact size: growing
	// one buffer to 50 MB (100,000 sites) copied it over and over, most
	// of the answer's time (BenchmarkEntitiesAnswer).
	const head, tail = `{"type":"FeatureCollection","features":[`, "]}\n"
	parts := make([][]byte, len(ents))
	size := len(head) + len(tail) + len(ents)
	for i, e := range ents {
		parts[i] = marshalFeature(e, areas)
		size += len(parts[i])
	}
	buf := make([]byte, 0, size)
	buf = append(buf, head...)
	for i, p := range parts {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, p...)
	}
	buf = append(buf, tail...)
	h := w.Header()
	h.Set("Content-Type", geoJSON)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Last-Event-ID", strconv.FormatUint(seq, 10))
	h.Set("Vary", "Accept-Encoding")
	writeMaybeGzip(w, r, buf)
}

// gzipMin is the smallest answer worth compressing.
const gzipMin = 8 << 10

// writeMaybeGzip writes body, gzipped when the client accepts it and it
// is large (a city's entities are megabytes of GeoJSON, which compresses
// about tenfold; operators' links are not always fast).
func writeMaybeGzip(w http.ResponseWriter, r *http.Request, body []byte) {
	if len(body) < gzipMin || !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		_, _ = w.Write(body)
		return
	}
	w.Header().Set("Content-Encoding", "gzip")
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	_, _ = zw.Write(body)
	_ = zw.Close()
}

// acceptsGzip says whether an Accept-Encoding header allows gzip.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}

// handleEntity answers GET /api/v1/entities/{id} with one Feature.
func (a *API) handleEntity(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	e, ok := a.scoped(r).Entity(id)
	if !ok {
		writeError(w, http.StatusNotFound, "id", "no entity "+quote(id))
		return
	}
	var areas areaLookup
	if e.Kind == twin.KindArea {
		areas = indicatorLookup(a.reader)
	}
	h := w.Header()
	h.Set("Content-Type", geoJSON)
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(append(marshalFeature(e, areas), '\n'))
}
