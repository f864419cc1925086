package resource

import (
	"context"
	"encoding/json"
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

// Service is what a resource's routes call; project.Service and task.Service implement it.
// T is the entity, C the body of POST (and of each item of POST …/bulk) and P the body of PATCH.
// user is the authenticated caller. A PUT is the Update with the Patch that sets every field
// (see Replacement). Every method that names an id answers a fault.NotFound error when the
// entity doesn't exist, is deleted (Recover aside) or belongs to an organization user isn't a
// member of; writes answer a fault.Precondition error when cond doesn't hold, fault.Forbidden
// when user's role doesn't allow them and fault.Invalid for invalid input.
type Service[T Entity, C, P any] interface {
	Document(ctx context.Context, user, id uuid.UUID) (Meta, json.RawMessage, error)
	View(ctx context.Context, user, id uuid.UUID, q *query.Query) (json.RawMessage, error)
	List(ctx context.Context, user uuid.UUID, q *query.Query) (json.RawMessage, error)
	Create(ctx context.Context, user uuid.UUID, in C) (T, error)
	CreateMany(ctx context.Context, user uuid.UUID, in []C) ([]T, error)
	Update(ctx context.Context, user, id uuid.UUID, cond Condition, in P) (T, error)
	Delete(ctx context.Context, user, id uuid.UUID, cond Condition) error
	Recover(ctx context.Context, user, id uuid.UUID) (T, error)
}

// Middleware wraps a handler.
type Middleware = func(http.Handler) http.Handler

// Guards are the middleware main puts around a resource's routes.
type Guards struct {
	// Authn authenticates every route (auth.Authenticator.Require). Required.
	Authn Middleware
	// Limit is the per-user rate limit; it runs after Authn so that it sees the user. Optional.
	Limit Middleware
	// Idempotency replays POST answers for a repeated Idempotency-Key; it runs after Authn (the
	// key is scoped to the user) and after Limit (a rejected request costs no record). Optional.
	Idempotency Middleware
}

// Wrap returns h behind the guards; post adds Idempotency.
func (g Guards) Wrap(h http.Handler, post bool) http.Handler {
	if post && g.Idempotency != nil {
		h = g.Idempotency(h)
	}
	if g.Limit != nil {
		h = g.Limit(h)
	}
	return g.Authn(h)
}

// Replacement is the body of a PUT: every writable field. Patch validates it and returns the
// Patch that sets each field to its value (absent ones to their defaults).
type Replacement[P any] interface {
	Patch() (P, error)
}

// Mount registers a resource's routes at base ("/projects"): list, create, bulk create, get,
// update, replace, delete and recover. s is the list query's allow-list; R is the body of PUT.
func Mount[T Entity, C any, R Replacement[P], P any](rt *api.Router, base string, s *query.Schema, svc Service[T, C, P], g Guards) {
	h := routes[T, C, R, P]{base: base, schema: s, svc: svc}
	rt.Handle("GET "+base, g.Wrap(http.HandlerFunc(h.list), false))
	rt.Handle("POST "+base, g.Wrap(http.HandlerFunc(h.create), true))
	rt.Handle("POST "+base+"/bulk", g.Wrap(http.HandlerFunc(h.bulk), true))
	rt.Handle("GET "+base+"/{id}", g.Wrap(http.HandlerFunc(h.get), false))
	rt.Handle("PATCH "+base+"/{id}", g.Wrap(http.HandlerFunc(h.update), false))
	rt.Handle("PUT "+base+"/{id}", g.Wrap(http.HandlerFunc(h.replace), false))
	rt.Handle("DELETE "+base+"/{id}", g.Wrap(http.HandlerFunc(h.delete), false))
	rt.Handle("PATCH "+base+"/{id}/recover", g.Wrap(http.HandlerFunc(h.recover), false))
}

type routes[T Entity, C any, R Replacement[P], P any] struct {
	base   string
	schema *query.Schema
	svc    Service[T, C, P]
}

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

// Target returns the authenticated user of r and the {id} of its path: a 400 error when the id
// is not a UUID.
func Target(r *http.Request) (user, id uuid.UUID, err error) {
	if user, err = Caller(r); err != nil {
		return uuid.Nil, uuid.Nil, err
	}
	id, err = uuid.Parse(r.PathValue("id"))
	if err != nil {
		return uuid.Nil, uuid.Nil, &fault.Error{Code: fault.BadRequest, Message: "id in the path must be a UUID",
			Fields: []fault.FieldError{{Field: "id", Message: "must be a UUID"}}}
	}
	return user, id, nil
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

func (h routes[T, C, R, P]) list(w http.ResponseWriter, r *http.Request) {
	user, err := Caller(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	ctx, q, err := ListQuery(r, h.schema)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	b, err := h.svc.List(ctx, user, q)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	WriteList(w, r, q, b)
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

// get answers GET /{noun}s/{id}. Without a query (or with only cache=) it is the hot path: the
// cached entity, its version as the ETag. With fields= or join= it is another representation,
// rendered by the database and tagged by a digest.
func (h routes[T, C, R, P]) get(w http.ResponseWriter, r *http.Request) {
	user, id, err := Target(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	if r.URL.RawQuery == "" {
		h.getEntity(r.Context(), w, r, user, id)
		return
	}
	ctx, q, err := ListQuery(r, h.schema)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	if params := r.URL.Query(); len(params) == 1 && params.Has("cache") {
		h.getEntity(ctx, w, r, user, id)
		return
	}
	b, err := h.svc.View(ctx, user, id, q)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	WriteRepresentation(w, r, DigestETag(b), b)
}

func (h routes[T, C, R, P]) getEntity(ctx context.Context, w http.ResponseWriter, r *http.Request, user, id uuid.UUID) {
	m, b, err := h.svc.Document(ctx, user, id)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	WriteRepresentation(w, r, ETag(m.Version), b)
}

// writeEntity answers with one entity and its ETag. It is encoded without api.WriteJSON's
// trailing newline, so that it is byte for byte what a GET of it answers from the cache.
func writeEntity[T Entity](w http.ResponseWriter, r *http.Request, status int, v T) {
	b, err := json.Marshal(v)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	w.Header().Set("ETag", ETag(v.Meta().Version))
	api.WriteRaw(w, status, b)
}

func (h routes[T, C, R, P]) create(w http.ResponseWriter, r *http.Request) {
	user, err := Caller(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	var in C
	if err := api.Decode(w, r, &in); err != nil {
		api.WriteError(w, r, err)
		return
	}
	v, err := h.svc.Create(r.Context(), user, in)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", h.base+"/"+v.Meta().ID.String())
	writeEntity(w, r, http.StatusCreated, v)
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

// bulk answers POST …/bulk with the created entities, in the order of the request (a bare
// array, as the reference's createMany answers).
func (h routes[T, C, R, P]) bulk(w http.ResponseWriter, r *http.Request) {
	user, err := Caller(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	var in Bulk[C]
	if err := api.Decode(w, r, &in); err != nil {
		api.WriteError(w, r, err)
		return
	}
	vs, err := h.svc.CreateMany(r.Context(), user, in.Bulk)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusCreated, vs)
}

func (h routes[T, C, R, P]) update(w http.ResponseWriter, r *http.Request) {
	h.apply(w, r, func() (P, error) {
		var in P
		err := api.Decode(w, r, &in)
		return in, err
	})
}

func (h routes[T, C, R, P]) replace(w http.ResponseWriter, r *http.Request) {
	h.apply(w, r, func() (P, error) {
		var in R
		if err := api.Decode(w, r, &in); err != nil {
			var zero P
			return zero, err
		}
		return in.Patch()
	})
}

// apply answers PATCH and PUT: the Patch that body reads, applied under If-Match.
func (h routes[T, C, R, P]) apply(w http.ResponseWriter, r *http.Request, body func() (P, error)) {
	user, id, err := Target(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	in, err := body()
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	h.written(w, r)(h.svc.Update(r.Context(), user, id, IfMatch(r), in))
}

func (h routes[T, C, R, P]) recover(w http.ResponseWriter, r *http.Request) {
	user, id, err := Target(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	h.written(w, r)(h.svc.Recover(r.Context(), user, id))
}

// written returns the answer to a write that returns the entity: 200 with its new ETag.
func (h routes[T, C, R, P]) written(w http.ResponseWriter, r *http.Request) func(T, error) {
	return func(v T, err error) {
		if err != nil {
			api.WriteError(w, r, err)
			return
		}
		writeEntity(w, r, http.StatusOK, v)
	}
}

func (h routes[T, C, R, P]) delete(w http.ResponseWriter, r *http.Request) {
	user, id, err := Target(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	if err := h.svc.Delete(r.Context(), user, id, IfMatch(r)); err != nil {
		api.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
