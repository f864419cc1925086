package function_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"scaleapi/functions/internal/function"

	"github.com/google/uuid"

	"scaleapi/shared/devservices"
	"scaleapi/shared/lambdahttp/lambdatest"
)

// TestReports builds the reports function as main does (writer through PgBouncer, reader on the
// replica) and asks for a summary through an API Gateway event.
func TestReports(t *testing.T) {
	ctx := t.Context()
	database, d, h := build(t, function.Reports)
	h = d.Handler(h)

	org, other, user := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO organizations (id, name) VALUES ($1, 'A'), ($2, 'B')`, []any{org, other}},
		{`INSERT INTO users (id, email, name, password_hash) VALUES ($1, 'r@example.com', 'R', 'x')`, []any{user}},
		{`INSERT INTO memberships (organization_id, user_id, role) VALUES ($1, $2, 'member')`, []any{org, user}},
		{`INSERT INTO projects (id, organization_id, name, status) VALUES ($1, $2, 'p', 'active')`, []any{uuid.Must(uuid.NewV7()), org}},
	} {
		if _, err := d.Primary.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	if err := devservices.WaitReplay(ctx, database.PrimaryURL, database.ReplicaURL); err != nil {
		t.Fatal(err)
	}
	sid, _, err := d.Sessions.Create(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	token, _, err := d.Tokens.Issue(user, sid)
	if err != nil {
		t.Fatal(err)
	}
	get := func(id uuid.UUID) lambdatest.Response {
		return lambdatest.Invoke(t, h, lambdatest.Request{Method: "GET", Path: "/reports/organizations/" + id.String() + "/summary",
			Resource: "/reports/organizations/{id}/summary", Headers: map[string]string{"Authorization": "Bearer " + token}})
	}
	r := get(org)
	var s struct {
		ProjectsByStatus map[string]int `json:"projectsByStatus"`
	}
	if r.Status != http.StatusOK || json.Unmarshal([]byte(r.Body), &s) != nil || s.ProjectsByStatus["active"] != 1 {
		t.Fatalf("%d %s", r.Status, r.Body)
	}
	if r := get(other); r.Status != http.StatusNotFound {
		t.Fatalf("another tenant's organization: %d %s", r.Status, r.Body)
	}
}
