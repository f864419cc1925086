// Package openapi holds the API's OpenAPI 3.1 document, openapi.json, and serves it. The file is
// the contract clients generate code from and the API fuzzer tests the server against.
//
// openapi.json is generated (make generate, cmd/generate): platform.json, written by hand, holds
// the platform's routes (auth, organizations, reports, health) and the components every route
// shares; cmd/generate adds every route of the resource engine over the .apsorc with each
// entity's schemas, every list's query parameters, and what hooks.json says the domain's hooks
// add to the schema's rules. Edit platform.json or hooks.json, never openapi.json: CI's
// cmd/generate -check fails on a stale one. A test in functions/ keeps the document,
// template.yaml and the functions' routers in exact agreement.
package openapi

import (
	_ "embed"
	"net/http"
	"strconv"
)

// Document is openapi.json as committed.
//
//go:embed openapi.json
var Document []byte

// Handler serves Document.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Header().Set("Content-Length", strconv.Itoa(len(Document)))
		_, _ = w.Write(Document)
	})
}
