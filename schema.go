// Package scaleapi is the data model every function serves: the repository-root .apsorc
// (APSO's format), embedded so that a Lambda bundle carries it. It is the one source of the
// entities' tables, routes, query allow-lists and OpenAPI document (see make generate).
package scaleapi

import _ "embed"

// Schema is the root .apsorc, as written.
//
//go:embed .apsorc
var Schema []byte
