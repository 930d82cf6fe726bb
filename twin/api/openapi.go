package api

import (
	_ "embed"
	"net/http"
)

//go:embed openapi.json
var openapiDoc []byte

// OpenAPI returns a copy of the OpenAPI 3.1 document of the API
// (openapi.json, checked in next to this file).
func OpenAPI() []byte { return append([]byte(nil), openapiDoc...) }

// handleOpenAPI serves the OpenAPI document.
func handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openapiDoc)
}
