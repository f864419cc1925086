package seed

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"scaleapi/shared/auth"
	"scaleapi/shared/devservices/devtest"
)

func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

func TestSeedWritesTheDataSetOnceAndLoadsIt(t *testing.T) {
	ctx := context.Background()
	db := devtest.NewDatabase(t)
	sz := Sizes{Organizations: 5, Users: 20, Projects: 50, Tasks: 400}

	d, err := Seed(ctx, db.PrimaryURL, sz, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Orgs) != 5 || len(d.Users) != 20 || d.Projects() != 50 || d.Tasks != 400 {
		t.Fatalf("seeded %d orgs, %d users, %d projects, %d tasks", len(d.Orgs), len(d.Users), d.Projects(), d.Tasks)
	}
	for _, u := range d.Users {
		if len(u.Orgs) < 1 || len(u.Orgs) > 3 {
			t.Errorf("user %s is in %d organizations, want 1-3", u.Email, len(u.Orgs))
		}
	}

	conn, err := pgx.Connect(ctx, db.PrimaryURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var ownerless int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM organizations o WHERE NOT EXISTS
		(SELECT 1 FROM memberships m WHERE m.organization_id = o.id AND m.role = 'owner')`).Scan(&ownerless); err != nil {
		t.Fatal(err)
	}
	if ownerless != 0 {
		t.Errorf("%d organizations without an owner", ownerless)
	}
	// Ids are UUIDv7 carrying the row's created_at, as the API's own ids do.
	var mismatched int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE
		substr(replace(id::text, '-', ''), 13, 1) <> '7' OR
		('x' || substr(replace(id::text, '-', ''), 1, 12))::bit(48)::bigint <> floor(extract(epoch FROM created_at) * 1000)::bigint`).Scan(&mismatched); err != nil {
		t.Fatal(err)
	}
	if mismatched != 0 {
		t.Errorf("%d task ids are not v7 ids of their created_at", mismatched)
	}
	var hash string
	if err := conn.QueryRow(ctx, `SELECT password_hash FROM users WHERE email = $1`, d.Users[0].Email).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	pw, err := auth.NewPasswords(auth.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := pw.Verify(hash, Password); err != nil || !ok {
		t.Errorf("the stored hash does not verify Password: %v, %v", ok, err)
	}

	// A second Seed finds the data set and writes nothing.
	again, err := Seed(ctx, db.PrimaryURL, sz, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Users) != 20 || again.Projects() != 50 || again.Orgs[0].Projects[0] != d.Orgs[0].Projects[0] {
		t.Errorf("second Seed: %d users, %d projects, hottest project %s (first: %s)", len(again.Users), again.Projects(), again.Orgs[0].Projects[0], d.Orgs[0].Projects[0])
	}
}

func TestLoadFailsWithoutADataSet(t *testing.T) {
	db := devtest.NewDatabase(t)
	if _, err := Load(context.Background(), db.PrimaryURL); err == nil {
		t.Fatal("Load of an empty database succeeded")
	}
}

func TestV7CarriesTheTime(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 891_000_000, time.UTC)
	u := v7(at)
	if u.Version() != 7 || u.Variant().String() != "RFC4122" {
		t.Fatalf("v7(%s) = %s: version %d, variant %s", at, u, u.Version(), u.Variant())
	}
	sec, nsec := u.Time().UnixTime()
	if got := time.Unix(sec, nsec).UTC(); !got.Equal(at) {
		t.Errorf("v7(%s).Time() = %s", at, got)
	}
}
