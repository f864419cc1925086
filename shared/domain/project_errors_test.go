package domain_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	rt "scaleapi/shared/resource/resourcetest"
)

// TestErrorStatuses drives every error status of API.md's table that the projects routes
// answer (412 is in TestLifecycle), each as a client would hit it.
func TestErrorStatuses(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice, bob := app.User(t, "Alice"), app.User(t, "Bob")
	orgA, orgB := app.Org(t, alice), app.Org(t, bob)
	member := app.User(t, "Member")
	app.Join(t, orgA, member, auth.RoleMember)
	mine := app.Project(t, alice, orgA, "Mine")
	theirs := app.Project(t, bob, orgB, "Theirs")
	body := func(s string) string { return `{"organizationId":"` + orgA.String() + `",` + s + `}` }
	long := strings.Repeat("é", 201)

	cases := []struct {
		name   string
		as     rt.User
		req    rt.Request
		status int
		field  string // the field a 4xx must name, if any
	}{
		{"BadID", alice, rt.Request{Method: "GET", Path: "/projects/nope"}, 400, "id"},
		{"UnknownFilterField", alice, rt.Request{Method: "GET", Path: "/projects?filter=secret||$eq||1"}, 400, ""},
		{"UnknownOperator", alice, rt.Request{Method: "GET", Path: "/projects?filter=name||$like||x"}, 400, ""},
		{"UnknownJoin", alice, rt.Request{Method: "GET", Path: "/projects?join=members"}, 400, ""},
		{"UnknownJoinOnGetOne", alice, rt.Request{Method: "GET", Path: "/projects/" + mine.String() + "?join=members"}, 400, ""},
		{"MalformedJSON", alice, rt.Request{Method: "POST", Path: "/projects", Body: `{"name":`}, 400, ""},
		{"UnknownBodyField", alice, rt.Request{Method: "POST", Path: "/projects", Body: body(`"name":"x","version":9`)}, 400, "version"},
		{"WrongType", alice, rt.Request{Method: "PATCH", Path: "/projects/" + mine.String(), Body: `{"name":5}`}, 400, "name"},
		{"NoToken", rt.User{}, rt.Request{Method: "GET", Path: "/projects"}, 401, ""},
		{"BadToken", rt.User{Token: "not.a.jwt"}, rt.Request{Method: "GET", Path: "/projects/" + mine.String()}, 401, ""},
		{"NoTokenPost", rt.User{}, rt.Request{Method: "POST", Path: "/projects", Body: body(`"name":"x"`)}, 401, ""},
		{"MemberDeletes", member, rt.Request{Method: "DELETE", Path: "/projects/" + mine.String()}, 403, ""},
		{"MemberRecovers", member, rt.Request{Method: "PATCH", Path: "/projects/" + mine.String() + "/recover"}, 403, ""},
		{"UnknownID", alice, rt.Request{Method: "GET", Path: "/projects/" + uuid.NewString()}, 404, ""},
		{"TooLarge", alice, rt.Request{Method: "POST", Path: "/projects", Body: body(`"name":"x","description":"` + strings.Repeat("a", api.MaxBody) + `"`)}, 413, ""},
		{"NotJSON", alice, rt.Request{Method: "POST", Path: "/projects", Body: body(`"name":"x"`), Header: rt.Header("Content-Type", "text/plain")}, 415, ""},
		{"NameMissing", alice, rt.Request{Method: "POST", Path: "/projects", Body: body(`"name":"   "`)}, 422, "name"},
		{"NameTooLong", alice, rt.Request{Method: "POST", Path: "/projects", Body: body(`"name":"` + long + `"`)}, 422, "name"},
		{"DescriptionTooLong", alice, rt.Request{Method: "POST", Path: "/projects", Body: body(`"name":"x","description":"` + strings.Repeat("a", 5001) + `"`)}, 422, "description"},
		{"BadStatus", alice, rt.Request{Method: "POST", Path: "/projects", Body: body(`"name":"x","status":"done"`)}, 422, "status"},
		{"OrganizationMissing", alice, rt.Request{Method: "POST", Path: "/projects", Body: `{"name":"x"}`}, 422, "organizationId"},
		{"OrganizationMalformed", alice, rt.Request{Method: "POST", Path: "/projects", Body: `{"organizationId":"42","name":"x"}`}, 422, "organizationId"},
		{"PatchNullName", alice, rt.Request{Method: "PATCH", Path: "/projects/" + mine.String(), Body: `{"name":null}`}, 422, "name"},
		{"PatchBadStatus", alice, rt.Request{Method: "PATCH", Path: "/projects/" + mine.String(), Body: `{"status":"ON_HOLD"}`}, 422, "status"},
		{"PutWithoutName", alice, rt.Request{Method: "PUT", Path: "/projects/" + mine.String(), Body: `{"status":"active"}`}, 422, "name"},
		{"BulkEmpty", alice, rt.Request{Method: "POST", Path: "/projects/bulk", Body: `{"bulk":[]}`}, 422, "bulk"},
		{"BulkTooMany", alice, rt.Request{Method: "POST", Path: "/projects/bulk", Body: `{"bulk":[` + strings.Repeat(body(`"name":"x"`)+",", 100) + body(`"name":"x"`) + `]}`}, 422, "bulk"},
		{"BulkItemInvalid", alice, rt.Request{Method: "POST", Path: "/projects/bulk", Body: `{"bulk":[` + body(`"name":"a"`) + "," + body(`"name":"b"`) + "," + body(`"name":"c"`) + "," + body(`"name":""`) + `]}`}, 422, "bulk[3].name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app.Do(tc.as, tc.req).Problem(t, tc.status, tc.field, tc.req.Method+" "+tc.req.Path)
		})
	}

	t.Run("OtherTenantsIDIs404OnEveryRoute", func(t *testing.T) {
		p := "/projects/" + theirs.String()
		for _, req := range []rt.Request{
			{Method: "GET", Path: p},
			{Method: "GET", Path: p + "?join=tasks"},
			{Method: "GET", Path: p + "?cache=0"},
			{Method: "PATCH", Path: p, Body: `{"name":"mine now"}`},
			{Method: "PUT", Path: p, Body: `{"name":"mine now"}`},
			{Method: "DELETE", Path: p},
			{Method: "PATCH", Path: p + "/recover"},
			{Method: "GET", Path: p + "/tasks"},
			{Method: "POST", Path: "/projects", Body: `{"organizationId":"` + orgB.String() + `","name":"x"}`},
			{Method: "POST", Path: "/projects/bulk", Body: `{"bulk":[` + body(`"name":"x"`) + `,{"organizationId":"` + orgB.String() + `","name":"x"}]}`},
			{Method: "POST", Path: "/tasks", Body: `{"projectId":"` + theirs.String() + `","title":"x"}`},
		} {
			w := app.Do(alice, req).Expect(t, http.StatusNotFound, req.Method+" "+req.Path)
			if strings.Contains(w.Body.String(), "Theirs") {
				t.Fatalf("%s %s leaks: %s", req.Method, req.Path, w.Body)
			}
		}
		// Bob's project is untouched, and the bulk request created nothing in Alice's
		// organization either (all or nothing).
		var got projectJSON
		app.Do(bob, rt.Request{Method: "GET", Path: p}).Expect(t, http.StatusOK, "owner reads").JSON(t, &got)
		if got.Name != "Theirs" || got.Version != 1 {
			t.Fatalf("other tenant's project changed: %+v", got)
		}
		var page struct{ Total int }
		app.Do(alice, rt.Request{Method: "GET", Path: "/projects"}).Expect(t, http.StatusOK, "list").JSON(t, &page)
		if page.Total != 1 {
			t.Fatalf("alice has %d projects, want 1", page.Total)
		}
	})
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	g := rt.NewGate("INSERT INTO projects", false) // holds the create in flight
	app := rt.NewApp(t, rt.WrapDB(g.Wrap))
	alice := app.User(t, "Alice")
	org := app.Org(t, alice)
	body := `{"organizationId":"` + org.String() + `","name":"Once"}`
	key := rt.Header("Idempotency-Key", uuid.NewString())

	g.Arm()
	first := make(chan *rt.Response)
	go func() { first <- app.Do(alice, rt.Request{Method: "POST", Path: "/projects", Body: body, Header: key}) }()
	<-g.Entered
	t.Run("InFlightIs409", func(t *testing.T) {
		app.Do(alice, rt.Request{Method: "POST", Path: "/projects", Body: body, Header: key}).Expect(t, http.StatusConflict, "duplicate in flight")
	})
	close(g.Release)
	created := (<-first).Expect(t, http.StatusCreated, "first")

	t.Run("ReplayGetsTheFirstAnswer", func(t *testing.T) {
		again := app.Do(alice, rt.Request{Method: "POST", Path: "/projects", Body: body, Header: key}).Expect(t, http.StatusCreated, "replay")
		if again.Body.String() != created.Body.String() || again.Header().Get("Location") != created.Header().Get("Location") ||
			again.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay %v %s, first %v %s", again.Header(), again.Body, created.Header(), created.Body)
		}
		var page struct{ Total int }
		app.Do(alice, rt.Request{Method: "GET", Path: "/projects?cache=0"}).Expect(t, http.StatusOK, "list").JSON(t, &page)
		if page.Total != 1 {
			t.Fatalf("%d projects after a replay, want 1", page.Total)
		}
	})
	t.Run("OtherBodyIs422", func(t *testing.T) {
		app.Do(alice, rt.Request{Method: "POST", Path: "/projects", Body: strings.Replace(body, "Once", "Twice", 1), Header: key}).
			Expect(t, http.StatusUnprocessableEntity, "same key, other body")
	})
}
