package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ponte-city/ponte/twin/web"
)

func TestHandler(t *testing.T) {
	files := fstest.MapFS{
		"map/index.html":             {Data: []byte("<!doctype html><title>map</title>")},
		"map/app.js":                 {Data: []byte("console.log(1)")},
		"map/app.css":                {Data: []byte("body{}")},
		"map/maplibre-gl-worker.mjs": {Data: []byte("export {}")},
		"indicators/index.html":      {Data: []byte("<!doctype html><title>indicators</title>")},
		"README.txt":                 {Data: []byte("generated")},
	}
	h := web.NewHandler(files)
	etag := func(path string) string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Header().Get("ETag")
	}
	for _, tc := range []struct {
		name, method, path, ifNoneMatch string
		status                          int
		ctype, cache, body, location    string
		csp                             string
	}{
		{name: "map page", path: "/map/", status: 200, ctype: "text/html; charset=utf-8", cache: "no-cache", body: "<title>map</title>", csp: "frame-ancestors 'self'"},
		{name: "map index by name", path: "/map/index.html", status: 200, ctype: "text/html; charset=utf-8", body: "<title>map</title>"},
		{name: "map without slash", path: "/map", status: 301, location: "/map/"},
		{name: "script", path: "/map/app.js", status: 200, ctype: "text/javascript; charset=utf-8", cache: "public, max-age=300, must-revalidate", body: "console.log"},
		{name: "module worker", path: "/map/maplibre-gl-worker.mjs", status: 200, ctype: "text/javascript; charset=utf-8"},
		{name: "style", path: "/map/app.css", status: 200, ctype: "text/css; charset=utf-8"},
		{name: "indicators page", path: "/indicators/", status: 200, body: "<title>indicators</title>", csp: "frame-ancestors *"},
		{name: "head", method: http.MethodHead, path: "/indicators/", status: 200},
		{name: "revalidation", path: "/map/app.js", ifNoneMatch: etag("/map/app.js"), status: 304},
		{name: "stale etag", path: "/map/app.js", ifNoneMatch: `"other"`, status: 200, body: "console.log"},
		{name: "missing asset", path: "/map/nope.js", status: 404},
		{name: "other root", path: "/README.txt", status: 404},
		{name: "dot-dot stays inside", path: "/map/../README.txt", status: 404},
		{name: "post refused", method: http.MethodPost, path: "/map/", status: 405},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, tc.path, nil)
			if tc.ifNoneMatch != "" {
				req.Header.Set("If-None-Match", tc.ifNoneMatch)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Fatalf("%s %s: status %d, want %d (%s)", method, tc.path, res.StatusCode, tc.status, body)
			}
			for hdr, want := range map[string]string{"Content-Type": tc.ctype, "Cache-Control": tc.cache, "Location": tc.location} {
				if want != "" && res.Header.Get(hdr) != want {
					t.Errorf("%s: %q, want %q", hdr, res.Header.Get(hdr), want)
				}
			}
			if tc.body != "" && !strings.Contains(string(body), tc.body) {
				t.Errorf("body %q does not contain %q", body, tc.body)
			}
			if tc.csp != "" && !strings.Contains(res.Header.Get("Content-Security-Policy"), tc.csp) {
				t.Errorf("Content-Security-Policy %q lacks %q", res.Header.Get("Content-Security-Policy"), tc.csp)
			}
			if res.StatusCode == 200 && res.Header.Get("X-Frame-Options") != "" {
				t.Errorf("X-Frame-Options %q set; the indicators page must be embeddable", res.Header.Get("X-Frame-Options"))
			}
		})
	}
}

func TestHandlerNotBuilt(t *testing.T) {
	h := web.NewHandler(fstest.MapFS{"README.txt": {Data: []byte("generated")}})
	for _, path := range []string{"/map/", "/indicators/", "/map/app.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "pages not built: run make web") {
			t.Errorf("GET %s on an unbuilt dist: %d %q, want 503 saying to run make web", path, rec.Code, rec.Body.String())
		}
	}
}
