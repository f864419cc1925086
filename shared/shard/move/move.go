// Package move moves one organization from its shard to another while the API serves it: copy,
// a short write freeze for that organization only, a final copy, the directory flipped, the old
// shard cleaned.
//
//  1. Copy. The organization's platform rows (its row, memberships, members' users) and every
//     row of its tables (resource.Engine.TenantTables) are copied to the new shard, upserted,
//     while it keeps serving reads and writes from the old one.
//  2. Freeze. The directory records a write freeze: every environment that reads the
//     placement answers the organization's writes 503 with Retry-After (shard.Set.ForWrite);
//     reads go on. The move waits LocalTTL, the longest an environment acts on a placement it
//     read before, so no environment still writes on its memory of the unfrozen placement.
//  3. Final copy. Inside a transaction on the old shard that holds SHARE locks on the tables
//     (the writes in flight finish first; new ones wait), the rows are copied again and rows
//     the new shard has that the old one no longer has are deleted: the new shard now holds
//     exactly the old one's rows.
//  4. Flip. The directory names the new shard, unfrozen; the organization's cached lists are
//     retired (its generation bumped; the entity entries stay valid: the rows are the same
//     bytes). Environments that still remember the freeze answer 503 for at most LocalTTL more.
//  5. Clean. After LocalTTL (no environment reads the old shard for the organization any
//     more) its rows are deleted from the old shard, and so is the old shard's copy of the
//     organization, unless the old shard is the directory's, whose rows are the truth.
//
// The freeze lasts LocalTTL plus the final copy, plus up to LocalTTL for environments to see the
// flip: seconds. What the freeze cannot stop: a write that read the placement more than LocalTTL
// before the freeze began and reaches the old shard only after the final copy (a request stalled
// that long between two steps). On an old shard that is not the directory's, the final copy's
// transaction also marks its copy of the organization deleted, so such a write fails its
// membership guard (404) instead of landing; on the directory's shard it would be lost, and the
// move's TestMoveLosesNoWrite only covers writers that keep their environment's timing.
package move

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/cache"
	"scaleapi/shared/db"
	"scaleapi/shared/organization"
	"scaleapi/shared/resource"
	"scaleapi/shared/shard"
)

// Options are what a move works with.
type Options struct {
	Shards *shard.Set
	// Tables are the organization's tables, in reference order (resource.Engine.TenantTables).
	Tables []resource.TenantTable
	// Cache is the deployment's cache, whose lists of the organization are retired after the
	// flip; nil when there is none.
	Cache *cache.Cache
	// LocalTTL is the environments' directory memory (shard.Options.LocalTTL); zero means
	// shard.DefaultLocalTTL.
	LocalTTL time.Duration
	Log      *slog.Logger
}

// Report says what a move did.
type Report struct {
	From, To string
	// Rows is how many rows the final copy wrote, over every table.
	Rows int
	// Frozen is how long the organization's writes were refused by the directory (from the
	// freeze to the flip; environments may refuse them for up to LocalTTL longer).
	Frozen time.Duration
}

// freezeLimit bounds the freeze recorded in the directory: if the move dies in the middle, the
// organization's writes come back by themselves on the old shard, which still holds everything.
const freezeLimit = 30 * time.Second

// Organization moves org to the shard named to.
func Organization(ctx context.Context, o Options, org uuid.UUID, to string) (Report, error) {
	if o.LocalTTL <= 0 {
		o.LocalTTL = shard.DefaultLocalTTL
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	set := o.Shards
	p, err := set.Lookup(ctx, org)
	if err != nil {
		return Report{}, err
	}
	if time.Until(p.FrozenUntil) > 0 {
		return Report{}, fmt.Errorf("move: organization %s is frozen until %s: another move is running", org, p.FrozenUntil.Format(time.RFC3339))
	}
	from, _ := set.Named(p.Shard)
	dst, ok := set.Named(to)
	switch {
	case from == nil:
		return Report{}, fmt.Errorf("move: organization %s is on shard %q, which the map does not name", org, p.Shard)
	case !ok:
		return Report{}, fmt.Errorf("move: no shard %q in the map", to)
	case from == dst:
		return Report{}, fmt.Errorf("move: organization %s is already on shard %s", org, to)
	}
	rep := Report{From: from.Name(), To: dst.Name()}
	dir, err := set.Home().Primary(ctx)
	if err != nil {
		return rep, err
	}
	var exists bool
	if err := dir.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM organizations WHERE id = $1)", org).Scan(&exists); err != nil || !exists {
		return rep, errors.Join(fmt.Errorf("move: no organization %s", org), err)
	}
	src, err := from.Primary(ctx)
	if err != nil {
		return rep, err
	}
	out, err := dst.Primary(ctx)
	if err != nil {
		return rep, err
	}

	// 1. Copy.
	if dst != set.Home() {
		if err := organization.CopyTo(ctx, dir, dst, org); err != nil {
			return rep, err
		}
	}
	if _, err := copyRows(ctx, o.Tables, src, out, org); err != nil {
		return rep, err
	}

	// 2. Freeze.
	frozeAt := time.Now()
	if err := set.Record(ctx, org, shard.Placement{Shard: from.Name(), FrozenUntil: frozeAt.Add(freezeLimit)}); err != nil {
		return rep, err
	}
	thaw := func() {
		// The move failed after the freeze: writes go back to the old shard, which has them all.
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := set.Record(tctx, org, shard.Placement{Shard: from.Name()}); err != nil {
			o.Log.Error("move: lifting the freeze failed; it ends by itself", "organization", org, "until", frozeAt.Add(freezeLimit), "error", err)
		}
	}
	if err := sleep(ctx, o.LocalTTL+250*time.Millisecond); err != nil {
		thaw()
		return rep, err
	}

	// 3. Final copy, with the old shard's tables locked against writes, and 4. the flip.
	err = db.InTx(ctx, src, func(tx pgx.Tx) error {
		tables := make([]string, len(o.Tables))
		for i, t := range o.Tables {
			tables[i] = pgx.Identifier{t.Table}.Sanitize()
		}
		if _, err := tx.Exec(ctx, "LOCK TABLE "+strings.Join(tables, ", ")+" IN SHARE MODE"); err != nil {
			return err
		}
		n, err := copyRows(ctx, o.Tables, tx, out, org)
		if err != nil {
			return err
		}
		rep.Rows = n
		if from != set.Home() {
			if _, err := tx.Exec(ctx, "UPDATE organizations SET deleted_at = now() WHERE id = $1", org); err != nil {
				return err
			}
		}
		return set.Record(ctx, org, shard.Placement{Shard: dst.Name()})
	})
	if err != nil {
		thaw()
		return rep, fmt.Errorf("move: final copy: %w", err)
	}
	rep.Frozen = time.Since(frozeAt)
	if o.Cache != nil {
		if err := o.Cache.Bump(ctx, cache.OrgScope(org)); err != nil {
			o.Log.Error("move: retiring the organization's cached lists failed; they expire by their TTL", "organization", org, "error", err)
		}
	}

	// 5. Clean.
	if err := sleep(ctx, o.LocalTTL+250*time.Millisecond); err != nil {
		return rep, err
	}
	err = db.InTx(ctx, src, func(tx pgx.Tx) error {
		for _, t := range slices.Backward(o.Tables) {
			if _, err := tx.Exec(ctx, "DELETE FROM "+pgx.Identifier{t.Table}.Sanitize()+" t WHERE "+t.Of, org); err != nil {
				return err
			}
		}
		if from != set.Home() {
			_, err := tx.Exec(ctx, "DELETE FROM organizations WHERE id = $1", org) // its memberships go with it
			return err
		}
		return nil
	})
	if err != nil {
		return rep, fmt.Errorf("move: the organization is on %s; deleting its rows from %s failed (run the move's clean-up again): %w", to, from.Name(), err)
	}
	return rep, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// copyRows makes the organization's rows of every table on out what they are on src, in one
// transaction on out: rows out has that src doesn't are deleted (children first), the others
// upserted (parents first). It returns how many rows it wrote.
func copyRows(ctx context.Context, tables []resource.TenantTable, src db.DBTX, out shard.DB, org uuid.UUID) (int, error) {
	data := make([]string, len(tables))
	for i, t := range tables {
		var rows *string
		if err := src.QueryRow(ctx, "SELECT json_agg(t)::text FROM "+pgx.Identifier{t.Table}.Sanitize()+" t WHERE "+t.Of, org).Scan(&rows); err != nil {
			return 0, fmt.Errorf("move: read %s: %w", t.Table, err)
		}
		data[i] = "[]"
		if rows != nil {
			data[i] = *rows
		}
	}
	n := 0
	err := db.InTx(ctx, out, func(tx pgx.Tx) error {
		n = 0
		for i, t := range slices.Backward(tables) {
			name := pgx.Identifier{t.Table}.Sanitize()
			key := strings.Join(t.Key, ", ")
			if _, err := tx.Exec(ctx, "DELETE FROM "+name+" t WHERE "+t.Of+" AND ("+prefixed("t", t.Key)+") NOT IN (SELECT "+key+
				" FROM json_populate_recordset(NULL::"+name+", $2::json))", org, data[i]); err != nil {
				return fmt.Errorf("delete from %s: %w", t.Table, err)
			}
		}
		for i, t := range tables {
			cols, err := columns(ctx, tx, t.Table)
			if err != nil {
				return err
			}
			name := pgx.Identifier{t.Table}.Sanitize()
			conflict := " ON CONFLICT (" + strings.Join(t.Key, ", ") + ") DO NOTHING"
			if set := without(cols, t.Key); len(set) > 0 {
				conflict = " ON CONFLICT (" + strings.Join(t.Key, ", ") + ") DO UPDATE SET (" + strings.Join(set, ", ") + ") = ROW(" +
					prefixed("EXCLUDED", set) + ")"
			}
			tag, err := tx.Exec(ctx, "INSERT INTO "+name+" SELECT * FROM json_populate_recordset(NULL::"+name+", $1::json)"+conflict, data[i])
			if err != nil {
				return fmt.Errorf("copy %s: %w", t.Table, err)
			}
			n += int(tag.RowsAffected())
		}
		return nil
	})
	return n, err
}

// columns returns table's column names, quoted.
func columns(ctx context.Context, tx pgx.Tx, table string) ([]string, error) {
	rows, err := tx.Query(ctx, "SELECT quote_ident(attname) FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum", table)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func without(cols, drop []string) []string {
	var out []string
	for _, c := range cols {
		if !slices.Contains(drop, strings.Trim(c, `"`)) {
			out = append(out, c)
		}
	}
	return out
}

func prefixed(alias string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = alias + "." + c
	}
	return strings.Join(out, ", ")
}
