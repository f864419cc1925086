package resource

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/db"
	"scaleapi/shared/fault"
	"scaleapi/shared/query"
)

// model is one entity served by the engine: its allow-list, its statements and its cache.
type model struct {
	e        *apsorc.Entity
	schema   *query.Schema
	plain    *query.Query // the query with no parameters: every field, no join
	d        EngineDeps
	hooks    Hooks
	notFound *fault.Error

	itemSQL    string // the JSON of a row of alias t, as every answer renders it
	getSQL     string // item, organization and version of a live row by id ($1)
	scopeWhere string // the tenant scope of a list: the row's organization is one of $1
	live       string // " AND t.deleted_at IS NULL", or "" without soft delete
	deleteRole auth.Role

	// children are the foreign keys of other entities with cascadeDelete that point at this one.
	children []child
	// collections are the /{id}/{relation} lists.
	collections []*collection
	// viewJoins are the joins of the views cached under the entity's own view scope, and
	// parents the foreign keys whose targets' views show the entity (see engine_views.go).
	viewJoins []string
	parents   []*apsorc.Field
	// uniques maps a unique constraint's name to the field a violation is reported on.
	uniques map[string]string
	// parent is the foreign key a create takes the organization from when it leaves the scope
	// field out (a task's projectId): the first required ManyToOne to an entity of the engine.
	// nil when the scope field is a path or there is no such key.
	parent *apsorc.Field
	// hints remembers which organizations each user's last list covered (see orgHints).
	hints orgHints
	// all is every served entity's model, for a create that finds its organization through
	// another entity (createWriter).
	all map[*apsorc.Entity]*model
}

// child is a cascading foreign key: rows of m whose column fk points at a deleted parent are
// deleted with it.
type child struct {
	m  *model
	fk *apsorc.Field
}

// collection is GET /{path}/{id}/{relation}: the target rows related to one entity.
type collection struct {
	parent *model
	rel    *apsorc.Relation
	target *model
	where  string // the rows of target related to $1
}

func newModel(e *apsorc.Entity, s *query.Schema, d EngineDeps) *model {
	plain, err := query.ParseRequest(&http.Request{URL: &url.URL{}, Header: http.Header{}}, s)
	if err != nil {
		panic(fmt.Sprintf("entity %s: %v", e.Name, err)) // turned into NewEngine's error
	}
	m := &model{
		e: e, schema: s, plain: plain, d: d,
		notFound:   notFoundOf(e),
		deleteRole: auth.Role(e.Options.DeleteRole),
		uniques:    map[string]string{},
	}
	if !m.deleteRole.Valid() {
		m.deleteRole = auth.RoleMember
	}
	if e.Options.SoftDelete {
		m.live = " AND t.deleted_at IS NULL"
	}
	m.itemSQL = m.item("t")
	m.getSQL = "SELECT " + m.itemSQL + ", " + orgOf(e, aliased("t")) + ", t.version FROM " + e.Table +
		" t WHERE t.id = $1::" + idType(e) + m.live
	m.scopeWhere = orgOf(e, aliased("t")) + " = ANY($1::uuid[])" + m.live
	if e.Scope.Direct() {
		for _, f := range e.Fields {
			if r := f.Relation; r != nil && !f.Nullable && r.Kind == apsorc.ManyToOne && r.Target.Platform == apsorc.NotPlatform {
				m.parent = f
				break
			}
		}
	}
	for _, u := range e.Uniques {
		if f, ok := fieldOfColumn(e, u.Columns[0]); ok {
			m.uniques[u.Name] = f
		}
	}
	return m
}

// derivedScope returns the scope field when the entity's organization always follows its
// parent's (a task's organizationId is its project's): a direct scope, a parent, and
// scopeOptions.injectOnCreate. Such a field is read-only; else nil.
func (m *model) derivedScope() *apsorc.Field {
	if m.parent != nil && m.e.Scope.InjectOnCreate {
		return m.e.Scope.Field
	}
	return nil
}

// orgGone is the answer to a create in an organization the caller is not a member of (or that
// doesn't exist): a 404 naming the field that chose it, the scope field or the first foreign
// key of the scope path (or the parent key the organization came from).
func (m *model) orgGone(prefix string) error {
	f := m.e.Scope.Field
	switch {
	case !m.e.Scope.Direct():
		f = m.e.Scope.Path[0].Field
	case m.parent != nil:
		f = m.parent
	}
	return &fault.Error{Code: fault.NotFound, Message: "organization not found",
		Fields: []fault.FieldError{{Field: prefix + f.Name, Message: "no such organization of yours"}}}
}

// fieldOfColumn returns the API name of e's column c.
func fieldOfColumn(e *apsorc.Entity, c string) (string, bool) {
	for _, f := range e.Fields {
		if f.Column == c {
			return f.Name, true
		}
	}
	return "", false
}

// resolve finds what m needs of the other served entities: its cascading children and its
// collections.
func (m *model) resolve(byEntity map[*apsorc.Entity]*model) {
	m.viewJoins, m.parents = m.childJoins(byEntity), m.parentKeys(byEntity)
	for other, om := range byEntity {
		for _, f := range other.Fields {
			if f.Relation != nil && f.Relation.Target == m.e && f.Relation.CascadeDelete {
				m.children = append(m.children, child{m: om, fk: f})
			}
		}
	}
	for _, r := range m.e.Relations {
		t, ok := byEntity[r.Target]
		if !ok {
			continue
		}
		c := &collection{parent: m, rel: r, target: t}
		switch {
		case r.Kind == apsorc.ManyToMany:
			c.where = "EXISTS (SELECT 1 FROM " + r.JoinTable + " j WHERE j." + r.InverseJoinColumn + " = t.id AND j." +
				r.JoinColumn + " = $1::" + idType(m.e) + ")" + t.live
		case r.Kind == apsorc.OneToMany && r.Inverse != nil && r.Inverse.Field != nil:
			c.where = "t." + r.Inverse.Field.Column + " = $1::" + idType(m.e) + t.live
		default:
			continue
		}
		m.collections = append(m.collections, c)
	}
}

// key is the logical cache key of entity id (cache.EntityKey).
func (m *model) key(id string) string { return cache.EntityKey(m.e.Noun, id) }

// find returns live entity id's cache entry, from the cache or its shard's writer, without a
// tenant check; user, the caller, only decides which shards are asked first.
func (m *model) find(ctx context.Context, user uuid.UUID, id string) (entry, error) {
	return cache.Get(ctx, m.d.Cache, m.key(id), m.e.Options.CacheTTL, func(ctx context.Context) (entry, error) {
		return m.load(ctx, user, id)
	})
}

// document returns live entity id if user is a member of its organization, else m.notFound.
// The entity and the user's memberships are read in one round trip (see cache.Prefetch).
func (m *model) document(ctx context.Context, user uuid.UUID, id string) (entry, error) {
	return m.authorized(m.d.Cache.Prefetch(ctx, m.documentKeys(user, id), nil), user, id)
}

// authorized is document after the prefetch.
func (m *model) authorized(ctx context.Context, user uuid.UUID, id string) (entry, error) {

	e, err := m.find(ctx, user, id)
	if err == nil {
		_, err = m.d.Members.Role(ctx, user, e.Org)
	}
	if err != nil {
		if fault.CodeOf(err) == fault.NotFound {
			return entry{}, m.notFound
		}
		return entry{}, err
	}
	return e, nil
}

// documentKeys are the cache keys document reads: the entity and user's memberships.
func (m *model) documentKeys(user uuid.UUID, id string) []string {
	if mk, ok := m.d.Members.(membershipsKeyer); ok {
		return []string{m.key(id), mk.MembershipsKey(user)}
	}
	return nil
}

// list returns the page q selects of the live entities of user's organizations, cached under
// their scopes.
func (m *model) list(ctx context.Context, user uuid.UUID, q *query.Query) (json.RawMessage, error) {
	orgs, err := m.d.Members.OrganizationIDs(ctx, user)
	if err != nil {
		return nil, err
	}
	m.hints.put(user, orgs)
	key, scopes := listOf(m.e.Path, orgs, q)
	return cache.GetList(ctx, m.d.Cache, key, scopes, m.e.Options.ListCacheTTL, func(ctx context.Context) (json.RawMessage, error) {
		return m.listAcross(ctx, orgs, q)
	})
}

// view returns entity id rendered as q asks (fields=, join=). A view that joins only the
// entity's children (see viewJoins) is cached under the entity's own view scope, which the
// entity's writes and its children's retire; any other join shows rows that any write of the
// organization may change, so that view is cached under the organization's scope.
func (m *model) view(ctx context.Context, user uuid.UUID, id string, q *query.Query) (json.RawMessage, error) {
	var e entry
	var err error
	var key string
	var scopes []string
	if m.ownView(q) {
		// The entity, the memberships, the view and its scope's generation in one round trip.
		key, scopes = m.ownViewKey(id, q)
		ctx = m.d.Cache.Prefetch(ctx, append(m.documentKeys(user, id), key), scopes)
		if e, err = m.authorized(ctx, user, id); err != nil {
			return nil, err
		}
	} else {
		if e, err = m.document(ctx, user, id); err != nil {
			return nil, err
		}
		scopes = []string{cache.OrgScope(e.Org)}
		key = cache.ListKey(scopes, m.e.Noun, id, q.Key())
	}
	return cache.GetList(ctx, m.d.Cache, key, scopes, m.e.Options.ListCacheTTL, func(ctx context.Context) (json.RawMessage, error) {
		conn, err := m.readerOfOrg(ctx, e.Org)
		if err != nil {
			return nil, err
		}
		st := q.Build(query.Scope{Alias: "t", Where: "t.id = $1::" + idType(m.e) + m.live, Args: []any{id}})
		return viewOne(ctx, conn, q, st, m.notFound)
	})
}

// ownViewKey is the cache key and scope of view q of entity id when it is one of its own
// (ownView).
func (m *model) ownViewKey(id string, q *query.Query) (string, []string) {
	scopes := []string{cache.ViewScope(m.e.Noun, id)}
	return cache.ListKey(scopes, m.e.Noun, id, q.Key()), scopes
}

// written is an entity as a write returns it.
type written struct {
	id      string
	org     uuid.UUID
	version int
	json    json.RawMessage
	parents []*string // its parent keys (see parentColumns)
}

// create inserts items (already validated, scope filled in), all or none, in one statement.
func (m *model) create(ctx context.Context, user uuid.UUID, items []values, prefix func(int) string) ([]written, error) {
	conn, err := m.createWriter(ctx, user, items)
	if err != nil {
		return nil, err
	}
	rs := m.insertRows(items)
	u := rs.args.Add(user)
	cs := checks(m.e, rs.ref, orgOf(m.e, rs.ref), u+"::uuid", m.foreignKeys(nil))
	holds := all(cs)
	if rs.from != "" {
		holds = "(SELECT bool_and(" + holds + ")" + rs.from + ")"
	}
	stmt := rs.with + "INSERT INTO " + m.e.Table + " AS t (" + strings.Join(rs.columns, ", ") + ") SELECT " +
		strings.Join(rs.values, ", ") + rs.from + " WHERE " + holds + rs.order + " RETURNING " +
		m.itemSQL + ", t.id::text, " + orgOf(m.e, aliased("t")) + ", t.version" + m.parentColumns(false)
	out, err := m.collect(ctx, conn, stmt, rs.args)
	if err != nil {
		return nil, err
	}
	if len(out) == len(items) {
		m.changed(ctx, out, nil)
		return out, nil
	}
	// Nothing was inserted: say which check refused which item. One item's values are read
	// from a subquery the checks don't use: PostgreSQL types a parameter by where it appears,
	// and refuses one that appears nowhere.
	from := rs.from
	if from == "" {
		from = " FROM (SELECT " + strings.Join(rs.values, ", ") + ") AS w"
	}
	rows, err := conn.Query(ctx, rs.with+"SELECT "+rs.ord+", "+each(cs)+", "+referenced(cs)+from+rs.order, rs.args...)
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", m.e.Noun, db.Translate(err))
	}
	defer rows.Close()
	for rows.Next() {
		var ord int
		var ok []bool
		var keys []string
		if err := rows.Scan(&ord, &ok, &keys); err != nil {
			return nil, db.Translate(err)
		}
		if err := m.failed(ctx, user, cs, ok, keys, prefix(ord-1), m.orgGone); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, db.Translate(err)
	}
	return nil, fault.E(fault.Retry, "conflicting concurrent change, try again")
}

// rowsToInsert are the rows of a create as its statements read them: the columns written and
// the values SELECTed into them, ref for the checks, and the arguments bound so far.
//
// One item (every POST of an object) is bound as scalars, each value a parameter cast to its
// column's type, and written by a plain INSERT … SELECT … WHERE. PostgreSQL parses and plans
// every statement afresh behind a transaction-mode pooler (see package db), and this form costs
// it about a third less CPU than the batch's: a project's create took 495–557 µs of the
// primary's CPU in the batch's form and 315–390 µs in this one (pgbench in extended mode, one
// connection, 4,000 statements a round, five alternating rounds). A batch is a CTE over unnest
// of one text array per column, WITH ORDINALITY for the items' order, whose checks must all
// hold (bool_and) for any row to be written.
type rowsToInsert struct {
	with, from, order string // "WITH v AS (…) ", " FROM v", " ORDER BY v.ord"; empty for one item
	ord               string // the item's 1-based position: "v.ord", or "1"
	columns, values   []string
	ref               ref
	args              query.Args
}

// insertRows binds items, and a new key for each when the key is a UUID, for create.
func (m *model) insertRows(items []values) rowsToInsert {
	single := len(items) == 1
	rs := rowsToInsert{ord: "1"}
	var arrays, names []string
	// bind binds one column's values and returns the SQL of the value (text) in the row.
	bind := func(column string, vals []*string) string {
		if single {
			return rs.args.Add(vals[0]) + "::text"
		}
		arrays = append(arrays, rs.args.Add(vals)+"::text[]")
		names = append(names, column)
		return "u." + column
	}
	typed := map[string]string{} // column → its value, of the column's type
	derived := m.derivedScope()
	for _, f := range m.e.Fields {
		rs.columns = append(rs.columns, f.Column)
		if f == derived {
			continue // from the parent's, below
		}
		vals := make([]*string, len(items))
		for i, it := range items {
			vals[i] = it[f]
		}
		typed[f.Column] = bind(f.Column, vals) + "::" + sqlType(f)
	}
	if derived != nil {
		pt := m.parent.Relation.Target
		live := ""
		if pt.Options.SoftDelete {
			live = " AND x.deleted_at IS NULL"
		}
		typed[derived.Column] = "(SELECT " + orgOf(pt, aliased("x")) + " FROM " + pt.Table + " x WHERE x.id = " +
			typed[m.parent.Column] + live + ")"
	}
	if m.e.Key == apsorc.UUIDKey {
		ids := make([]*string, len(items))
		for i := range items {
			id := uuid.Must(uuid.NewV7()).String()
			ids[i] = &id
		}
		rs.columns = append(rs.columns, "id")
		typed["id"] = bind("id", ids) + "::uuid"
	}
	if single {
		for _, c := range rs.columns {
			rs.values = append(rs.values, typed[c])
		}
		rs.ref = func(c string) string { return typed[c] }
		return rs
	}
	sel := make([]string, len(rs.columns))
	for i, c := range rs.columns {
		sel[i] = typed[c] + " AS " + c
	}
	rs.with = "WITH v AS (SELECT u.ord, " + strings.Join(sel, ", ") + " FROM unnest(" + strings.Join(arrays, ", ") +
		") WITH ORDINALITY AS u(" + strings.Join(names, ", ") + ", ord)) "
	rs.from, rs.order, rs.ord = " FROM v", " ORDER BY v.ord", "v.ord"
	rs.values, rs.ref = rs.columns, aliased("v")
	return rs
}

// failed returns the error of the first check of cs that ok (each's array) says failed, or
// nil; a failed membership guard is orgGone(prefix). keys are the references' values (referenced):
// a reference the writing shard can't see may be to a row of another of user's organizations on
// another shard, a 422 there as on one database.
func (m *model) failed(ctx context.Context, user uuid.UUID, cs []check, ok []bool, keys []string, prefix string, orgGone func(prefix string) error) error {
	for i, c := range cs {
		if 2*i+1 < len(ok) && !ok[2*i] {
			switch {
			case c.field == "":
				return orgGone(prefix)
			case c.hidden && !ok[2*i+1]:
				if m.sharded() && i < len(keys) && keys[i] != "" {
					theirs, err := m.elsewhere(ctx, user, c.target, keys[i])
					if err != nil {
						return err
					}
					if theirs {
						return fault.Invalidf(prefix+c.field, "must be in the same organization")
					}
				}
				return &fault.Error{Code: fault.NotFound, Message: c.message,
					Fields: []fault.FieldError{{Field: prefix + c.field, Message: c.message}}}
			case c.hidden:
				return fault.Invalidf(prefix+c.field, "must be in the same organization")
			}
			return fault.Invalidf(prefix+c.field, "%s", c.message)
		}
	}
	return nil
}

// foreignKeys are m's foreign keys among present (all of them when present is nil). The implicit
// organizationId of a schema without an Organization entity has no relation: the membership
// guard is its check.
func (m *model) foreignKeys(present values) []*apsorc.Field {
	var fks []*apsorc.Field
	for _, f := range m.e.Fields {
		if _, ok := present[f]; f.Relation != nil && (present == nil || ok) {
			fks = append(fks, f)
		}
	}
	return fks
}

// collect runs a write that returns item, id, organization and version rows, then the
// parent keys (parentColumns).
func (m *model) collect(ctx context.Context, conn DB, stmt string, args []any) ([]written, error) {
	rows, err := conn.Query(ctx, stmt, args...)
	if err != nil {
		return nil, m.translate(err)
	}
	defer rows.Close()
	var out []written
	for rows.Next() {
		var w written
		var b []byte
		dest := []any{&b, &w.id, &w.org, &w.version}
		w.parents = make([]*string, len(rows.FieldDescriptions())-len(dest))
		for i := range w.parents {
			dest = append(dest, &w.parents[i])
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, m.translate(err)
		}
		if w.json, err = compact(b); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, m.translate(err)
	}
	return out, nil
}

// translate is db.Translate that names the field of one of m's unique constraints.
func (m *model) translate(err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "23505" {
		if f, ok := m.uniques[pg.ConstraintName]; ok {
			return &fault.Error{Code: fault.Conflict, Message: f + " already exists", Err: err,
				Fields: []fault.FieldError{{Field: f, Message: "already exists"}}}
		}
	}
	if errors.As(err, &pg) && pg.Code == "23503" && strings.HasPrefix(pg.Message, "update or delete") {
		return &fault.Error{Code: fault.Conflict, Message: m.e.Noun + " is still referenced by other rows", Err: err}
	}
	return db.Translate(err)
}

// update applies vs to live entity id under cond, in one statement whose WHERE is the tenant
// guard, the version condition and the checks of every foreign key it changes.
func (m *model) update(ctx context.Context, user uuid.UUID, id string, cond Condition, vs values) (written, error) {
	conn, err := m.writer(ctx, user, id)
	if err != nil {
		return written{}, err
	}
	args := query.Args{id, cond.Arg(), user}
	newRef := m.valuesRef(&args, vs)
	var set []string
	for _, f := range m.e.Fields {
		if _, ok := vs[f]; ok {
			set = append(set, f.Column+" = "+newRef(f.Column))
		}
	}
	if m.e.UpdatedAt {
		set = append(set, "updated_at = now()")
	}
	set = append(set, "version = t.version + 1")
	cs := m.updateChecks(newRef, vs)
	stmt := "UPDATE " + m.e.Table + " AS t SET " + strings.Join(set, ", ") + " WHERE t.id = $1::" + idType(m.e) + m.live +
		" AND ($2::int[] IS NULL OR t.version = ANY($2::int[])) AND " + all(cs) +
		" RETURNING " + m.itemSQL + ", t.id::text, " + orgOf(m.e, aliased("t")) + ", t.version" + m.parentColumns(true)
	out, err := m.collect(ctx, conn, stmt, args)
	if err != nil {
		return written{}, err
	}
	if len(out) == 1 {
		m.changed(ctx, out, nil)
		return out[0], nil
	}
	// Nothing was updated: say why, binding only the values the checks read.
	args = query.Args{id, cond.Arg(), user}
	cs = m.updateChecks(m.valuesRef(&args, vs), vs)
	var holds bool
	var ok []bool
	var keys []string
	err = conn.QueryRow(ctx, "SELECT ($2::int[] IS NULL OR t.version = ANY($2::int[])), "+each(cs)+", "+referenced(cs)+
		" FROM "+m.e.Table+" t WHERE t.id = $1::"+idType(m.e)+m.live, args...).Scan(&holds, &ok, &keys)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return written{}, m.notFound
	case err != nil:
		return written{}, m.translate(err)
	case !ok[0]:
		return written{}, m.notFound // not a member: the entity is not the caller's to see
	case !holds:
		return written{}, ErrStale
	}
	if err := m.failed(ctx, user, cs, ok, keys, "", func(string) error { return m.notFound }); err != nil {
		return written{}, err
	}
	return written{}, fault.E(fault.Retry, "conflicting concurrent change, try again")
}

// valuesRef returns the ref of the row an update of vs writes: a column vs sets is its value,
// bound in args on first use; any other is the row's own ("t.col").
func (m *model) valuesRef(args *query.Args, vs values) ref {
	placed := map[string]string{}
	return func(c string) string {
		if p, ok := placed[c]; ok {
			return p
		}
		for f, s := range vs {
			if f.Column == c {
				p := args.Add(s) + "::text::" + sqlType(f)
				placed[c] = p
				return p
			}
		}
		return "t." + c
	}
}

// updateChecks are the checks of an update of vs whose new row newRef names: membership of the
// row's current organization, the foreign keys it sets, and that it stays in that organization.
func (m *model) updateChecks(newRef ref, vs values) []check {
	old := orgOf(m.e, aliased("t"))
	cs := checks(m.e, newRef, old, "$3::uuid", m.foreignKeys(vs))
	if moves := m.movesScope(vs); moves != nil {
		cs = append(cs, check{field: moves.Name, sql: orgOf(m.e, newRef) + " = " + old, message: "must stay in the entity's organization"})
	}
	return cs
}

// movesScope returns the field of vs that can change the entity's organization: its scope
// field, or the first foreign key of its scope path.
func (m *model) movesScope(vs values) *apsorc.Field {
	f := m.e.Scope.Field
	if !m.e.Scope.Direct() {
		f = m.e.Scope.Path[0].Field
	}
	if _, ok := vs[f]; ok {
		return f
	}
	return nil
}

// remove deletes live entity id under cond (soft or hard, as the schema says) with every row
// that cascades from it, in one transaction: the entity's row is locked first, so no child can
// be added to it meanwhile (a child's insert reads its parent FOR SHARE).
func (m *model) remove(ctx context.Context, user uuid.UUID, id string, cond Condition) error {
	conn, err := m.writer(ctx, user, id)
	if err != nil {
		return err
	}
	w := written{id: id, parents: make([]*string, len(m.parents))}
	var keys []string
	err = db.InTx(ctx, conn, func(tx pgx.Tx) error {
		keys = keys[:0]
		dest := []any{&w.org}
		for i := range w.parents {
			dest = append(dest, &w.parents[i])
		}
		err := tx.QueryRow(ctx, "SELECT "+orgOf(m.e, aliased("t"))+m.parentColumns(false)+" FROM "+m.e.Table+" t WHERE t.id = $1::"+idType(m.e)+m.live+
			" AND ($2::int[] IS NULL OR t.version = ANY($2::int[])) AND "+memberOf(orgOf(m.e, aliased("t")), "$3::uuid", m.deleteRole)+
			" FOR UPDATE OF t", id, cond.Arg(), user).Scan(dest...)
		if errors.Is(err, pgx.ErrNoRows) {
			return m.explainRemove(ctx, tx, user, id, cond)
		}
		if err != nil {
			return err
		}
		ks, err := m.cascade(ctx, tx, []string{id}, nil)
		if err != nil {
			return err
		}
		keys = append(keys, ks...)
		if m.e.Options.SoftDelete {
			_, err = tx.Exec(ctx, "UPDATE "+m.e.Table+" t SET deleted_at = now(), "+m.touch()+"version = t.version + 1 WHERE t.id = $1::"+idType(m.e), id)
		} else {
			_, err = tx.Exec(ctx, "DELETE FROM "+m.e.Table+" t WHERE t.id = $1::"+idType(m.e), id)
		}
		return err
	})
	if err != nil {
		return m.translate(err)
	}
	m.changed(ctx, []written{w}, keys)
	return nil
}

// explainRemove tells why remove's guard found no row: 412 for a stale If-Match, 403 for a
// member whose role is below the entity's deleteRole, else 404.
func (m *model) explainRemove(ctx context.Context, tx pgx.Tx, user uuid.UUID, id string, cond Condition) error {
	var version int
	var member, allowed bool
	org := orgOf(m.e, aliased("t"))
	err := tx.QueryRow(ctx, "SELECT t.version, "+memberOf(org, "$2::uuid", auth.RoleMember)+", "+memberOf(org, "$2::uuid", m.deleteRole)+
		" FROM "+m.e.Table+" t WHERE t.id = $1::"+idType(m.e)+m.live, id, user).Scan(&version, &member, &allowed)
	switch {
	case errors.Is(err, pgx.ErrNoRows) || (err == nil && !member):
		return m.notFound
	case err != nil:
		return err
	case !allowed:
		return fault.E(fault.Forbidden, "deleting a %s needs the %s role", m.e.Noun, m.deleteRole)
	case !cond.Holds(version):
		return ErrStale
	}
	return fault.E(fault.Retry, "conflicting concurrent change, try again")
}

// touch is the updated_at assignment of a write, when the entity has the column.
func (m *model) touch() string {
	if m.e.UpdatedAt {
		return "updated_at = now(), "
	}
	return ""
}

// cascade deletes (or, with at set, recovers: undeletes the rows deleted at that time) the
// live rows of m's cascading children that point at ids, and theirs, and returns their cache
// keys.
func (m *model) cascade(ctx context.Context, tx pgx.Tx, ids []string, at *time.Time) ([]string, error) {
	var keys []string
	for _, c := range m.children {
		var stmt string
		var args []any
		cm := c.m
		switch {
		case at != nil && cm.e.Options.SoftDelete:
			stmt = "UPDATE " + cm.e.Table + " t SET deleted_at = NULL, " + cm.touch() + "version = t.version + 1 WHERE t." +
				c.fk.Column + " = ANY($1::" + sqlType(c.fk) + "[]) AND t.deleted_at = $2 RETURNING t.id::text"
			args = []any{ids, *at}
		case at != nil:
			continue // hard-deleted rows are gone
		case cm.e.Options.SoftDelete:
			stmt = "UPDATE " + cm.e.Table + " t SET deleted_at = now(), " + cm.touch() + "version = t.version + 1 WHERE t." +
				c.fk.Column + " = ANY($1::" + sqlType(c.fk) + "[]) AND t.deleted_at IS NULL RETURNING t.id::text"
			args = []any{ids}
		default:
			stmt = "DELETE FROM " + cm.e.Table + " t WHERE t." + c.fk.Column + " = ANY($1::" + sqlType(c.fk) + "[]) RETURNING t.id::text"
			args = []any{ids}
		}
		rows, err := tx.Query(ctx, stmt, args...)
		if err != nil {
			return nil, err
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		if len(got) == 0 {
			continue
		}
		for _, id := range got {
			keys = append(keys, cm.key(id))
		}
		more, err := cm.cascade(ctx, tx, got, at)
		if err != nil {
			return nil, err
		}
		keys = append(keys, more...)
	}
	return keys, nil
}

// recoverOne undeletes entity id and the rows deleted with it; a live entity is returned as
// it is. Its non-nullable references must be live: a task of a deleted project stays deleted
// until the project is recovered (409).
func (m *model) recoverOne(ctx context.Context, user uuid.UUID, id string) (written, error) {
	conn, err := m.writerOfDeleted(ctx, user, id)
	if err != nil {
		return written{}, err
	}
	var w written
	var keys []string
	err = db.InTx(ctx, conn, func(tx pgx.Tx) error {
		keys = keys[:0]
		var deletedAt *time.Time
		var refsLive []bool
		cs := checks(m.e, aliased("t"), orgOf(m.e, aliased("t")), "$2::uuid", m.foreignKeys(nil))
		var allowed bool
		w.parents = make([]*string, len(m.parents))
		dest := []any{&deletedAt, &allowed, &refsLive}
		for i := range w.parents {
			dest = append(dest, &w.parents[i])
		}
		err := tx.QueryRow(ctx, "SELECT t.deleted_at, "+memberOf(orgOf(m.e, aliased("t")), "$2::uuid", m.deleteRole)+", "+each(cs)+
			m.parentColumns(false)+" FROM "+m.e.Table+" t WHERE t.id = $1::"+idType(m.e)+" FOR NO KEY UPDATE OF t", id, user).Scan(dest...)
		switch {
		case errors.Is(err, pgx.ErrNoRows) || (err == nil && !refsLive[0]):
			return m.notFound // no such row, or not a member: not the caller's to see
		case err != nil:
			return err
		case !allowed:
			return fault.E(fault.Forbidden, "recovering a %s needs the %s role", m.e.Noun, m.deleteRole)
		}
		if deletedAt != nil {
			for i, c := range cs[1:] {
				if !refsLive[2*(i+1)] {
					return &fault.Error{Code: fault.Conflict, Message: "a reference of the " + m.e.Noun + " is gone: recover or change it first",
						Fields: []fault.FieldError{{Field: c.field, Message: c.message}}}
				}
			}
			ks, err := m.cascade(ctx, tx, []string{id}, deletedAt)
			if err != nil {
				return err
			}
			keys = append(keys, ks...)
			if _, err := tx.Exec(ctx, "UPDATE "+m.e.Table+" t SET deleted_at = NULL, "+m.touch()+"version = t.version + 1 WHERE t.id = $1::"+idType(m.e), id); err != nil {
				return err
			}
		}
		var b []byte
		if err := tx.QueryRow(ctx, m.getSQL, id).Scan(&b, &w.org, &w.version); err != nil {
			return err
		}
		w.id = id
		w.json, err = compact(b)
		return err
	})
	if err != nil {
		return written{}, m.translate(err)
	}
	m.changed(ctx, []written{w}, keys)
	return w, nil
}

// changed invalidates after committed writes ws: their keys (a "not found" may be cached for
// an id a client guessed), their organizations' scopes and their views' (see views).
func (m *model) changed(ctx context.Context, ws []written, extra []string) {
	type change struct{ keys, views []string }
	byOrg := map[uuid.UUID]*change{}
	for _, w := range ws {
		c := byOrg[w.org]
		if c == nil {
			c = &change{keys: extra}
			byOrg[w.org] = c
		}
		c.keys = append(c.keys, m.key(w.id))
		c.views = append(c.views, m.views(w.id, w.parents)...)
	}
	for org, c := range byOrg {
		invalidate(ctx, m.d.Cache, m.d.Log, m.e.Noun, org, c.views, c.keys)
	}
}

// compact returns json_build_object's output without its spaces: the bytes a cache hit
// answers, whatever path produced them.
func compact(b []byte) (json.RawMessage, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// injectScope sets the scope field of a create that left it out, when the entity holds it
// itself and scopeOptions.injectOnCreate allows it: to the parent's organization (always, in the
// statement: see create and derivedScope) when the entity has a parent, else to the caller's
// organization when the caller belongs to exactly one. Otherwise the field is required.
func (m *model) injectScope(ctx context.Context, user uuid.UUID, items []values, prefix func(int) string, v *api.Validator) error {
	f := m.e.Scope.Field
	if !m.e.Scope.Direct() {
		return nil
	}
	if f == m.derivedScope() {
		for _, it := range items {
			it[f] = nil // the statement takes the parent's organization (see create)
		}
		return nil
	}
	var orgs []uuid.UUID
	for i, it := range items {
		if _, ok := it[f]; ok {
			continue
		}
		if !m.e.Scope.InjectOnCreate {
			v.Add(prefix(i)+f.Name, "is required")
			continue
		}
		if orgs == nil {
			var err error
			if orgs, err = m.d.Members.OrganizationIDs(ctx, user); err != nil {
				return err
			}
		}
		if len(orgs) != 1 {
			v.Add(prefix(i)+f.Name, fmt.Sprintf("is required: you belong to %d organizations", len(orgs)))
			continue
		}
		s := orgs[0].String()
		it[f] = &s
	}
	return nil
}

// link adds (or, with unlink, removes) the pair (id, other) of ManyToMany relation r, when both
// are live rows of one organization and the caller is a member of it; a link that exists
// already, or an unlink of a pair that isn't linked, changes nothing. It returns the
// organization, whose lists (and so every join and collection showing the relation) it
// invalidates.
func (m *model) link(ctx context.Context, user uuid.UUID, r *apsorc.Relation, target *model, id, other string, unlink bool) error {
	orgA := orgOf(m.e, aliased("a"))
	ok := "SELECT " + orgA + " AS org FROM " + m.e.Table + " a, " + target.e.Table + " b WHERE a.id = $1::" + idType(m.e) +
		" AND b.id = $2::" + idType(target.e) + strings.ReplaceAll(m.live, "t.", "a.") + strings.ReplaceAll(target.live, "t.", "b.") +
		" AND " + orgOf(target.e, aliased("b")) + " = " + orgA + " AND " + memberOf(orgA, "$3::uuid", auth.RoleMember) + " FOR SHARE OF a, b"
	change := "INSERT INTO " + r.JoinTable + " (" + r.JoinColumn + ", " + r.InverseJoinColumn + ") SELECT $1::" + idType(m.e) +
		", $2::" + idType(target.e) + " FROM ok ON CONFLICT DO NOTHING"
	if unlink {
		change = "DELETE FROM " + r.JoinTable + " WHERE " + r.JoinColumn + " = $1::" + idType(m.e) + " AND " + r.InverseJoinColumn +
			" = $2::" + idType(target.e) + " AND EXISTS (SELECT 1 FROM ok)"
	}
	conn, err := m.writer(ctx, user, id)
	if err != nil {
		if fault.CodeOf(err) == fault.NotFound {
			return fault.E(fault.NotFound, "%s or %s not found", m.e.Noun, target.e.Noun)
		}
		return err
	}
	var org uuid.UUID
	err = conn.QueryRow(ctx, "WITH ok AS ("+ok+"), change AS ("+change+") SELECT org FROM ok", id, other, user).Scan(&org)
	if errors.Is(err, pgx.ErrNoRows) {
		return fault.E(fault.NotFound, "%s or %s not found", m.e.Noun, target.e.Noun)
	}
	if err != nil {
		return m.translate(err)
	}
	invalidate(ctx, m.d.Cache, m.d.Log, m.e.Noun, org, nil, nil)
	return nil
}
