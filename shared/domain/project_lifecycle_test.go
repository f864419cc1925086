package domain_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"

	"scaleapi/shared/auth"
	rt "scaleapi/shared/resource/resourcetest"
)

// projectJSON is a project as a client decodes it.
type projectJSON struct {
	ID             uuid.UUID `json:"id"`
	OrganizationID uuid.UUID `json:"organizationId"`
	Name           string    `json:"name"`
	Description    *string   `json:"description"`
	Status         string    `json:"status"`
	CreatedAt      string    `json:"createdAt"`
	UpdatedAt      string    `json:"updatedAt"`
	Version        int       `json:"version"`
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	owner := app.User(t, "Owner")
	org := app.Org(t, owner)

	created := app.Do(owner, rt.Request{Method: "POST", Path: "/projects",
		Body: `{"organizationId":"` + org.String() + `","name":"  Apollo  ","description":"to the moon"}`}).
		Expect(t, http.StatusCreated, "create")
	var p projectJSON
	created.JSON(t, &p)
	if p.Name != "Apollo" || p.Status != "planning" || p.Version != 1 || p.OrganizationID != org || *p.Description != "to the moon" {
		t.Fatalf("created %+v", p)
	}
	if loc := created.Header().Get("Location"); loc != "/projects/"+p.ID.String() {
		t.Fatalf("Location %q", loc)
	}
	if etag := created.Header().Get("ETag"); etag != `"1"` {
		t.Fatalf("ETag %q", etag)
	}
	path := "/projects/" + p.ID.String()

	t.Run("Get", func(t *testing.T) {
		got := app.Do(owner, rt.Request{Method: "GET", Path: path}).Expect(t, http.StatusOK, "get")
		if got.Body.String() != created.Body.String() || got.Header().Get("ETag") != `"1"` {
			t.Fatalf("GET %s %v, created %s", got.Body, got.Header(), created.Body)
		}
		// A list item with every field is the same document, byte for byte: the database
		// renders it (json_build_object) and Go renders the single GET.
		var page struct{ Data []json.RawMessage }
		app.Do(owner, rt.Request{Method: "GET", Path: "/projects?filter=id||$eq||" + p.ID.String()}).Expect(t, http.StatusOK, "list").JSON(t, &page)
		if len(page.Data) != 1 || string(page.Data[0]) != got.Body.String() {
			t.Fatalf("list item %s, GET %s", page.Data, got.Body)
		}
	})
	t.Run("NotModified", func(t *testing.T) {
		got := app.Do(owner, rt.Request{Method: "GET", Path: path, Header: rt.Header("If-None-Match", `W/"1"`)})
		got.Expect(t, http.StatusNotModified, "conditional get")
		if got.Body.Len() != 0 || got.Header().Get("ETag") != `"1"` {
			t.Fatalf("304 with %q %v", got.Body, got.Header())
		}
		app.Do(owner, rt.Request{Method: "GET", Path: path, Header: rt.Header("If-None-Match", `"7"`)}).Expect(t, http.StatusOK, "other etag")
	})
	t.Run("PatchKeepsAbsentAndClearsNull", func(t *testing.T) {
		got := app.Do(owner, rt.Request{Method: "PATCH", Path: path, Body: `{"status":"active"}`, Header: rt.Header("If-Match", `"1"`)}).
			Expect(t, http.StatusOK, "patch")
		var q projectJSON
		got.JSON(t, &q)
		if q.Status != "active" || q.Name != "Apollo" || q.Description == nil || q.Version != 2 || got.Header().Get("ETag") != `"2"` {
			t.Fatalf("patched %+v %v", q, got.Header())
		}
		app.Do(owner, rt.Request{Method: "PATCH", Path: path, Body: `{"description":null}`}).Expect(t, http.StatusOK, "clear").JSON(t, &q)
		if q.Description != nil || q.Status != "active" || q.Version != 3 {
			t.Fatalf("cleared %+v", q)
		}
	})
	t.Run("StaleIfMatch", func(t *testing.T) {
		app.Do(owner, rt.Request{Method: "PATCH", Path: path, Body: `{"name":"x"}`, Header: rt.Header("If-Match", `"1"`)}).
			Expect(t, http.StatusPreconditionFailed, "stale patch")
		app.Do(owner, rt.Request{Method: "PUT", Path: path, Body: `{"name":"x"}`, Header: rt.Header("If-Match", `W/"3"`)}).
			Expect(t, http.StatusPreconditionFailed, "weak tags never match If-Match")
		app.Do(owner, rt.Request{Method: "DELETE", Path: path, Header: rt.Header("If-Match", `"2"`)}).
			Expect(t, http.StatusPreconditionFailed, "stale delete")
	})
	t.Run("PutReplacesEverything", func(t *testing.T) {
		var q projectJSON
		app.Do(owner, rt.Request{Method: "PUT", Path: path, Body: `{"name":"Gemini"}`, Header: rt.Header("If-Match", `"2", "3"`)}).
			Expect(t, http.StatusOK, "put").JSON(t, &q)
		if q.Name != "Gemini" || q.Status != "planning" || q.Description != nil || q.Version != 4 {
			t.Fatalf("replaced %+v", q)
		}
	})
	t.Run("OrganizationCannotChange", func(t *testing.T) {
		// A client may send back what it read (PUT takes POST's body); moving is a 422.
		var q projectJSON
		app.Do(owner, rt.Request{Method: "PUT", Path: path, Body: `{"organizationId":"` + org.String() + `","name":"Gemini"}`}).
			Expect(t, http.StatusOK, "put with its own organization").JSON(t, &q)
		if q.Version != 5 {
			t.Fatalf("put %+v", q)
		}
		elsewhere := app.Org(t, owner)
		app.Do(owner, rt.Request{Method: "PATCH", Path: path, Body: `{"organizationId":"` + elsewhere.String() + `"}`}).
			Problem(t, http.StatusUnprocessableEntity, "organizationId", "move by PATCH")
		app.Do(owner, rt.Request{Method: "PUT", Path: path, Body: `{"organizationId":"` + elsewhere.String() + `","name":"x"}`}).
			Problem(t, http.StatusUnprocessableEntity, "organizationId", "move by PUT")
	})
	t.Run("DeleteAndRecover", func(t *testing.T) {
		member := app.User(t, "Member")
		app.Join(t, org, member, auth.RoleMember)
		app.Do(member, rt.Request{Method: "DELETE", Path: path}).Expect(t, http.StatusForbidden, "member deletes")
		app.Do(owner, rt.Request{Method: "DELETE", Path: path, Header: rt.Header("If-Match", `"5"`)}).Expect(t, http.StatusNoContent, "delete")
		app.Do(owner, rt.Request{Method: "GET", Path: path}).Expect(t, http.StatusNotFound, "get deleted")
		app.Do(owner, rt.Request{Method: "PATCH", Path: path, Body: `{"name":"x"}`}).Expect(t, http.StatusNotFound, "patch deleted")
		app.Do(owner, rt.Request{Method: "DELETE", Path: path}).Expect(t, http.StatusNotFound, "delete twice")
		app.Do(member, rt.Request{Method: "PATCH", Path: path + "/recover"}).Expect(t, http.StatusForbidden, "member recovers")
		var q projectJSON
		app.Do(owner, rt.Request{Method: "PATCH", Path: path + "/recover"}).Expect(t, http.StatusOK, "recover").JSON(t, &q)
		if q.Name != "Gemini" || q.Version != 7 {
			t.Fatalf("recovered %+v", q)
		}
		app.Do(owner, rt.Request{Method: "GET", Path: path}).Expect(t, http.StatusOK, "get recovered")
		app.Do(owner, rt.Request{Method: "PATCH", Path: path + "/recover"}).Expect(t, http.StatusOK, "recover a live project")
	})
}

// TestDeleteTakesTasks deletes a project with tasks: its tasks go with it (also from the
// cache), and recover brings back exactly those, not a task deleted on its own before.
func TestDeleteTakesTasks(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	owner := app.User(t, "Owner")
	org := app.Org(t, owner)
	p := app.Project(t, owner, org, "Apollo")
	other := app.Project(t, owner, org, "Gemini")
	kept, alone := app.Task(t, owner, p, "kept"), app.Task(t, owner, p, "deleted alone")
	elsewhere := app.Task(t, owner, other, "elsewhere")
	app.Do(owner, rt.Request{Method: "DELETE", Path: "/tasks/" + alone.String()}).Expect(t, http.StatusNoContent, "delete one task")
	for _, id := range []uuid.UUID{kept, elsewhere} {
		app.Do(owner, rt.Request{Method: "GET", Path: "/tasks/" + id.String()}).Expect(t, http.StatusOK, "warm the cache")
	}

	app.Do(owner, rt.Request{Method: "DELETE", Path: "/projects/" + p.String()}).Expect(t, http.StatusNoContent, "delete project")
	app.Do(owner, rt.Request{Method: "GET", Path: "/tasks/" + kept.String()}).Expect(t, http.StatusNotFound, "task of a deleted project")
	app.Do(owner, rt.Request{Method: "GET", Path: "/projects/" + p.String() + "/tasks"}).Expect(t, http.StatusNotFound, "tasks of a deleted project")
	app.Do(owner, rt.Request{Method: "GET", Path: "/tasks/" + elsewhere.String()}).Expect(t, http.StatusOK, "another project's task")
	if page := app.List(t, owner, "/tasks"); len(page.Data) != 1 || page.Data[0].ID != elsewhere {
		t.Fatalf("tasks after the project's delete: %+v", page.Data)
	}
	app.Do(owner, rt.Request{Method: "POST", Path: "/tasks", Body: `{"projectId":"` + p.String() + `","title":"late"}`}).
		Expect(t, http.StatusNotFound, "create a task in a deleted project")
	app.Do(owner, rt.Request{Method: "PATCH", Path: "/tasks/" + kept.String() + "/recover"}).
		Expect(t, http.StatusConflict, "recover a task of a deleted project")

	app.Do(owner, rt.Request{Method: "PATCH", Path: "/projects/" + p.String() + "/recover"}).Expect(t, http.StatusOK, "recover project")
	app.Do(owner, rt.Request{Method: "GET", Path: "/tasks/" + kept.String()}).Expect(t, http.StatusOK, "task recovered with its project")
	app.Do(owner, rt.Request{Method: "GET", Path: "/tasks/" + alone.String()}).Expect(t, http.StatusNotFound, "task deleted before its project")
	if page := app.List(t, owner, "/projects/"+p.String()+"/tasks"); len(page.Data) != 1 || page.Data[0].ID != kept {
		t.Fatalf("project's tasks after recover: %+v", page.Data)
	}
}
