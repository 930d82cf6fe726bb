package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed all:dist
var embedded embed.FS

// notBuilt is the body of the 503 answer of a binary built without the pages.
const notBuilt = "pages not built: run make web\n"

// Handler serves /map/ and /indicators/ (and their assets) from the
// embedded pages. It is safe for concurrent use.
func Handler() http.Handler {
	dist, err := fs.Sub(embedded, "dist")
	if err != nil {
		// fs.Sub fails only on an invalid path, and "dist" is valid; an
		// empty handler would answer 503.
		return &handler{files: map[string]file{}}
	}
	return NewHandler(dist)
}

// NewHandler serves /map/ and /indicators/ from files laid out as dist/ is
// (map/index.html, indicators/index.html, ...). Tests and development
// servers may pass os.DirFS("twin/web/dist"). The files are read once.
func NewHandler(files fs.FS) http.Handler {
	h := &handler{files: map[string]file{}}
	_ = fs.WalkDir(files, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		data, err := fs.ReadFile(files, p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(data)
		h.files["/"+p] = file{data: data, etag: `"` + hex.EncodeToString(sum[:16]) + `"`, ctype: contentType(p)}
		return nil
	})
	return h
}

// handler holds the pages in memory; it is immutable after NewHandler.
type handler struct {
	files map[string]file
}

type file struct {
	data  []byte
	etag  string
	ctype string
}

// pages are the served roots and the security headers of each.
var pages = map[string]string{
	// The map fetches raster tiles from a configured https (or http) host
	// and starts MapLibre's worker from its own origin or a blob: URL.
	"map": "default-src 'self'; script-src 'self'; worker-src 'self' blob:; child-src 'self' blob:; " +
		"img-src 'self' data: blob: https: http:; connect-src 'self' https: http:; " +
		"style-src 'self' 'unsafe-inline'; frame-ancestors 'self'",
	// The indicators page is meant to be embedded anywhere.
	"indicators": "default-src 'self'; script-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; " +
		"connect-src 'self'; frame-ancestors *",
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := path.Clean("/" + r.URL.Path)
	root, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	csp, ok := pages[root]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if p == "/"+root && !strings.HasSuffix(r.URL.Path, "/") {
		http.Redirect(w, r, "/"+root+"/", http.StatusMovedPermanently)
		return
	}
	if _, built := h.files["/"+root+"/index.html"]; !built {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, strings.TrimSuffix(notBuilt, "\n"), http.StatusServiceUnavailable)
		return
	}
	if strings.HasSuffix(r.URL.Path, "/") && p == "/"+root {
		p += "/index.html"
	}
	f, ok := h.files[p]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", f.ctype)
	hd.Set("ETag", f.etag)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	if strings.HasSuffix(p, ".html") {
		hd.Set("Cache-Control", "no-cache")
		hd.Set("Content-Security-Policy", csp)
	} else {
		hd.Set("Cache-Control", "public, max-age=300, must-revalidate")
	}
	// ServeContent answers If-None-Match (against the ETag set above),
	// HEAD and Range requests.
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
}

// contentType is the media type of a file by its extension.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".map", ".json":
		return "application/json"
	case ".txt":
		return "text/plain; charset=utf-8"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}
