// Package seed loads the benchmark's data set straight into PostgreSQL and reads it back.
//
// Seeding through the API would cost one argon2id hash per user and one round trip per row:
// minutes for 100,000 tasks. Instead the rows are generated in Go and written with COPY on one
// connection to the primary (seconds), and every user gets the same password hash, computed once
// with the project's own argon2id parameters (auth.DefaultParams), so logging in through the API
// still verifies a real hash.
//
// The rows are recognisable (emails bench-user-NNNN@loadgen.invalid, names bench-org-NNN and
// bench-project-…), so Load finds them again in a database seeded earlier and Seed refuses to
// seed twice. Ids are UUIDv7 built from each row's created_at, which is spread over the past
// 180 days: ordering by id and by createdAt agree, as they do for rows the API creates.
package seed

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"scaleapi/shared/auth"
)

// Password is every seeded user's password.
const Password = "bench-password-1"

// The markers that make seeded rows recognisable.
const (
	emailPattern   = "bench-user-%@loadgen.invalid"
	orgPattern     = "bench-org-%"
	projectPattern = "bench-project-%"
)

// Sizes is how much to seed.
type Sizes struct {
	Organizations int
	Users         int
	Projects      int // spread evenly over the organizations
	Tasks         int // spread evenly over the projects
}

// IssueSizes are the sizes of issue 5 and of the seed's own measurements, so that the figures
// compare.
var IssueSizes = Sizes{Organizations: 100, Users: 1000, Projects: 10_000, Tasks: 100_000}

// User is a seeded user and the organizations it belongs to.
type User struct {
	ID    uuid.UUID
	Email string
	Orgs  []int // indexes into Dataset.Orgs
}

// Org is a seeded organization and its seeded projects, in a fixed shuffled order: a Zipf
// pick of index 0 is the organization's hottest project.
type Org struct {
	ID       uuid.UUID
	Projects []uuid.UUID
}

// Dataset is what the load generator needs to know about the seeded rows.
type Dataset struct {
	Users []User
	Orgs  []Org
	Tasks int
}

// Projects counts the projects of every organization.
func (d *Dataset) Projects() int {
	n := 0
	for _, o := range d.Orgs {
		n += len(o.Projects)
	}
	return n
}

// Seed writes a data set of the given sizes into the database at databaseURL (the primary, not
// the pooler: COPY and ANALYZE want one session) and returns it, or, when the database already
// holds a complete seeded data set, returns that one untouched. It fails on a partial one.
// progress, if set, gets a line per step.
func Seed(ctx context.Context, databaseURL string, sz Sizes, progress func(string)) (*Dataset, error) {
	if progress == nil {
		progress = func(string) {}
	}
	if sz.Organizations < 1 || sz.Users < 1 || sz.Projects < sz.Organizations || sz.Tasks < 0 {
		return nil, fmt.Errorf("seed: sizes %+v: need at least one organization and user, and a project per organization", sz)
	}
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("seed: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))

	var users int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM users WHERE email LIKE $1`, emailPattern).Scan(&users); err != nil {
		return nil, fmt.Errorf("seed: count users: %w", err)
	}
	if users == 0 {
		start := time.Now()
		if err := write(ctx, conn, sz, progress); err != nil {
			return nil, err
		}
		progress(fmt.Sprintf("seeded %d organizations, %d users, %d projects, %d tasks in %s",
			sz.Organizations, sz.Users, sz.Projects, sz.Tasks, time.Since(start).Round(time.Millisecond)))
	} else {
		progress(fmt.Sprintf("database already seeded (%d bench users): reusing it", users))
	}
	return load(ctx, conn)
}

// Load reads back a data set Seed wrote earlier; it fails when there is none.
func Load(ctx context.Context, databaseURL string) (*Dataset, error) {
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		return nil, fmt.Errorf("seed: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return load(ctx, conn)
}

func load(ctx context.Context, conn *pgx.Conn) (*Dataset, error) {
	d := &Dataset{}
	orgIndex := map[uuid.UUID]int{}
	rows, err := conn.Query(ctx, `SELECT id FROM organizations WHERE name LIKE $1 AND deleted_at IS NULL ORDER BY name`, orgPattern)
	if err != nil {
		return nil, fmt.Errorf("seed: load organizations: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return nil, fmt.Errorf("seed: load organizations: %w", err)
	}
	for i, id := range ids {
		orgIndex[id] = i
		d.Orgs = append(d.Orgs, Org{ID: id})
	}

	type pair struct{ A, B uuid.UUID }
	rows, err = conn.Query(ctx, `SELECT organization_id, id FROM projects
		WHERE name LIKE $1 AND deleted_at IS NULL ORDER BY id`, projectPattern)
	if err != nil {
		return nil, fmt.Errorf("seed: load projects: %w", err)
	}
	projects, err := pgx.CollectRows(rows, pgx.RowToStructByPos[pair])
	if err != nil {
		return nil, fmt.Errorf("seed: load projects: %w", err)
	}
	for _, p := range projects {
		if i, ok := orgIndex[p.A]; ok {
			d.Orgs[i].Projects = append(d.Orgs[i].Projects, p.B)
		}
	}
	// A fixed shuffle per organization, so that the Zipf-hot projects are not simply the
	// oldest ones, and every run picks the same ones.
	for i := range d.Orgs {
		r := mrand.New(mrand.NewPCG(uint64(i), 0x5eed))
		r.Shuffle(len(d.Orgs[i].Projects), func(a, b int) {
			d.Orgs[i].Projects[a], d.Orgs[i].Projects[b] = d.Orgs[i].Projects[b], d.Orgs[i].Projects[a]
		})
	}

	rows, err = conn.Query(ctx, `SELECT u.id, u.email, coalesce(array_agg(m.organization_id ORDER BY m.organization_id)
			FILTER (WHERE m.organization_id IS NOT NULL), '{}')
		FROM users u LEFT JOIN memberships m ON m.user_id = u.id
		WHERE u.email LIKE $1 GROUP BY u.id, u.email ORDER BY u.email`, emailPattern)
	if err != nil {
		return nil, fmt.Errorf("seed: load users: %w", err)
	}
	for rows.Next() {
		var u User
		var orgs []uuid.UUID
		if err := rows.Scan(&u.ID, &u.Email, &orgs); err != nil {
			rows.Close()
			return nil, fmt.Errorf("seed: load users: %w", err)
		}
		for _, o := range orgs {
			if i, ok := orgIndex[o]; ok && len(d.Orgs[i].Projects) > 0 {
				u.Orgs = append(u.Orgs, i)
			}
		}
		if len(u.Orgs) > 0 {
			d.Users = append(d.Users, u)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("seed: load users: %w", err)
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM tasks t JOIN projects p ON p.id = t.project_id
		WHERE p.name LIKE $1`, projectPattern).Scan(&d.Tasks); err != nil {
		return nil, fmt.Errorf("seed: count tasks: %w", err)
	}
	if len(d.Users) == 0 || len(d.Orgs) == 0 {
		return nil, errors.New("seed: the database holds no seeded data set (run the seed step first)")
	}
	return d, nil
}

// write generates the rows and COPYs them in one transaction, then vacuums and analyzes the
// tables so that the planner sees 100,000 tasks rather than the empty tables of a fresh
// migration, and index-only scans are index-only.
func write(ctx context.Context, conn *pgx.Conn, sz Sizes, progress func(string)) error {
	pw, err := auth.NewPasswords(auth.DefaultParams)
	if err != nil {
		return err
	}
	hash, err := pw.Hash(Password)
	if err != nil {
		return fmt.Errorf("seed: hash password: %w", err)
	}
	r := mrand.New(mrand.NewPCG(42, 1))
	now := time.Now().UTC()
	past := func() time.Time { // somewhere in the last 180 days, at least a minute ago
		return now.Add(-time.Minute - time.Duration(r.Int64N(int64(180*24*time.Hour))))
	}

	orgs := make([][]any, sz.Organizations)
	orgIDs := make([]uuid.UUID, sz.Organizations)
	for i := range orgs {
		at := past()
		orgIDs[i] = v7(at)
		orgs[i] = []any{orgIDs[i], fmt.Sprintf("bench-org-%03d", i), at, at}
	}

	users := make([][]any, sz.Users)
	userIDs := make([]uuid.UUID, sz.Users)
	for i := range users {
		at := past()
		userIDs[i] = v7(at)
		users[i] = []any{userIDs[i], fmt.Sprintf("bench-user-%04d@loadgen.invalid", i), fmt.Sprintf("Bench User %d", i), hash, at, at}
	}

	// Each user is in one to three organizations: first i mod N, so that every organization has
	// members, then up to two more at random. The first member of each organization owns it;
	// one member in ten is an admin.
	var members [][]any
	orgMembers := make([][]uuid.UUID, sz.Organizations)
	for i, uid := range userIDs {
		n := 1 + r.IntN(3)
		seen := map[int]bool{}
		for o := i % sz.Organizations; len(seen) < min(n, sz.Organizations); o = r.IntN(sz.Organizations) {
			if seen[o] {
				continue
			}
			seen[o] = true
			role := "member"
			switch {
			case len(orgMembers[o]) == 0:
				role = "owner"
			case r.IntN(10) == 0:
				role = "admin"
			}
			orgMembers[o] = append(orgMembers[o], uid)
			members = append(members, []any{orgIDs[o], uid, role, now})
		}
	}

	statuses := []string{"planning", "active", "active", "active", "on_hold", "completed", "archived"}
	projects := make([][]any, sz.Projects)
	type proj struct {
		id, org uuid.UUID
		orgIdx  int
		at      time.Time
	}
	ps := make([]proj, sz.Projects)
	for i := range projects {
		o := i % sz.Organizations
		at := past()
		ps[i] = proj{v7(at), orgIDs[o], o, at}
		projects[i] = []any{ps[i].id, orgIDs[o], fmt.Sprintf("bench-project-%05d", i),
			fmt.Sprintf("Project %d of organization %d: a description long enough to look like one a person wrote, with a little detail.", i, o),
			statuses[r.IntN(len(statuses))], at, at}
	}

	taskStatuses := []string{"todo", "todo", "in_progress", "done", "done"}
	priorities := []string{"low", "medium", "medium", "high", "urgent"}
	tasks := make([][]any, sz.Tasks)
	for i := range tasks {
		p := ps[i%len(ps)]
		at := p.at.Add(time.Duration(r.Int64N(int64(max(now.Sub(p.at)-time.Second, time.Second)))))
		var assignee any
		if m := orgMembers[p.orgIdx]; len(m) > 0 && r.IntN(5) > 0 {
			assignee = m[r.IntN(len(m))]
		}
		var due any
		if r.IntN(3) > 0 {
			due = now.AddDate(0, 0, r.IntN(120)-60).Truncate(24 * time.Hour)
		}
		tasks[i] = []any{v7(at), p.id, p.org, fmt.Sprintf("Task %d", i), "Something to do for this project.",
			taskStatuses[r.IntN(len(taskStatuses))], priorities[r.IntN(len(priorities))], assignee, due, at, at}
	}

	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("seed: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	copies := []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"organizations", []string{"id", "name", "created_at", "updated_at"}, orgs},
		{"users", []string{"id", "email", "name", "password_hash", "created_at", "updated_at"}, users},
		{"memberships", []string{"organization_id", "user_id", "role", "created_at"}, members},
		{"projects", []string{"id", "organization_id", "name", "description", "status", "created_at", "updated_at"}, projects},
		{"tasks", []string{"id", "project_id", "organization_id", "title", "description", "status", "priority", "assignee_id", "due_date", "created_at", "updated_at"}, tasks},
	}
	for _, c := range copies {
		start := time.Now()
		// uuid.UUID reaches pgx as a driver.Valuer, which pgx only takes after trying (and
		// failing, with a formatted error each time) its binary plans: most of the seed's CPU.
		// pgtype.UUID is encoded directly.
		for _, row := range c.rows {
			for j, v := range row {
				if u, ok := v.(uuid.UUID); ok {
					row[j] = pgtype.UUID{Bytes: u, Valid: true}
				}
			}
		}
		n, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows))
		if err != nil {
			return fmt.Errorf("seed: copy %s: %w", c.table, err)
		}
		progress(fmt.Sprintf("copied %7d %s in %s", n, c.table, time.Since(start).Round(time.Millisecond)))
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("seed: commit: %w", err)
	}
	return vacuum(ctx, conn, progress)
}

// vacuum VACUUMs and ANALYZEs the seeded tables, the state autovacuum brings a table to soon
// after a bulk load. ANALYZE gives the planner the real row counts; VACUUM sets the visibility
// map, without which every index-only scan (the report's counts over an organization's 1,000
// tasks) still visits one heap page per row. A page only becomes all-visible once no snapshot
// anywhere, the replica's included (hot_standby_feedback), can predate the load, so it retries
// until the tables are all-visible, for at most 30 s.
func vacuum(ctx context.Context, conn *pgx.Conn, progress func(string)) error {
	start := time.Now()
	deadline := start.Add(30 * time.Second)
	for {
		if _, err := conn.Exec(ctx, `VACUUM (ANALYZE) organizations, users, memberships, projects, tasks`); err != nil {
			return fmt.Errorf("seed: vacuum: %w", err)
		}
		var visible bool
		if err := conn.QueryRow(ctx, `SELECT bool_and(relallvisible >= relpages) FROM pg_class
			WHERE relnamespace = 'public'::regnamespace AND relname IN ('projects', 'tasks')`).Scan(&visible); err != nil {
			return fmt.Errorf("seed: visibility map: %w", err)
		}
		if visible {
			progress(fmt.Sprintf("vacuumed and analyzed in %s", time.Since(start).Round(time.Millisecond)))
			return nil
		}
		if time.Now().After(deadline) {
			progress("warning: the tables are not all-visible after 30 s of VACUUM: index-only scans will visit the heap")
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// v7 returns a UUIDv7 (RFC 9562) whose timestamp is t: 48 bits of Unix milliseconds, the
// version, 74 random bits and the variant.
func v7(t time.Time) uuid.UUID {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], ms)
	copy(u[0:6], ts[2:8])
	_, _ = rand.Read(u[6:])
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return u
}
