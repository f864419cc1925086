package resource

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"

	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/cache"
	"scaleapi/shared/fault"
	"scaleapi/shared/guard"
	"scaleapi/shared/query"
	"scaleapi/shared/shard"
)

// Engine serves the entities of an .apsorc schema: every entity that is not a platform table
// and is not http: false gets the routes of Mount, built from the schema alone (see the package
// comment, "The engine").
type Engine struct {
	models []*model
}

// EngineDeps are what an Engine runs on.
type EngineDeps struct {
	// Shards hold the entities' rows, each organization's on its shard (see engine_shards.go):
	// their writers take every write and every read that must see the caller's own writes,
	// their replicas the lists of entities whose schema routes reads there. shard.Of(pool,
	// nil) is one database. An engine built only to list its routes needs none.
	Shards *shard.Set
	// Members answers the membership questions (*organization.Access).
	Members Members
	// Cache caches entities and lists; nil caches nothing.
	Cache *cache.Cache
	// Log receives invalidations that failed; nil means slog.Default().
	Log *slog.Logger
}

// NewEngine builds the engine of s, with the domain rules hooks (by entity name). It fails,
// naming the entity, when s asks for something the engine can't serve or hooks names an entity
// it doesn't serve; it never panics on a schema that apsorc.Load accepted.
func NewEngine(s *apsorc.Schema, d EngineDeps, hooks map[string]Hooks) (eng *Engine, err error) {
	if d.Log == nil {
		d.Log = slog.Default()
	}
	defer func() {
		// query.NewSchema and Join panic on a programming error; here the schema is data, so
		// a mistake in it that apsorc's checks missed must become an error, not a crash.
		if p := recover(); p != nil {
			eng, err = nil, fmt.Errorf("schema: %v", p)
		}
	}()
	schemas := map[*apsorc.Entity]*query.Schema{}
	for _, e := range s.Entities {
		schemas[e] = querySchema(e)
	}
	eng = &Engine{}
	byEntity := map[*apsorc.Entity]*model{}
	for _, e := range s.Entities {
		if e.Platform != apsorc.NotPlatform {
			// A platform row (a user, an organization) is a leaf of the join graph: joined from
			// an entity it is scoped by that entity's row, but its own relations would reach
			// every organization's rows (a user's tasks in all of them).
			continue
		}
		for _, r := range e.Relations {
			if rel, ok := queryRelation(r, schemas); ok {
				schemas[e].Join(rel)
			}
		}
		if e.Scope.Field == nil {
			return nil, fmt.Errorf("schema: entity %q has no organization scope", e.Name)
		}
		m := newModel(e, schemas[e], d)
		m.hooks = hooks[e.Name]
		byEntity[e] = m
		eng.models = append(eng.models, m)
	}
	for name := range hooks {
		if e, ok := s.Entity(name); !ok || byEntity[e] == nil {
			return nil, fmt.Errorf("schema: hooks for %q, which is not an entity the engine serves", name)
		}
	}
	for _, m := range eng.models {
		m.all = byEntity
		m.resolve(byEntity)
	}
	return eng, nil
}

// Mount registers the routes of every served entity on rt, behind g.
func (eng *Engine) Mount(rt *api.Router, g guard.Guards) {
	for _, m := range eng.models {
		if m.e.HTTP {
			m.mount(rt, g)
		}
	}
}

// QuerySchema returns the list-query allow-list of the served entity named name.
func (eng *Engine) QuerySchema(name string) (*query.Schema, bool) {
	for _, m := range eng.models {
		if m.e.Name == name {
			return m.schema, true
		}
	}
	return nil, false
}

// queryType maps a schema type onto the list query's.
func queryType(t apsorc.Type) query.Type {
	switch t {
	case apsorc.Text:
		return query.Text
	case apsorc.Enum:
		return query.Enum
	case apsorc.Integer, apsorc.BigInt:
		return query.Int
	case apsorc.Boolean:
		return query.Bool
	case apsorc.Float:
		return query.Float
	case apsorc.Decimal:
		return query.Numeric
	case apsorc.Date:
		return query.Date
	case apsorc.Timestamptz:
		return query.Timestamptz
	case apsorc.JSON:
		return query.JSON
	case apsorc.UUID:
		return query.UUID
	}
	panic(fmt.Sprintf("resource: unknown schema type %d", t))
}

// querySchema is the list-query allow-list of e: its id, its fields, its timestamps and its
// version, in the order an entity's JSON has them. A platform entity's is what the engine
// shows of the platform's row through a join: a user's id, name and email (what members see of
// each other), an organization's fields as GET /organizations/{id} shows them; never a password
// hash.
func querySchema(e *apsorc.Entity) *query.Schema {
	switch e.Platform {
	case apsorc.Users:
		return query.NewSchema("users",
			query.Field{Name: "id", Column: "id", Type: query.UUID},
			query.Field{Name: "name", Column: "name", Type: query.Text},
			query.Field{Name: "email", Column: "email", Type: query.Text})
	case apsorc.Organizations:
		return query.NewSchema("organizations",
			query.Field{Name: "id", Column: "id", Type: query.UUID},
			query.Field{Name: "name", Column: "name", Type: query.Text},
			query.Field{Name: "createdAt", Column: "created_at", Type: query.Timestamptz},
			query.Field{Name: "updatedAt", Column: "updated_at", Type: query.Timestamptz},
			query.Field{Name: "version", Column: "version", Type: query.Int})
	case apsorc.Memberships:
		return query.NewSchema("memberships",
			query.Field{Name: "id", Column: "user_id", Type: query.UUID},
			query.Field{Name: "organizationId", Column: "organization_id", Type: query.UUID},
			query.Field{Name: "role", Column: "role", Type: query.Text})
	}
	idType := query.UUID
	if e.Key == apsorc.SerialKey {
		idType = query.Int
	}
	fs := []query.Field{{Name: "id", Column: "id", Type: idType}}
	for _, f := range e.Fields {
		fs = append(fs, query.Field{Name: f.Name, Column: f.Column, Type: queryType(f.Type), Values: f.Values, Nullable: f.Nullable})
	}
	if e.CreatedAt {
		fs = append(fs, query.Field{Name: "createdAt", Column: "created_at", Type: query.Timestamptz})
	}
	if e.UpdatedAt {
		fs = append(fs, query.Field{Name: "updatedAt", Column: "updated_at", Type: query.Timestamptz})
	}
	fs = append(fs, query.Field{Name: "version", Column: "version", Type: query.Int})
	return query.NewSchema(e.Table, fs...)
}

// queryRelation is the join= relation of r, when the list query can load it: ManyToOne and
// OneToOne by a foreign key, OneToMany by the target's. ManyToMany relations are listed through
// /{id}/{relation} instead.
func queryRelation(r *apsorc.Relation, schemas map[*apsorc.Entity]*query.Schema) (query.Relation, bool) {
	rel := query.Relation{Name: r.Name, Schema: schemas[r.Target]}
	if r.Target.Platform == apsorc.NotPlatform && r.Target.Options.SoftDelete {
		rel.DeletedAt = "deleted_at"
	}
	switch {
	case r.Field != nil:
		rel.Local, rel.Foreign = r.Field.Column, "id"
	case r.Inverse != nil && r.Inverse.Field != nil && r.Kind != apsorc.ManyToMany:
		rel.Local, rel.Foreign, rel.Many = "id", r.Inverse.Field.Column, r.Kind == apsorc.OneToMany
		if r.Target.Platform == apsorc.Memberships {
			return query.Relation{}, false
		}
	default:
		return query.Relation{}, false
	}
	return rel, true
}

// mount registers m's routes at /{path}: APSO's getMany, getOne, createOne, createMany (bulk),
// updateOne (PATCH), replaceOne (PUT) and deleteOne, then recover (soft-deleted entities), a list per
// to-many relation, and PUT and DELETE of a ManyToMany relation's links.
func (m *model) mount(rt *api.Router, g guard.Guards) {
	base := "/" + m.e.Path
	rt.Handle("GET "+base, g.Wrap(guard.Prefetching(m.d.Cache, m.listReads, http.HandlerFunc(m.handleList)), false))
	rt.Handle("POST "+base, g.Wrap(http.HandlerFunc(m.handleCreate), true))
	rt.Handle("POST "+base+"/bulk", g.Wrap(http.HandlerFunc(m.handleBulk), true))
	rt.Handle("GET "+base+"/{id}", g.Wrap(guard.Prefetching(m.d.Cache, m.documentReads, http.HandlerFunc(m.handleGet)), false))
	rt.Handle("PATCH "+base+"/{id}", g.Wrap(http.HandlerFunc(m.handlePatch), false))
	rt.Handle("PUT "+base+"/{id}", g.Wrap(http.HandlerFunc(m.handlePut), false))
	rt.Handle("DELETE "+base+"/{id}", g.Wrap(http.HandlerFunc(m.handleDelete), false))
	if m.e.Options.SoftDelete {
		rt.Handle("PATCH "+base+"/{id}/recover", g.Wrap(http.HandlerFunc(m.handleRecover), false))
	}
	for _, c := range m.collections {
		rt.Handle("GET "+base+"/{id}/"+c.rel.Name, g.Wrap(http.HandlerFunc(c.handle), false))
		if c.rel.Kind == apsorc.ManyToMany {
			rt.Handle("PUT "+base+"/{id}/"+c.rel.Name+"/{other}", g.Wrap(http.HandlerFunc(c.handleLink), false))
			rt.Handle("DELETE "+base+"/{id}/"+c.rel.Name+"/{other}", g.Wrap(http.HandlerFunc(c.handleLink), false))
		}
	}
}

// location is the URL of entity id.
func (m *model) location(id string) string { return "/" + m.e.Path + "/" + url.PathEscape(id) }

// notFoundOf is the one answer for an id of e that doesn't exist, is deleted or is another
// tenant's.
func notFoundOf(e *apsorc.Entity) *fault.Error {
	return fault.E(fault.NotFound, "%s not found", e.Noun)
}
