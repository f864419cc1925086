package resource

import (
	"context"
	"net/http"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/fault"
	"scaleapi/shared/query"
)

// MaxBulk is the most items one POST …/bulk may create (API.md).
const MaxBulk = 100

// errNoPrincipal answers a route mounted without its authentication guard: a wiring bug, but
// one that must fail closed.
var errNoPrincipal = fault.E(fault.Unauthenticated, "authentication required")

// Caller returns the authenticated user of r.
func Caller(r *http.Request) (uuid.UUID, error) {
	p, ok := auth.PrincipalFrom(r.Context())
	if !ok {
		return uuid.Nil, errNoPrincipal
	}
	return p.UserID, nil
}

// ListQuery parses r's list query against s, in the dialect r's parameters or X-Crud-Dialect
// header choose, and returns the context to read with: one that bypasses the cache when the
// client sent cache=0.
func ListQuery(r *http.Request, s *query.Schema) (context.Context, *query.Query, error) {
	q, err := query.ParseRequest(r, s)
	if err != nil {
		return nil, nil, err
	}
	ctx := r.Context()
	if q.NoCache() {
		ctx = cache.WithBypass(ctx)
	}
	return ctx, q, nil
}

// WriteRepresentation answers a GET with an already-encoded representation under etag, or 304
// when the client has it.
func WriteRepresentation(w http.ResponseWriter, r *http.Request, etag string, body []byte) {
	w.Header().Set("ETag", etag)
	if NotModified(r, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	api.WriteRaw(w, http.StatusOK, body)
}

// WriteList answers a list: page is the JSON of q's page, as a Service returns it (possibly
// from the cache), written in the shape of q's dialect (see query.Query.Respond).
func WriteList(w http.ResponseWriter, r *http.Request, q *query.Query, page []byte) {
	status, body, err := q.Respond(w.Header(), page)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	api.WriteRaw(w, status, body)
}

// Bulk is the body of POST …/bulk, as nestjsx/crud's createMany takes it.
type Bulk[C any] struct {
	Bulk []C `json:"bulk"`
}

// CheckBulk returns a 422 error unless a bulk request holds 1 to MaxBulk items.
func CheckBulk(n int) error {
	if n < 1 || n > MaxBulk {
		return fault.Invalidf("bulk", "must hold 1 to %d items, not %d", MaxBulk, n)
	}
	return nil
}
