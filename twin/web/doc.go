// Package web serves the twin's two pages from files embedded in the
// binary: the operators' live map at /map/ and the public indicators page
// at /indicators/.
//
// The pages are built from src/ by `make web` (npm ci && npm run build in
// this directory) into dist/, which go:embed takes in at compile time.
// dist/ is build output and is not committed, except dist/README.txt so
// the embed pattern always matches; a binary built without `make web`
// answers the pages with 503 "pages not built: run make web" instead of
// failing to compile. Front-end libraries come from npm with
// package-lock.json committed; no third-party code is in the repository.
//
// The map (MapLibre GL JS) reads the operator token from its URL fragment
// (#token=...), keeps it in localStorage and sends it to the API as a
// Bearer token (and as the token query parameter of the SSE stream, which
// EventSource cannot give headers). By default it draws no external tiles:
// the base is the area shapes themselves; #tiles=URL adds a raster base
// map. The sites and gateways come as vector tiles the API cuts from the
// twin (GET /api/v1/tiles/sites/{z}/{x}/{y}, twin/sitetiles), with live
// changes painted over them from the stream, so a twin of 100,000 sites
// opens without handing the browser every site. The indicators page is plain HTML and a small script, embeddable in
// an <iframe> with ?embed=1; see README.md.
//
// Caching: HTML is served with Cache-Control: no-cache so a new release is
// picked up at once; other assets (not content-hashed) with a short
// max-age and must-revalidate. Every file has a strong ETag (SHA-256 of its
// content) and If-None-Match answers 304.
package web
