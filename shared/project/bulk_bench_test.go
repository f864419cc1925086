package project_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/project"
	rt "scaleapi/shared/resource/resourcetest"
)

// BenchmarkBulkInsert weighs the two ways of writing a bulk create of 100 projects through
// PgBouncer: PG.Insert's one INSERT … SELECT FROM unnest(…) RETURNING (what the service runs,
// with the membership guard and the timestamps it returns), and COPY (pgx's CopyFrom), which
// can do neither, so it is measured doing less.
func BenchmarkBulkInsert(b *testing.B) {
	app := rt.NewApp(b)
	alice := app.User(b, "Alice")
	org := app.Org(b, alice)
	store := project.NewPG(app.DB)
	batch := func() []project.Project {
		ps := make([]project.Project, 100)
		for i := range ps {
			ps[i] = project.Project{ID: uuid.Must(uuid.NewV7()), OrganizationID: org, Name: fmt.Sprintf("p%d", i), Status: project.StatusPlanning}
		}
		return ps
	}
	b.Run("Unnest", func(b *testing.B) {
		for b.Loop() {
			if err := store.Insert(context.Background(), alice.ID, batch()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("CopyFrom", func(b *testing.B) {
		for b.Loop() {
			ps := batch()
			rows := make([][]any, len(ps))
			for i, p := range ps {
				rows[i] = []any{p.ID, p.OrganizationID, p.Name, p.Description, string(p.Status)}
			}
			n, err := app.DB.CopyFrom(context.Background(), pgx.Identifier{"projects"},
				[]string{"id", "organization_id", "name", "description", "status"}, pgx.CopyFromRows(rows))
			if err != nil || n != 100 {
				b.Fatal(n, err)
			}
		}
	})
}
