package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/auth"
)

// The demo login -seed prints. The password is public by design: the data is for trying the API
// on a developer's machine, and the seed refuses nothing, so never point -seed at a database
// that matters.
const (
	demoEmail    = "demo@example.com"
	demoPassword = "demo-password"
)

// demoLogin is what -seed reports.
type demoLogin struct {
	Email, Password string
	// Seeded is false when the demo data was already there.
	Seeded bool
	// Organizations, Users, Projects and Tasks count what this run inserted.
	Organizations, Users, Projects, Tasks int
}

// Describe returns the banner lines for the login, with a curl command against url.
func (l *demoLogin) Describe(url string) []string {
	state := "already there"
	if l.Seeded {
		state = fmt.Sprintf("loaded now: %d organizations, %d users, %d projects, %d tasks",
			l.Organizations, l.Users, l.Projects, l.Tasks)
	}
	return []string{
		"Demo data: " + state,
		fmt.Sprintf("Log in as %s / %s (every demo user has this password):", l.Email, l.Password),
		fmt.Sprintf(`  curl -s -X POST %s/auth/login -H 'Content-Type: application/json' -d '{"email":"%s","password":"%s"}'`,
			url, l.Email, l.Password),
	}
}

// The demo data: three organizations, three users with overlapping memberships (so tenancy and
// roles can be tried: demo is an owner in two organizations and a plain member in the third), a
// few projects in every status, and tasks with every status and priority, some assigned, some
// overdue (for the report).
type (
	demoUser struct{ email, name string }
	demoOrg  struct {
		name     string
		members  map[string]string // email -> role
		projects []demoProject
	}
	demoProject struct {
		name, description, status string
		tasks                     []demoTask
	}
	demoTask struct {
		title, status, priority string
		assignee                string // email; "" for none
		dueInDays               int    // 0 for no due date; negative is overdue
	}
)

var demoUsers = []demoUser{
	{demoEmail, "Demo User"},
	{"alice@example.com", "Alice Martin"},
	{"bob@example.com", "Bob Chen"},
}

var demoOrgs = []demoOrg{
	{
		name:    "Acme Corp",
		members: map[string]string{demoEmail: "owner", "alice@example.com": "admin", "bob@example.com": "member"},
		projects: []demoProject{
			{"Website relaunch", "New marketing site and blog.", "active", []demoTask{
				{"Design the landing page", "done", "high", "alice@example.com", -10},
				{"Write launch copy", "in_progress", "medium", "bob@example.com", 3},
				{"Set up analytics", "todo", "low", "", 0},
				{"Fix broken links on the old site", "todo", "urgent", demoEmail, -2},
			}},
			{"Mobile app", "", "planning", []demoTask{
				{"Pick a cross-platform framework", "in_progress", "high", demoEmail, 7},
				{"Sketch the onboarding flow", "todo", "medium", "alice@example.com", 14},
			}},
			{"Billing migration", "Move invoicing to the new provider.", "on_hold", []demoTask{
				{"Export historical invoices", "todo", "high", "bob@example.com", -5},
				{"Compare provider fees", "done", "low", "", 0},
			}},
		},
	},
	{
		name:    "Globex",
		members: map[string]string{demoEmail: "owner", "bob@example.com": "member"},
		projects: []demoProject{
			{"Data warehouse", "Nightly loads from the operational databases.", "active", []demoTask{
				{"Model the sales schema", "in_progress", "high", demoEmail, 5},
				{"Schedule the nightly load", "todo", "medium", "bob@example.com", 10},
				{"Backfill 2023", "todo", "low", "", -1},
			}},
			{"Q3 audit", "", "completed", []demoTask{
				{"Collect access logs", "done", "medium", "bob@example.com", -30},
			}},
		},
	},
	{
		name:    "Initech",
		members: map[string]string{"alice@example.com": "owner", demoEmail: "member"},
		projects: []demoProject{
			{"TPS reports", "Cover sheets for every report.", "archived", []demoTask{
				{"Update the cover sheet template", "done", "urgent", "alice@example.com", -60},
			}},
			{"Office move", "", "planning", []demoTask{
				{"Book the movers", "todo", "high", "alice@example.com", 20},
				{"Label the red stapler", "todo", "low", demoEmail, 0},
			}},
		},
	},
}

// seed loads the demo data into the database at databaseURL, once: when the demo user exists it
// changes nothing and reports the login. Everything goes in one transaction, so an interrupted
// seed leaves nothing half-done and two runs seeding at once insert it once (the second one's
// user insert waits on the first one's unique index entry, then conflicts).
//
// It writes the rows with SQL rather than through the API, so it needs neither a running gateway
// nor tokens, and can run before the functions start. The passwords are hashed the way the auth
// function hashes them, so logging in goes through the real path.
func seed(ctx context.Context, databaseURL string) (*demoLogin, error) {
	login := &demoLogin{Email: demoEmail, Password: demoPassword}
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, errors.New("seed: DATABASE_URL is not a valid PostgreSQL URL") // it may hold a password
	}
	// No prepared statements: an external DATABASE_URL may be a transaction-mode pooler
	// (PgBouncer), which does not keep them between transactions.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeExec
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		return insertDemo(ctx, tx, login)
	})
	if errors.Is(err, errAlreadySeeded) {
		return &demoLogin{Email: demoEmail, Password: demoPassword}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	login.Seeded = true
	return login, nil
}

// errAlreadySeeded rolls back the seed's transaction when the demo user exists.
var errAlreadySeeded = errors.New("already seeded")

func insertDemo(ctx context.Context, tx pgx.Tx, counts *demoLogin) error {
	passwords, err := auth.NewPasswords(auth.DefaultParams)
	if err != nil {
		return err
	}
	users := map[string]uuid.UUID{}
	for _, u := range demoUsers {
		hash, err := passwords.Hash(demoPassword)
		if err != nil {
			return err
		}
		id := uuid.Must(uuid.NewV7())
		tag, err := tx.Exec(ctx,
			`INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING`,
			id, u.email, u.name, hash)
		if err != nil {
			return fmt.Errorf("user %s: %w", u.email, err)
		}
		if tag.RowsAffected() == 0 {
			if u.email == demoEmail {
				return errAlreadySeeded
			}
			// Someone registered this address through the API: use that account.
			if err := tx.QueryRow(ctx, `SELECT id FROM users WHERE email = $1`, u.email).Scan(&id); err != nil {
				return fmt.Errorf("user %s: %w", u.email, err)
			}
		} else {
			counts.Users++
		}
		users[u.email] = id
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for _, o := range demoOrgs {
		orgID := uuid.Must(uuid.NewV7())
		if _, err := tx.Exec(ctx, `INSERT INTO organizations (id, name) VALUES ($1, $2)`, orgID, o.name); err != nil {
			return fmt.Errorf("organization %s: %w", o.name, err)
		}
		counts.Organizations++
		for email, role := range o.members {
			if _, err := tx.Exec(ctx, `INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, $3)`,
				orgID, users[email], role); err != nil {
				return fmt.Errorf("membership %s in %s: %w", email, o.name, err)
			}
		}
		for _, p := range o.projects {
			projectID := uuid.Must(uuid.NewV7())
			var description *string
			if p.description != "" {
				description = &p.description
			}
			if _, err := tx.Exec(ctx,
				`INSERT INTO projects (id, organization_id, name, description, status) VALUES ($1, $2, $3, $4, $5)`,
				projectID, orgID, p.name, description, p.status); err != nil {
				return fmt.Errorf("project %s: %w", p.name, err)
			}
			counts.Projects++
			for _, t := range p.tasks {
				var assignee *uuid.UUID
				if t.assignee != "" {
					id := users[t.assignee]
					assignee = &id
				}
				var due *time.Time
				if t.dueInDays != 0 {
					d := today.AddDate(0, 0, t.dueInDays)
					due = &d
				}
				if _, err := tx.Exec(ctx,
					`INSERT INTO tasks (id, project_id, organization_id, title, status, priority, assignee_id, due_date)
					 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
					uuid.Must(uuid.NewV7()), projectID, orgID, t.title, t.status, t.priority, assignee, due); err != nil {
					return fmt.Errorf("task %s: %w", t.title, err)
				}
				counts.Tasks++
			}
		}
	}
	return nil
}
