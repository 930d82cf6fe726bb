package ngsild

import _ "embed"

// The context document maps the terms Ponte's entities use to the IRIs
// the FIWARE Smart Data Models give them. Each IRI is copied from the
// context.jsonld at the root of the model's repository:
//
//	smart-data-models/dataModel.Transportation 6aee14bc680798fb6ef2ba101fee3f732d4305bd
//	smart-data-models/dataModel.Environment    f0150e5c97f41e4c0881a0bcfa05d559058bdea1
//	smart-data-models/dataModel.Parking        d49af3c051dfc06d08d43183d2a7a3586d2ba163
//	smart-data-models/dataModel.Streetlighting 1df857d46388d7129801bc0ccb19020d7321ce2a
//	smart-data-models/dataModel.Weather        adf1dd5918da36980208a0a46ed76c81fba91ea5
//	smart-data-models/dataModel.Device         96e38834eda502ed6a764e1fa7059a8c3561dcda
//
// Where two models map one term differently, the type-scoped context of
// the type (JSON-LD 1.1) carries the other model's IRI. The NGSI-LD core
// context (Property, GeoProperty, value, observedAt, unitCode, location)
// is implied by every NGSI-LD request and response (clause 5.5.7), so this
// document does not repeat it.
//
//go:embed context.jsonld
var contextDocument []byte

// ContextPath is where a server is expected to serve ContextDocument,
// under its base URL.
const ContextPath = "/ngsi-ld/v1/contexts/ponte.jsonld"

// ContextDocument returns Ponte's JSON-LD @context document, to be served
// as application/ld+json at ContextPath. The caller gets a copy.
func ContextDocument() []byte {
	return append([]byte(nil), contextDocument...)
}

// LinkHeader returns the value of the Link header that points an
// application/json response to its context (clause 6.3.5), contextURL
// being where ContextDocument is served (base URL + ContextPath).
func LinkHeader(contextURL string) string {
	return "<" + contextURL + `>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`
}
