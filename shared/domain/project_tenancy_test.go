package domain_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"scaleapi/shared/auth"
	rt "scaleapi/shared/resource/resourcetest"
)

// TestListTenantIsolation lists projects as Alice, a member of organizations A and C, with every
// trick a client might try to reach organization B's rows: B's rows must never appear, whatever
// the filter, and every row of A and C that the filter selects must.
func TestListTenantIsolation(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice, bob, carol := app.User(t, "Alice"), app.User(t, "Bob"), app.User(t, "Carol")
	orgA, orgB, orgC := app.Org(t, alice), app.Org(t, bob), app.Org(t, carol)
	app.Join(t, orgC, alice, auth.RoleMember)
	a := app.Project(t, alice, orgA, "Shared name")
	b := app.Project(t, bob, orgB, "Shared name")
	c := app.Project(t, carol, orgC, "Carols")
	app.Task(t, alice, a, "a task")
	bTask := app.Task(t, bob, b, "b task")
	B := orgB.String()

	cases := []struct {
		name  string
		query string
		want  []uuid.UUID
	}{
		{"NoFilter", "", []uuid.UUID{a, c}},
		{"FilterOnOtherOrg", "filter=organizationId||$eq||" + B, nil},
		{"OrOnOtherOrg", "or=organizationId||$eq||" + B, nil},
		{"FilterOrOtherOrg", "filter=name||$eq||Carols&or=organizationId||$eq||" + B, []uuid.UUID{c}},
		{"OrAnything", "or=id||$notnull&or=organizationId||$eq||" + B, []uuid.UUID{a, c}},
		{"OrEveryName", "or=name||$eq||Shared name&or=name||$ne||Shared name", []uuid.UUID{a, c}},
		{"IDOfOtherOrg", "filter=id||$eq||" + b.String(), nil},
		{"InBothOrgs", "filter=organizationId||$in||" + B + "," + orgA.String(), []uuid.UUID{a}},
		{"SearchOr", `s={"$or":[{"organizationId":"` + B + `"},{"id":{"$notnull":true}}]}`, []uuid.UUID{a, c}},
		{"SearchOrNested", `s={"$and":[{"$or":[{"organizationId":{"$eq":"` + B + `"}},{"name":{"$contL":"shared"}}]}]}`, []uuid.UUID{a}},
		{"SearchOrOnField", `s={"organizationId":{"$or":{"$eq":"` + B + `","$notnull":true}}}`, []uuid.UUID{a, c}},
		{"SearchOverridesFilter", `filter=id||$eq||` + a.String() + `&s={"name":{"$ne":"nothing"}}`, []uuid.UUID{a, c}},
		{"JoinTasks", "join=tasks", []uuid.UUID{a, c}},
		{"JoinOrganization", "join=organization&sort=name,DESC", []uuid.UUID{a, c}},
		{"Cursor", "cursor=&limit=1", []uuid.UUID{a}},
		{"NoCache", "cache=0&or=organizationId||$eq||" + B, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			page := app.List(t, alice, "/projects?"+escape(tc.query))
			var got []uuid.UUID
			for _, it := range page.Data {
				if it.OrganizationID == orgB || it.ID == b {
					t.Fatalf("organization B's project in Alice's list: %+v", it)
				}
				for _, task := range it.Tasks {
					if task.ID == bTask {
						t.Fatalf("organization B's task joined into Alice's list")
					}
				}
				got = append(got, it.ID)
			}
			slices.SortFunc(got, func(x, y uuid.UUID) int { return strings.Compare(x.String(), y.String()) })
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("BobSeesOnlyB", func(t *testing.T) {
		page := app.List(t, bob, "/projects?join=tasks")
		if len(page.Data) != 1 || page.Data[0].ID != b || len(page.Data[0].Tasks) != 1 || page.Data[0].Tasks[0].ID != bTask {
			t.Fatalf("bob's list %+v", page)
		}
	})
	t.Run("NoOrganizationNoRows", func(t *testing.T) {
		loner := app.User(t, "Loner")
		if page := app.List(t, loner, "/projects?or=id||$notnull"); len(page.Data) != 0 || page.Total != 0 {
			t.Fatalf("a user without organizations sees %+v", page)
		}
	})
	t.Run("RemovedMemberLosesAccess", func(t *testing.T) {
		// Leaving C (the organizations service deletes the membership and invalidates the
		// cached memberships) takes C's rows out of Alice's lists and reads at once.
		if err := app.Orgs().RemoveMember(t.Context(), alice.ID, orgC, alice.ID); err != nil {
			t.Fatal(err)
		}
		if page := app.List(t, alice, "/projects"); len(page.Data) != 1 || page.Data[0].ID != a {
			t.Fatalf("after leaving C: %+v", page)
		}
		app.Do(alice, rt.Request{Method: "GET", Path: "/projects/" + c.String()}).Expect(t, http.StatusNotFound, "C's project after leaving C")
	})
}

// escape percent-encodes the values of a raw query the way a client library would.
func escape(raw string) string {
	if raw == "" {
		return ""
	}
	var parts []string
	for kv := range strings.SplitSeq(raw, "&") {
		k, v, _ := strings.Cut(kv, "=")
		parts = append(parts, k+"="+url.QueryEscape(v))
	}
	return strings.Join(parts, "&")
}

// TestPlatformRowsAreLeaves: a joined user or organization is shown, never followed; the
// assignee's own tasks would be every organization's.
func TestPlatformRowsAreLeaves(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice := app.User(t, "Alice")
	org := app.Org(t, alice)
	app.Task(t, alice, app.Project(t, alice, org, "Apollo"), "launch")
	for _, q := range []string{"join=assignee&join=assignee.tasks", "join=organization&join=organization.projects",
		"select=*,assignee(*,tasks(*))"} {
		app.Do(alice, rt.Request{Method: "GET", Path: "/tasks?" + q}).Problem(t, http.StatusBadRequest, "", q)
	}
}

// TestDeletedOrganizationIsNobodys: once an organization is deleted its rows are 404 for every
// route, writes included (the write's membership guard reads the organization too).
func TestDeletedOrganizationIsNobodys(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice := app.User(t, "Alice")
	org := app.Org(t, alice)
	p := "/projects/" + app.Project(t, alice, org, "Apollo").String()
	if err := app.Orgs().Delete(t.Context(), alice.ID, org); err != nil {
		t.Fatal(err)
	}
	for _, req := range []rt.Request{
		{Method: "GET", Path: p}, {Method: "PATCH", Path: p, Body: `{"name":"x"}`}, {Method: "PUT", Path: p, Body: `{"name":"x"}`},
		{Method: "DELETE", Path: p}, {Method: "PATCH", Path: p + "/recover"},
		{Method: "POST", Path: "/projects", Body: `{"organizationId":"` + org.String() + `","name":"x"}`},
	} {
		app.Do(alice, req).Expect(t, http.StatusNotFound, req.Method+" "+req.Path)
	}
}
