package domain_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"scaleapi/shared/auth"
	rt "scaleapi/shared/resource/resourcetest"
)

// taskJSON is a task as a client decodes it.
type taskJSON struct {
	ID             uuid.UUID  `json:"id"`
	ProjectID      uuid.UUID  `json:"projectId"`
	OrganizationID uuid.UUID  `json:"organizationId"`
	Title          string     `json:"title"`
	Description    *string    `json:"description"`
	Status         string     `json:"status"`
	Priority       string     `json:"priority"`
	AssigneeID     *uuid.UUID `json:"assigneeId"`
	DueDate        *string    `json:"dueDate"`
	Version        int        `json:"version"`
}

func TestTaskLifecycle(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	owner, dev := app.User(t, "Owner"), app.User(t, "Dev")
	org := app.Org(t, owner)
	app.Join(t, org, dev, auth.RoleMember)
	p := app.Project(t, owner, org, "Apollo")

	var task taskJSON
	created := app.Do(dev, rt.Request{Method: "POST", Path: "/tasks", Body: `{"projectId":"` + p.String() +
		`","title":"Launch","description":"go","priority":"high","assigneeId":"` + dev.ID.String() + `","dueDate":"2030-07-16"}`}).
		Expect(t, http.StatusCreated, "create")
	created.JSON(t, &task)
	if task.ProjectID != p || task.OrganizationID != org || task.Status != "todo" || task.Priority != "high" ||
		*task.AssigneeID != dev.ID || *task.DueDate != "2030-07-16" || task.Version != 1 {
		t.Fatalf("created %+v", task)
	}
	path := "/tasks/" + task.ID.String()
	if created.Header().Get("Location") != path || created.Header().Get("ETag") != `"1"` {
		t.Fatalf("headers %v", created.Header())
	}
	got := app.Do(owner, rt.Request{Method: "GET", Path: path}).Expect(t, http.StatusOK, "get")
	if got.Body.String() != created.Body.String() {
		t.Fatalf("GET %s, created %s", got.Body, created.Body)
	}
	var page struct{ Data []json.RawMessage }
	app.Do(owner, rt.Request{Method: "GET", Path: "/projects/" + p.String() + "/tasks"}).Expect(t, http.StatusOK, "list").JSON(t, &page)
	if len(page.Data) != 1 || string(page.Data[0]) != got.Body.String() {
		t.Fatalf("list item %s differs from GET %s", page.Data, got.Body)
	}
	app.Do(owner, rt.Request{Method: "GET", Path: path, Header: rt.Header("If-None-Match", `"1"`)}).Expect(t, http.StatusNotModified, "304")

	t.Run("PatchNullVersusAbsent", func(t *testing.T) {
		var u taskJSON
		app.Do(dev, rt.Request{Method: "PATCH", Path: path, Body: `{"assigneeId":null,"status":"in_progress"}`, Header: rt.Header("If-Match", `"1"`)}).
			Expect(t, http.StatusOK, "patch").JSON(t, &u)
		if u.AssigneeID != nil || u.Status != "in_progress" || u.DueDate == nil || u.Description == nil || u.Priority != "high" || u.Version != 2 {
			t.Fatalf("patched %+v", u)
		}
		app.Do(dev, rt.Request{Method: "PATCH", Path: path, Body: `{"dueDate":null,"description":null,"assigneeId":"` + owner.ID.String() + `"}`}).
			Expect(t, http.StatusOK, "patch").JSON(t, &u)
		if u.DueDate != nil || u.Description != nil || *u.AssigneeID != owner.ID || u.Status != "in_progress" || u.Version != 3 {
			t.Fatalf("patched %+v", u)
		}
		app.Do(dev, rt.Request{Method: "PATCH", Path: path, Body: `{"title":"x"}`, Header: rt.Header("If-Match", `"2"`)}).
			Expect(t, http.StatusPreconditionFailed, "stale")
	})
	t.Run("PutReplacesEverything", func(t *testing.T) {
		var u taskJSON
		app.Do(dev, rt.Request{Method: "PUT", Path: path, Body: `{"title":"Land","dueDate":"2031-01-01"}`}).Expect(t, http.StatusOK, "put").JSON(t, &u)
		if u.Title != "Land" || u.Status != "todo" || u.Priority != "medium" || u.AssigneeID != nil || u.Description != nil ||
			*u.DueDate != "2031-01-01" || u.Version != 4 {
			t.Fatalf("replaced %+v", u)
		}
	})
	t.Run("DeleteAndRecover", func(t *testing.T) {
		app.Do(dev, rt.Request{Method: "DELETE", Path: path, Header: rt.Header("If-Match", `"3"`)}).Expect(t, http.StatusPreconditionFailed, "stale delete")
		app.Do(dev, rt.Request{Method: "DELETE", Path: path, Header: rt.Header("If-Match", `"4"`)}).Expect(t, http.StatusNoContent, "delete")
		app.Do(dev, rt.Request{Method: "GET", Path: path}).Expect(t, http.StatusNotFound, "deleted")
		var u taskJSON
		app.Do(dev, rt.Request{Method: "PATCH", Path: path + "/recover"}).Expect(t, http.StatusOK, "recover").JSON(t, &u)
		if u.Title != "Land" || u.Version != 6 {
			t.Fatalf("recovered %+v", u)
		}
		app.Do(dev, rt.Request{Method: "GET", Path: path}).Expect(t, http.StatusOK, "recovered")
	})
	t.Run("MoveToAnotherProject", func(t *testing.T) {
		gemini := app.Project(t, owner, org, "Gemini")
		app.List(t, dev, "/projects/"+gemini.String()+"/tasks") // cached, must be refreshed
		var u taskJSON
		app.Do(dev, rt.Request{Method: "PATCH", Path: path, Body: `{"projectId":"` + gemini.String() + `"}`}).Expect(t, http.StatusOK, "move").JSON(t, &u)
		if u.ProjectID != gemini || u.Title != "Land" {
			t.Fatalf("moved %+v", u)
		}
		if page := app.List(t, dev, "/projects/"+gemini.String()+"/tasks"); len(page.Data) != 1 || page.Data[0].ID != task.ID {
			t.Fatalf("the new project's tasks %+v", page.Data)
		}
		if page := app.List(t, dev, "/projects/"+p.String()+"/tasks"); len(page.Data) != 0 {
			t.Fatalf("the old project's tasks %+v", page.Data)
		}
		app.Do(dev, rt.Request{Method: "PUT", Path: path, Body: `{"projectId":"` + p.String() + `","title":"Land"}`}).Expect(t, http.StatusOK, "move back by PUT").JSON(t, &u)
		if u.ProjectID != p {
			t.Fatalf("moved back %+v", u)
		}
		stranger := app.User(t, "Stranger")
		elsewhere := app.Project(t, stranger, app.Org(t, stranger), "Elsewhere")
		app.Do(dev, rt.Request{Method: "PATCH", Path: path, Body: `{"projectId":"` + elsewhere.String() + `"}`}).
			Problem(t, http.StatusNotFound, "projectId", "move to another tenant's project")
		mine := app.Org(t, dev)
		app.Do(dev, rt.Request{Method: "PATCH", Path: path, Body: `{"projectId":"` + app.Project(t, dev, mine, "Mine").String() + `"}`}).
			Problem(t, http.StatusUnprocessableEntity, "projectId", "move to another organization")
		app.Do(dev, rt.Request{Method: "PATCH", Path: path, Body: `{"projectId":null}`}).
			Problem(t, http.StatusUnprocessableEntity, "projectId", "null project")
	})
	t.Run("JoinProjectAndAssignee", func(t *testing.T) {
		app.Do(dev, rt.Request{Method: "PATCH", Path: path, Body: `{"assigneeId":"` + dev.ID.String() + `"}`}).Expect(t, http.StatusOK, "assign")
		w := app.Do(dev, rt.Request{Method: "GET", Path: path + "?join=project||name&join=assignee"}).Expect(t, http.StatusOK, "join")
		for _, want := range []string{`"project":{"id":"` + p.String() + `","name":"Apollo"}`, `"assignee":{"id":"` + dev.ID.String() + `","name":"Dev","email":"dev-`} {
			if !strings.Contains(w.Body.String(), want) {
				t.Fatalf("joined task lacks %s: %s", want, w.Body)
			}
		}
		if strings.Contains(w.Body.String(), "password") || w.Header().Get("ETag") == "" {
			t.Fatalf("joined task: %v %s", w.Header(), w.Body)
		}
	})
}

func TestTaskErrorStatuses(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice, bob, outsider := app.User(t, "Alice"), app.User(t, "Bob"), app.User(t, "Outsider")
	orgA, orgB := app.Org(t, alice), app.Org(t, bob)
	mine, theirs := app.Project(t, alice, orgA, "Mine"), app.Project(t, bob, orgB, "Theirs")
	myTask, theirTask := app.Task(t, alice, mine, "mine"), app.Task(t, bob, theirs, "theirs")
	body := func(s string) string { return `{"projectId":"` + mine.String() + `",` + s + `}` }

	cases := []struct {
		name   string
		req    rt.Request
		status int
		field  string
	}{
		{"BadID", rt.Request{Method: "PATCH", Path: "/tasks/42", Body: `{}`}, 400, "id"},
		{"UnknownSort", rt.Request{Method: "GET", Path: "/tasks?sort=secret,ASC"}, 400, ""},
		{"MalformedDateFilter", rt.Request{Method: "GET", Path: "/tasks?filter=dueDate||$lt||tomorrow"}, 400, ""},
		{"UnknownBodyField", rt.Request{Method: "POST", Path: "/tasks", Body: body(`"title":"x","organizationId":"` + orgB.String() + `"`)}, 400, "organizationId"},
		{"ProjectMissing", rt.Request{Method: "POST", Path: "/tasks", Body: `{"title":"x"}`}, 422, "projectId"},
		{"TitleTooLong", rt.Request{Method: "POST", Path: "/tasks", Body: body(`"title":"` + strings.Repeat("x", 201) + `"`)}, 422, "title"},
		{"BadPriority", rt.Request{Method: "POST", Path: "/tasks", Body: body(`"title":"x","priority":"asap"`)}, 422, "priority"},
		{"BadStatus", rt.Request{Method: "PATCH", Path: "/tasks/" + myTask.String(), Body: `{"status":"doing"}`}, 422, "status"},
		{"NullPriority", rt.Request{Method: "PATCH", Path: "/tasks/" + myTask.String(), Body: `{"priority":null}`}, 422, "priority"},
		{"BadDate", rt.Request{Method: "POST", Path: "/tasks", Body: body(`"title":"x","dueDate":"2030-02-30"`)}, 422, "dueDate"},
		{"DateWithTime", rt.Request{Method: "PATCH", Path: "/tasks/" + myTask.String(), Body: `{"dueDate":"2030-02-01T00:00:00Z"}`}, 422, "dueDate"},
		{"AssigneeMalformed", rt.Request{Method: "POST", Path: "/tasks", Body: body(`"title":"x","assigneeId":"bob"`)}, 422, "assigneeId"},
		{"AssigneeNotAMember", rt.Request{Method: "POST", Path: "/tasks", Body: body(`"title":"x","assigneeId":"` + outsider.ID.String() + `"`)}, 422, "assigneeId"},
		{"AssigneeOfOtherTenant", rt.Request{Method: "PATCH", Path: "/tasks/" + myTask.String(), Body: `{"assigneeId":"` + bob.ID.String() + `"}`}, 422, "assigneeId"},
		{"BulkAssigneeNamed", rt.Request{Method: "POST", Path: "/tasks/bulk", Body: `{"bulk":[` + body(`"title":"a"`) + "," + body(`"title":"b","assigneeId":"`+outsider.ID.String()+`"`) + `]}`}, 422, "bulk[1].assigneeId"},
		{"BulkTitleNamed", rt.Request{Method: "POST", Path: "/tasks/bulk", Body: `{"bulk":[` + body(`"title":"a"`) + "," + body(`"title":"b"`) + "," + body(`"title":"c"`) + "," + body(`"title":""`) + `]}`}, 422, "bulk[3].title"},
		{"ProjectOfOtherTenant", rt.Request{Method: "POST", Path: "/tasks", Body: `{"projectId":"` + theirs.String() + `","title":"x"}`}, 404, "projectId"},
		{"BulkProjectOfOtherTenant", rt.Request{Method: "POST", Path: "/tasks/bulk", Body: `{"bulk":[` + body(`"title":"a"`) + `,{"projectId":"` + theirs.String() + `","title":"x"}]}`}, 404, "bulk[1].projectId"},
		{"UnknownProject", rt.Request{Method: "POST", Path: "/tasks", Body: `{"projectId":"` + uuid.NewString() + `","title":"x"}`}, 404, "projectId"},
		{"NotJSON", rt.Request{Method: "PUT", Path: "/tasks/" + myTask.String(), Body: `title=x`, Header: rt.Header("Content-Type", "application/x-www-form-urlencoded")}, 415, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			app.Do(alice, tc.req).Problem(t, tc.status, tc.field, tc.req.Method+" "+tc.req.Path)
		})
	}
	t.Run("OtherTenantsIDIs404OnEveryRoute", func(t *testing.T) {
		p := "/tasks/" + theirTask.String()
		for _, req := range []rt.Request{
			{Method: "GET", Path: p},
			{Method: "GET", Path: p + "?join=project"},
			{Method: "PATCH", Path: p, Body: `{"title":"mine now"}`},
			{Method: "PUT", Path: p, Body: `{"title":"mine now"}`},
			{Method: "DELETE", Path: p},
			{Method: "PATCH", Path: p + "/recover"},
			{Method: "GET", Path: "/projects/" + theirs.String() + "/tasks?or=projectId||$eq||" + mine.String()},
		} {
			app.Do(alice, req).Expect(t, http.StatusNotFound, req.Method+" "+req.Path)
		}
		var got taskJSON
		app.Do(bob, rt.Request{Method: "GET", Path: p}).Expect(t, http.StatusOK, "owner reads").JSON(t, &got)
		if got.Title != "theirs" || got.Version != 1 {
			t.Fatalf("other tenant's task changed: %+v", got)
		}
	})
	t.Run("NoToken", func(t *testing.T) {
		app.Do(rt.User{}, rt.Request{Method: "GET", Path: "/projects/" + mine.String() + "/tasks"}).Expect(t, http.StatusUnauthorized, "no token")
	})
}

// TestListTenantIsolation lists tasks, across the caller's organizations and within one project,
// with filters that try to reach another tenant's rows.
func TestTaskListTenantIsolation(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice, bob := app.User(t, "Alice"), app.User(t, "Bob")
	orgA, orgB := app.Org(t, alice), app.Org(t, bob)
	a1, a2, b := app.Project(t, alice, orgA, "A1"), app.Project(t, alice, orgA, "A2"), app.Project(t, bob, orgB, "B")
	t1, t2 := app.Task(t, alice, a1, "one"), app.Task(t, alice, a2, "two")
	tb := app.Task(t, bob, b, "one")
	B := orgB.String()

	cases := []struct {
		path string
		want []uuid.UUID
	}{
		{"/tasks", []uuid.UUID{t1, t2}},
		{"/tasks?or=organizationId||$eq||" + B, nil},
		{"/tasks?filter=title||$eq||one", []uuid.UUID{t1}},
		{"/tasks?or=projectId||$eq||" + b.String() + "&or=title||$eq||one", []uuid.UUID{t1}},
		{`/tasks?s={"$or":[{"organizationId":"` + B + `"},{"title":{"$notnull":true}}]}`, []uuid.UUID{t1, t2}},
		{"/tasks?join=project&sort=title,DESC", []uuid.UUID{t1, t2}},
		{"/projects/" + a1.String() + "/tasks", []uuid.UUID{t1}},
		{"/projects/" + a1.String() + "/tasks?or=projectId||$eq||" + a2.String(), nil},
		{"/projects/" + a1.String() + "/tasks?filter=title||$eq||one&or=projectId||$eq||" + a2.String(), []uuid.UUID{t1}},
		{"/projects/" + a1.String() + "/tasks?or=organizationId||$eq||" + B + "&or=id||$notnull", []uuid.UUID{t1}},
		{`/projects/` + a1.String() + `/tasks?s={"$or":[{"projectId":"` + b.String() + `"},{"id":"` + tb.String() + `"}]}`, nil},
		{"/projects/" + a1.String() + "/tasks?cursor=&limit=1", []uuid.UUID{t1}},
	}
	for _, tc := range cases {
		page := app.List(t, alice, strings.ReplaceAll(tc.path, `"`, "%22"))
		var got []uuid.UUID
		for _, it := range page.Data {
			if it.ID == tb || it.OrganizationID == orgB {
				t.Fatalf("%s: organization B's task in Alice's list", tc.path)
			}
			got = append(got, it.ID)
		}
		slices.SortFunc(got, func(x, y uuid.UUID) int { return strings.Compare(x.String(), y.String()) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.path, got, tc.want)
		}
	}
}
