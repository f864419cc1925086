// Package openapi holds the API's OpenAPI 3.1 document, openapi.json, and serves it. The file is
// the contract clients generate code from; a test in functions/ keeps it, template.yaml and the
// functions' routers in exact agreement.
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
