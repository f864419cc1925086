package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"scaleapi/shared/apsorc"
	"scaleapi/shared/db"
	"scaleapi/shared/fault"
	"scaleapi/shared/query"
	"scaleapi/shared/shard"
)

// Shards: every statement of an entity runs on the shard of its organization (shared/shard).
// With one shard that is the one database and nothing below reads anything to know it: the
// routing adds no round trip. With several:
//
//   - a read or write of one entity finds the entity first (cache-aside, like GET): its
//     organization names the shard. On a miss the shards of the caller's organizations are
//     asked first, then the others, so that what is cached doesn't depend on who asked; a row is
//     only believed from the shard the directory places its organization on (a moved
//     organization's rows left on its old shard are not).
//   - a create goes to the shard of its items' organization, taken from the scope field, or
//     from the entity the scope is reached through (a task's project); only the caller's own
//     organizations count, so that where another tenant's rows are is never told. A bulk create
//     whose items are in the caller's organizations on different shards is refused (422): it
//     could not be all or none.
//   - a write refused for a reference the writing shard can't see asks the shards for the row
//     referenced (model.elsewhere): in another of the caller's organizations it is a 422, as
//     on one database, else the 404 of a row that isn't the caller's.
//   - a list over organizations on several shards asks each shard for its first rows and
//     merges them in the query's order (query.Merge): the same page, cursor and total as one
//     database.

// home returns the first shard's writer.
func (m *model) home(ctx context.Context) (DB, error) { return m.d.Shards.Home().Primary(ctx) }

// sharded reports whether there is more than one shard.
func (m *model) sharded() bool { return m.d.Shards.Len() > 1 }

// reader returns the pool sh serves m's reads from: its replica when the schema routes the
// entity's reads there, else its writer.
func (m *model) reader(ctx context.Context, sh *shard.Shard) (db.DBTX, error) {
	if m.e.Options.Reads == apsorc.ReadReplica {
		return sh.Replica(ctx)
	}
	return sh.Primary(ctx)
}

// search runs probe on the shards, those holding user's organizations first, then the others,
// side by side within each round, and returns the first value found whose organization the
// directory places on the shard that answered. ok is false when no shard has one.
func search[T any](ctx context.Context, m *model, user uuid.UUID, probe func(context.Context, DB) (T, uuid.UUID, bool, error)) (v T, sh *shard.Shard, ok bool, err error) {
	orgs, err := m.d.Members.OrganizationIDs(ctx, user)
	if err != nil {
		return v, nil, false, err
	}
	groups, err := m.d.Shards.Group(ctx, orgs)
	if err != nil {
		return v, nil, false, err
	}
	asked := map[*shard.Shard]bool{}
	var first, rest []*shard.Shard
	for _, g := range groups {
		first = append(first, g.Shard)
		asked[g.Shard] = true
	}
	for _, s := range m.d.Shards.Shards() {
		if !asked[s] {
			rest = append(rest, s)
		}
	}
	for _, round := range [][]*shard.Shard{first, rest} {
		found := make([]bool, len(round))
		vals := make([]T, len(round))
		eg, ectx := errgroup.WithContext(ctx)
		for i, s := range round {
			eg.Go(func() error {
				conn, err := s.Primary(ectx)
				if err != nil {
					return err
				}
				val, org, hit, err := probe(ectx, conn)
				if err != nil || !hit {
					return err
				}
				placed, err := m.d.Shards.For(ectx, org)
				if err != nil {
					return err
				}
				found[i], vals[i] = placed == s, val
				return nil
			})
		}
		if err := eg.Wait(); err != nil {
			return v, nil, false, err
		}
		for i := range round {
			if found[i] {
				return vals[i], round[i], true, nil
			}
		}
	}
	return v, nil, false, nil
}

// load reads live entity id from the shard that holds it (see search), for find.
func (m *model) load(ctx context.Context, user uuid.UUID, id string) (entry, error) {
	read := func(ctx context.Context, conn DB) (entry, uuid.UUID, bool, error) {
		var e entry
		var b []byte
		err := conn.QueryRow(ctx, m.getSQL, id).Scan(&b, &e.Org, &e.Version)
		if errors.Is(err, pgx.ErrNoRows) {
			return entry{}, uuid.Nil, false, nil
		}
		if err != nil {
			return entry{}, uuid.Nil, false, fmt.Errorf("get %s: %w", m.e.Noun, db.Translate(err))
		}
		e.JSON, err = compact(b)
		return e, e.Org, err == nil, err
	}
	if !m.sharded() {
		conn, err := m.home(ctx)
		if err != nil {
			return entry{}, err
		}
		e, _, ok, err := read(ctx, conn)
		if err == nil && !ok {
			err = m.notFound
		}
		return e, err
	}
	e, _, ok, err := search(ctx, m, user, read)
	if err == nil && !ok {
		err = m.notFound
	}
	return e, err
}

// writer returns the writer of the shard holding entity id, live, for a write by user: its
// organization's shard, which refuses writes during a move (503).
func (m *model) writer(ctx context.Context, user uuid.UUID, id string) (DB, error) {
	if !m.sharded() {
		return m.home(ctx)
	}
	e, err := m.find(ctx, user, id)
	if err != nil {
		if fault.CodeOf(err) == fault.NotFound {
			return nil, m.notFound
		}
		return nil, err
	}
	return m.writerOfOrg(ctx, e.Org)
}

// writerOfDeleted is writer for an entity that may be soft-deleted (recover), which the cache
// doesn't hold: the shards are asked for its organization.
func (m *model) writerOfDeleted(ctx context.Context, user uuid.UUID, id string) (DB, error) {
	if !m.sharded() {
		return m.home(ctx)
	}
	sql := "SELECT " + orgOf(m.e, aliased("t")) + " FROM " + m.e.Table + " t WHERE t.id = $1::" + idType(m.e)
	org, ok, err := m.orgOfRow(ctx, user, sql, id)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, m.notFound
	}
	return m.writerOfOrg(ctx, org)
}

// elsewhere reports whether live row id of entity t is, on the shard of its organization, in one
// of user's organizations (see model.failed). It runs only on a write's error path.
func (m *model) elsewhere(ctx context.Context, user uuid.UUID, t *apsorc.Entity, id string) (bool, error) {
	live := ""
	if t.Options.SoftDelete {
		live = " AND x.deleted_at IS NULL"
	}
	sql := "SELECT " + orgOf(t, aliased("x")) + " FROM " + t.Table + " x WHERE x.id = $1::" + idType(t) + live
	org, ok, err := m.orgOfRow(ctx, user, sql, id)
	if err != nil || !ok {
		return false, err
	}
	orgs, err := m.d.Members.OrganizationIDs(ctx, user)
	return slices.Contains(orgs, org), err
}

// orgOfRow runs sql, which selects the organization of the row whose key is $1, on the shards
// (see search) and returns what the shard of that organization answers for id.
func (m *model) orgOfRow(ctx context.Context, user uuid.UUID, sql, id string) (uuid.UUID, bool, error) {
	org, _, ok, err := search(ctx, m, user, func(ctx context.Context, conn DB) (uuid.UUID, uuid.UUID, bool, error) {
		var org uuid.UUID
		err := conn.QueryRow(ctx, sql, id).Scan(&org)
		if errors.Is(err, pgx.ErrNoRows) {
			return uuid.Nil, uuid.Nil, false, nil
		}
		return org, org, err == nil, db.Translate(err)
	})
	return org, ok, err
}

func (m *model) writerOfOrg(ctx context.Context, org uuid.UUID) (DB, error) {
	sh, err := m.d.Shards.ForWrite(ctx, org)
	if err != nil {
		return nil, err
	}
	return sh.Primary(ctx)
}

// readerOfOrg returns the writer of organization org's shard, for reads that must see the
// caller's own writes (views, collections).
func (m *model) readerOfOrg(ctx context.Context, org uuid.UUID) (DB, error) {
	sh, err := m.d.Shards.For(ctx, org)
	if err != nil {
		return nil, err
	}
	return sh.Primary(ctx)
}

// createWriter returns the writer of the shard a create of items goes to (see the comment at
// the top of this file).
func (m *model) createWriter(ctx context.Context, user uuid.UUID, items []values) (DB, error) {
	if !m.sharded() {
		return m.home(ctx)
	}
	via, through := m.e.Scope.Field, (*model)(nil)
	switch {
	case !m.e.Scope.Direct():
		via, through = m.e.Scope.Path[0].Field, m.all[m.e.Scope.Path[0].Target]
	case m.derivedScope() != nil:
		via, through = m.parent, m.all[m.parent.Relation.Target]
	}
	mine, err := m.d.Members.OrganizationIDs(ctx, user)
	if err != nil {
		return nil, err
	}
	var org uuid.UUID
	var on *shard.Shard
	for _, it := range items {
		v := it[via]
		if v == nil {
			continue
		}
		var o uuid.UUID
		if through == nil {
			p, err := uuid.Parse(*v)
			if err != nil {
				continue // the statement reports it
			}
			o = p
		} else {
			e, err := through.find(ctx, user, *v)
			if fault.CodeOf(err) == fault.NotFound {
				continue // the statement reports it, naming the field
			}
			if err != nil {
				return nil, err
			}
			o = e.Org
		}
		if !slices.Contains(mine, o) {
			// Another tenant's (or no) organization: where it is is none of the caller's
			// business; the statement answers 404 naming the field.
			continue
		}
		sh, err := m.d.Shards.For(ctx, o)
		if err != nil {
			return nil, err
		}
		if on != nil && sh != on {
			return nil, &fault.Error{Code: fault.Invalid, Message: "the items are in organizations kept in different databases: create them in one request per organization",
				Fields: []fault.FieldError{{Field: "bulk", Message: "spans organizations kept in different databases"}}}
		}
		org, on = o, sh
	}
	if on == nil {
		return m.home(ctx) // no item names a live organization or parent: the statement says which
	}
	return m.writerOfOrg(ctx, org)
}

// listAcross runs the list q over orgs: on their shard when they share one, else on each of
// their shards, merged.
func (m *model) listAcross(ctx context.Context, orgs []uuid.UUID, q *query.Query) (json.RawMessage, error) {
	groups, err := m.d.Shards.Group(ctx, orgs)
	if err != nil {
		return nil, err
	}
	what := "list " + m.e.Path
	if len(groups) == 1 {
		conn, err := m.reader(ctx, groups[0].Shard)
		if err != nil {
			return nil, err
		}
		return marshalPage(listPage(ctx, conn, q, q.Build(query.Scope{Alias: "t", Where: m.scopeWhere, Args: []any{orgs}}), what))
	}
	parts := make([]*query.Part, len(groups))
	eg, ectx := errgroup.WithContext(ctx)
	for i, g := range groups {
		eg.Go(func() error {
			conn, err := m.reader(ectx, g.Shard)
			if err != nil {
				return err
			}
			parts[i], err = listPart(ectx, conn, q, q.BuildPart(query.Scope{Alias: "t", Where: m.scopeWhere, Args: []any{g.Orgs}}), what)
			return err
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	var order []int
	if sql, args, ok := q.MergeStatement(parts); ok {
		conn, err := m.reader(ctx, m.d.Shards.Home())
		if err != nil {
			return nil, err
		}
		rows, err := conn.Query(ctx, sql, args...)
		if err != nil {
			return nil, fmt.Errorf("%s: merge: %w", what, db.Translate(err))
		}
		if order, err = pgx.CollectRows(rows, pgx.RowTo[int]); err != nil {
			return nil, fmt.Errorf("%s: merge: %w", what, db.Translate(err))
		}
	}
	return marshalPage(q.Merge(parts, order))
}
