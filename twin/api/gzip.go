package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"sync"
)

// gzipCacheSize bounds how many compressed answers are kept. The public
// answers are few (indicators in two languages, CSV, areas, config, one
// history per area, indicator and window) and change only with the data,
// so most requests reuse a compressed body.
const gzipCacheSize = 256

// gzipCache keeps compressed bodies by the SHA-256 of the plain body. It
// is safe for concurrent use.
type gzipCache struct {
	mu    sync.Mutex
	m     map[string][]byte
	order []string // insertion order, oldest first
}

// get returns body gzipped, from the cache when it was compressed before.
func (c *gzipCache) get(sum string, body []byte) []byte {
	c.mu.Lock()
	z, ok := c.m[sum]
	c.mu.Unlock()
	if ok {
		return z
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid
	_, _ = zw.Write(body)
	_ = zw.Close()
	z = buf.Bytes()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	if _, ok := c.m[sum]; !ok {
		if len(c.order) >= gzipCacheSize {
			delete(c.m, c.order[0])
			c.order = c.order[1:]
		}
		c.m[sum] = z
		c.order = append(c.order, sum)
	}
	return z
}

// servePublic answers with body, the public Cache-Control, its ETag and
// the licence link; see servePublicCache.
func (a *API) servePublic(w http.ResponseWriter, r *http.Request, contentType string, body []byte) {
	a.servePublicCache(w, r, contentType, body, publicCache)
}

// servePublicCache answers with body and cacheControl. The ETag is the
// body's hash, so it changes only when the body does (every public body
// is a function of the data alone: no clock in it); a gzip answer (for a
// client that accepts it and a body of gzipMin bytes or more, as
// entities.go) has its own
// ETag, "-gz" appended, as RFC 9110 asks of a different representation.
// A matching If-None-Match, of either, gets 304.
func (a *API) servePublicCache(w http.ResponseWriter, r *http.Request, contentType string, body []byte, cacheControl string) {
	sum := sha256.Sum256(body)
	hexsum := hex.EncodeToString(sum[:12])
	etag := `"` + hexsum + `"`
	zip := len(body) >= gzipMin && acceptsGzip(r.Header.Get("Accept-Encoding"))
	if zip {
		etag = `"` + hexsum + `-gz"`
	}
	h := w.Header()
	h.Set("ETag", etag)
	h.Set("Cache-Control", cacheControl)
	h.Add("Vary", "Accept-Encoding")
	if etagMatch(r.Header.Get("If-None-Match"), `"`+hexsum+`"`) || etagMatch(r.Header.Get("If-None-Match"), `"`+hexsum+`-gz"`) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if zip {
		body = a.gzips.get(hexsum, body)
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}
