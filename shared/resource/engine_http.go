package resource

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/cache"
	"scaleapi/shared/guard"
	"scaleapi/shared/query"
)

// target returns the caller and the {id} of r's path, as m's key type reads it.
func (m *model) target(r *http.Request) (uuid.UUID, string, error) {
	user, err := Caller(r)
	if err != nil {
		return uuid.Nil, "", err
	}
	id, err := parseID(m.e, r.PathValue("id"))
	return user, id, err
}

// documentReads are the reads handleGet starts with on GET /{path}/{id}: the entity and the
// caller's memberships, which ride the session check (guard.Prefetching), and for a view of the
// entity's own children (join=, fields=; see ownView) the view and its scope's generation.
func (m *model) documentReads(r *http.Request) ([]string, []string, any, bool) {
	user, id, err := m.target(r)
	if err != nil {
		return nil, nil, nil, false // handleGet answers it
	}
	keys := m.documentKeys(user, id)
	if r.URL.RawQuery == "" {
		return keys, nil, nil, true
	}
	// A query that does not parse is answered by handleGet; cache=0 reads no entry; a view
	// that joins beyond the entity's children is under its organization's scope, which the
	// entity names, so it is read after it. The parsed query goes on to handleGet.
	q, err := query.ParseRequest(r, m.schema)
	if err != nil || q.NoCache() {
		return keys, nil, nil, true
	}
	if !m.ownView(q) {
		return keys, nil, q, true
	}
	key, scopes := m.ownViewKey(id, q)
	return append(keys, key), scopes, q, true
}

// listReads is what a list reads first: the caller's memberships, whose organizations scope
// it, and the page itself and the generations of the organizations the caller's last list
// covered (m.hints), which are the ones this list needs unless the memberships changed. They
// ride the session check too, so a cached list costs one round trip to Redis; a stale hint
// costs the round trip back.
func (m *model) listReads(r *http.Request) ([]string, []string, any, bool) {
	user, err := Caller(r)
	mk, ok := m.d.Members.(membershipsKeyer)
	if err != nil || !ok {
		return nil, nil, nil, false
	}
	keys := []string{mk.MembershipsKey(user)}
	orgs := m.hints.get(user)
	if len(orgs) == 0 {
		return keys, nil, nil, true
	}
	q, err := query.ParseRequest(r, m.schema)
	if err != nil || q.NoCache() {
		return keys, nil, nil, true // handleList answers it; cache=0 reads no page
	}
	key, scopes := listOf(m.e.Path, orgs, q)
	return append(keys, key), scopes, q, true // handleList takes q back (requestQuery)
}

// requestQuery is r's list query: the one its reads parsed (listReads, documentReads), or
// parsed now (ListQuery), with the context to read it in.
func (m *model) requestQuery(r *http.Request) (context.Context, *query.Query, error) {
	if q, ok := guard.Carried(r.Context()).(*query.Query); ok {
		return r.Context(), q, nil // only a query without cache=0 is carried
	}
	return ListQuery(r, m.schema)
}

func (m *model) handleList(w http.ResponseWriter, r *http.Request) {
	user, err := Caller(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	ctx, q, err := m.requestQuery(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	b, err := m.list(ctx, user, q)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	WriteList(w, r, q, b)
}

// handleGet answers GET /{path}/{id}: the cached entity under its version's ETag, or, with
// fields= or join=, the representation the database renders, under a digest ETag.
func (m *model) handleGet(w http.ResponseWriter, r *http.Request) {
	user, id, err := m.target(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	ctx := r.Context()
	if r.URL.RawQuery != "" {
		c, q, err := m.requestQuery(r)
		if err != nil {
			api.WriteError(w, r, err)
			return
		}
		ctx = c
		if params := r.URL.Query(); len(params) != 1 || !params.Has("cache") {
			b, err := m.view(ctx, user, id, q)
			if err != nil {
				api.WriteError(w, r, err)
				return
			}
			WriteRepresentation(w, r, DigestETag(b), b)
			return
		}
	}
	e, err := m.document(ctx, user, id)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	WriteRepresentation(w, r, ETag(e.Version), e.JSON)
}

// body reads a JSON object body.
func body(w http.ResponseWriter, r *http.Request) (map[string]json.RawMessage, error) {
	var in map[string]json.RawMessage
	err := api.Decode(w, r, &in)
	return in, err
}

func (m *model) handleCreate(w http.ResponseWriter, r *http.Request) {
	user, err := Caller(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	in, err := body(w, r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	ws, err := m.createAll(r, user, []map[string]json.RawMessage{in}, func(int) string { return "" })
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", m.location(ws[0].id))
	writeWritten(w, http.StatusCreated, ws[0])
}

// handleBulk answers POST /{path}/bulk ({"bulk": [...]}, as nestjsx/crud's createMany takes
// it): 1 to MaxBulk items, all or none, answered as an array in the request's order.
func (m *model) handleBulk(w http.ResponseWriter, r *http.Request) {
	user, err := Caller(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	var in Bulk[map[string]json.RawMessage]
	if err := api.Decode(w, r, &in); err != nil {
		api.WriteError(w, r, err)
		return
	}
	if err := CheckBulk(len(in.Bulk)); err != nil {
		api.WriteError(w, r, err)
		return
	}
	ws, err := m.createAll(r, user, in.Bulk, Index)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, x := range ws {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(x.json)
	}
	b.WriteByte(']')
	api.WriteRaw(w, http.StatusCreated, b.Bytes())
}

// createAll validates every item (all errors at once), fills in defaults and the scope, and
// creates them.
func (m *model) createAll(r *http.Request, user uuid.UUID, in []map[string]json.RawMessage, prefix func(int) string) ([]written, error) {
	var v api.Validator
	items := make([]values, len(in))
	for i, raw := range in {
		if raw == nil {
			v.Add(prefix(i), "must be an object")
			items[i] = values{}
			continue
		}
		vs, err := m.parseBody(raw, prefix(i), &v)
		if err != nil {
			return nil, err
		}
		items[i] = vs
	}
	if err := m.injectScope(r.Context(), user, items, prefix, &v); err != nil {
		return nil, err
	}
	for i, it := range items {
		m.fill(it, prefix(i), &v, func(*apsorc.Field) bool { return false })
		m.check(it, prefix(i), &v)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	return m.create(r.Context(), user, items, prefix)
}

// handlePatch answers PATCH /{path}/{id}: the fields present change (null clears a nullable
// one), under If-Match.
func (m *model) handlePatch(w http.ResponseWriter, r *http.Request) { m.apply(w, r, false) }

// handlePut answers PUT /{path}/{id}: every writable field is replaced, absent ones going back
// to their defaults (or NULL); the organization and required references (a task's project)
// stay as they are when left out.
func (m *model) handlePut(w http.ResponseWriter, r *http.Request) { m.apply(w, r, true) }

func (m *model) apply(w http.ResponseWriter, r *http.Request, replace bool) {
	user, id, err := m.target(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	in, err := body(w, r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	var v api.Validator
	vs, err := m.parseBody(in, "", &v)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	if replace {
		m.fill(vs, "", &v, func(f *apsorc.Field) bool {
			return f == m.e.Scope.Field || (f.Relation != nil && !f.Nullable)
		})
	}
	m.check(vs, "", &v)
	if err := v.Err(); err != nil {
		api.WriteError(w, r, err)
		return
	}
	var out written
	if len(vs) == 0 {
		// An empty PATCH changes nothing: it answers the entity as it is (and still checks
		// If-Match, as a write would).
		e, err := m.document(r.Context(), user, id)
		if err == nil && !IfMatch(r).Holds(e.Version) {
			err = ErrStale
		}
		if err != nil {
			api.WriteError(w, r, err)
			return
		}
		out = written{id: id, org: e.Org, version: e.Version, json: e.JSON}
	} else if out, err = m.update(r.Context(), user, id, IfMatch(r), vs); err != nil {
		api.WriteError(w, r, err)
		return
	}
	writeWritten(w, http.StatusOK, out)
}

func (m *model) handleDelete(w http.ResponseWriter, r *http.Request) {
	user, id, err := m.target(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	if err := m.remove(r.Context(), user, id, IfMatch(r)); err != nil {
		api.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *model) handleRecover(w http.ResponseWriter, r *http.Request) {
	user, id, err := m.target(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	out, err := m.recoverOne(r.Context(), user, id)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	writeWritten(w, http.StatusOK, out)
}

// handle answers GET /{path}/{id}/{relation}: the list query over the related rows of an
// entity the caller may read, cached under the entity's organization.
func (c *collection) handle(w http.ResponseWriter, r *http.Request) {
	user, id, err := c.parent.target(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	ctx, q, err := ListQuery(r, c.target.schema)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	e, err := c.parent.document(ctx, user, id)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	scopes := []string{cache.OrgScope(e.Org)}
	key := cache.ListKey(scopes, c.target.e.Path, "of", c.parent.e.Noun, id, c.rel.Name, q.Key())
	b, err := cache.GetList(ctx, c.parent.d.Cache, key, scopes, c.target.e.Options.ListCacheTTL, func(ctx context.Context) (json.RawMessage, error) {
		st := q.Build(query.Scope{Alias: "t", Where: c.where, Args: []any{id}})
		conn, err := c.parent.readerOfOrg(ctx, e.Org)
		if err != nil {
			return nil, err
		}
		return marshalPage(listPage(ctx, conn, q, st, "list "+c.target.e.Path))
	})
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	WriteList(w, r, q, b)
}

// writeWritten answers a write with the entity and its ETag, the bytes a GET of it answers.
func writeWritten(w http.ResponseWriter, status int, x written) {
	w.Header().Set("ETag", ETag(x.version))
	api.WriteRaw(w, status, x.json)
}

// handleLink answers PUT (link) and DELETE (unlink) /{path}/{id}/{relation}/{other}: 204.
func (c *collection) handleLink(w http.ResponseWriter, r *http.Request) {
	user, id, err := c.parent.target(r)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	other, err := parseID(c.target.e, r.PathValue("other"))
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	if err := c.parent.link(r.Context(), user, c.rel, c.target, id, other, r.Method == http.MethodDelete); err != nil {
		api.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
