package organization

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"scaleapi/shared/auth"
)

// allRoutes are the function's routes with a path for org (and member) ids, and a valid body.
func allRoutes(org, member uuid.UUID) []req {
	o := "/organizations/" + org.String()
	return []req{
		{method: "POST", path: "/organizations", body: `{"name":"x"}`},
		{method: "GET", path: "/organizations"},
		{method: "GET", path: o},
		{method: "PATCH", path: o, body: `{"name":"renamed"}`},
		{method: "DELETE", path: o},
		{method: "GET", path: o + "/members"},
		{method: "POST", path: o + "/members", body: `{"email":"nobody@example.com","role":"member"}`},
		{method: "DELETE", path: o + "/members/" + member.String()},
	}
}

func TestUnauthenticated(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("Ada")
	org := e.createOrg(a, "Acme")
	for _, r := range allRoutes(org.ID, a.ID) {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			e.do(r).problem(http.StatusUnauthorized)
			r.token = "not-a-token"
			e.do(r).problem(http.StatusUnauthorized)
		})
	}
	// Nothing was changed by the rejected requests.
	var got Organization
	e.do(req{method: "GET", path: "/organizations/" + org.ID.String(), token: a.Token}).status(http.StatusOK).decode(&got)
	if got.Name != "Acme" || got.Version != 1 {
		t.Fatalf("organization after rejected requests: %+v", got)
	}
}

func TestOtherTenantIsNotFound(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("Ada")
	b := e.newAccount("Bob")
	orgB := e.createOrg(b, "Bravo")
	e.createOrg(a, "Alpha") // a is a member of something, just not of orgB
	// Every route naming orgB answers a (a stranger to it) 404, whatever the role the route asks
	// for: a 403 would confirm that orgB exists.
	for _, r := range allRoutes(orgB.ID, b.ID)[2:] {
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			r.token = a.Token
			p := e.do(r).problem(http.StatusNotFound)
			if p.Detail != "organization not found" {
				t.Fatalf("detail %q", p.Detail)
			}
		})
	}
	// An id that exists nowhere and one that is malformed get the very same answer.
	for _, id := range []string{uuid.NewString(), "not-a-uuid", strings.ToUpper(orgB.ID.String()[:35]) + "x"} {
		p := e.do(req{method: "GET", path: "/organizations/" + id, token: a.Token}).problem(http.StatusNotFound)
		if p.Detail != "organization not found" {
			t.Fatalf("GET %s: detail %q", id, p.Detail)
		}
	}
	// b still has it, untouched.
	var got Organization
	e.do(req{method: "GET", path: "/organizations/" + orgB.ID.String(), token: b.Token}).status(http.StatusOK).decode(&got)
	if got.Name != "Bravo" || got.Version != 1 {
		t.Fatalf("b's organization: %+v", got)
	}
}

func TestCreate(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("Ada")

	t.Run("Created", func(t *testing.T) {
		r := e.do(req{method: "POST", path: "/organizations", token: a.Token, body: `{"name":"  Acme  "}`}).status(http.StatusCreated)
		var o Organization
		r.decode(&o)
		if o.ID.Version() != 7 || o.Name != "Acme" || o.Version != 1 || o.CreatedAt.IsZero() || o.CreatedAt.Location().String() != "UTC" {
			t.Fatalf("created %+v", o)
		}
		if loc := r.Header().Get("Location"); loc != "/organizations/"+o.ID.String() {
			t.Fatalf("Location %q", loc)
		}
		if et := r.Header().Get("ETag"); et != `"1"` {
			t.Fatalf("ETag %q", et)
		}
		// The caller is its owner, and its only member.
		var ms []Member
		e.do(req{method: "GET", path: "/organizations/" + o.ID.String() + "/members", token: a.Token}).status(http.StatusOK).decode(&ms)
		if len(ms) != 1 || ms[0].UserID != a.ID || ms[0].Role != auth.RoleOwner || ms[0].Email != a.Email || ms[0].Name != "Ada" {
			t.Fatalf("members %+v", ms)
		}
	})
	t.Run("IdempotencyKeyReplays", func(t *testing.T) {
		h := map[string]string{"Idempotency-Key": "create-once"}
		first := e.do(req{method: "POST", path: "/organizations", token: a.Token, body: `{"name":"Once"}`, header: h}).status(http.StatusCreated)
		second := e.do(req{method: "POST", path: "/organizations", token: a.Token, body: `{"name":"Once"}`, header: h}).status(http.StatusCreated)
		if second.Body.String() != first.Body.String() || second.Header().Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %s (%v), first %s", second.Body.String(), second.Header(), first.Body.String())
		}
		e.do(req{method: "POST", path: "/organizations", token: a.Token, body: `{"name":"Twice"}`, header: h}).problem(http.StatusUnprocessableEntity)
		var page struct{ Total int }
		e.do(req{method: "GET", path: "/organizations?filter=name||$eq||Once", token: a.Token}).status(http.StatusOK).decode(&page)
		if page.Total != 1 {
			t.Fatalf("%d organizations named Once, want 1", page.Total)
		}
	})

	for _, c := range []struct {
		name   string
		body   string
		header map[string]string
		status int
		field  string
	}{
		{"BadJSON", `{"name":`, nil, http.StatusBadRequest, ""},
		{"UnknownField", `{"name":"x","plan":"gold"}`, nil, http.StatusBadRequest, "plan"},
		{"WrongType", `{"name":42}`, nil, http.StatusBadRequest, "name"},
		{"NotJSON", `name=x`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, http.StatusUnsupportedMediaType, ""},
		{"TooLarge", bigBody(), nil, http.StatusRequestEntityTooLarge, ""},
		{"NameMissing", `{}`, nil, http.StatusUnprocessableEntity, "name"},
		{"NameBlank", `{"name":"   "}`, nil, http.StatusUnprocessableEntity, "name"},
		{"NameTooLong", jsonString(map[string]string{"name": strings.Repeat("é", 201)}), nil, http.StatusUnprocessableEntity, "name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := e.do(req{method: "POST", path: "/organizations", token: a.Token, body: c.body, header: c.header}).problem(c.status)
			if c.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != c.field) {
				t.Fatalf("errors %+v, want one for %s", p.Errors, c.field)
			}
		})
	}
	t.Run("NameOf200CharactersFits", func(t *testing.T) {
		e.do(req{method: "POST", path: "/organizations", token: a.Token, body: jsonString(map[string]string{"name": strings.Repeat("é", 200)})}).
			status(http.StatusCreated)
	})
}

func TestRateLimited(t *testing.T) {
	e := newEnvWith(t, envOptions{limit: 2})
	a := e.newAccount("Ada")
	for range 2 {
		e.do(req{method: "GET", path: "/organizations", token: a.Token}).status(http.StatusOK)
	}
	r := e.do(req{method: "GET", path: "/organizations", token: a.Token})
	r.problem(http.StatusTooManyRequests)
	if r.Header().Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	// Another user has an allowance of their own.
	e.do(req{method: "GET", path: "/organizations", token: e.newAccount("Bob").Token}).status(http.StatusOK)
}

// listPage is GET /organizations' answer.
type listPage struct {
	Data       []map[string]any `json:"data"`
	Count      int              `json:"count"`
	Total      int              `json:"total"`
	Page       int              `json:"page"`
	PageCount  int              `json:"pageCount"`
	NextCursor *string          `json:"nextCursor"`
}

func (p listPage) names() []string {
	var out []string
	for _, d := range p.Data {
		out = append(out, d["name"].(string))
	}
	return out
}

func TestList(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("Ada")
	b := e.newAccount("Bob")
	alpha := e.createOrg(a, "Alpha")
	e.createOrg(a, "Apex")
	shared := e.createOrg(b, "Shared")
	e.addMember(b, shared.ID, a, auth.RoleMember)
	bravo := e.createOrg(b, "Bravo")
	e.createOrg(b, "Beta")
	gone := e.createOrg(a, "Gone")
	e.do(req{method: "DELETE", path: "/organizations/" + gone.ID.String(), token: a.Token}).status(http.StatusNoContent)

	list := func(t *testing.T, q string) listPage {
		t.Helper()
		var p listPage
		e.do(req{method: "GET", path: "/organizations?" + q, token: a.Token}).status(http.StatusOK).decode(&p)
		return p
	}

	t.Run("Mine", func(t *testing.T) {
		p := list(t, "")
		if got := strings.Join(p.names(), ","); got != "Alpha,Apex,Shared" {
			t.Fatalf("names %s", got)
		}
		if p.Count != 3 || p.Total != 3 || p.Page != 1 || p.PageCount != 1 {
			t.Fatalf("page %+v", p)
		}
		d := p.Data[0]
		if d["id"] != alpha.ID.String() || d["version"] != float64(1) ||
			d["createdAt"] != alpha.CreatedAt.Format("2006-01-02T15:04:05.999999999Z07:00") {
			t.Fatalf("item %v, want %+v", d, alpha)
		}
	})

	// Whatever the filter, b's organizations never show: the tenant scope is AND-ed outside the
	// client's expression, including its ORs.
	for _, q := range []string{
		"filter=name||$starts||B",
		"or=name||$starts||B",
		"filter=name||$eq||Alpha&or=name||$eq||Bravo",
		"or=id||$eq||" + bravo.ID.String() + "&or=name||$eq||Beta",
		"filter=id||$in||" + bravo.ID.String() + "," + alpha.ID.String(),
		`s={"$or":[{"name":"Bravo"},{"name":{"$contL":"e"}},{"id":"` + bravo.ID.String() + `"}]}`,
		"filter=name||$notnull",
		"filter=name||$ne||Alpha&or=name||$isnull",
		"cursor=&sort=name,DESC",
	} {
		t.Run("Isolated/"+q, func(t *testing.T) {
			p := list(t, url.PathEscape(q))
			for _, n := range p.names() {
				if n == "Bravo" || n == "Beta" || n == "Gone" {
					t.Fatalf("%s lists %s: %v", q, n, p.names())
				}
			}
		})
	}

	t.Run("Filter", func(t *testing.T) {
		if got := strings.Join(list(t, "filter=name||$startsL||a&sort=name,DESC").names(), ","); got != "Apex,Alpha" {
			t.Fatalf("names %s", got)
		}
	})
	t.Run("Pages", func(t *testing.T) {
		p := list(t, "limit=2&page=2&sort=name,ASC")
		if strings.Join(p.names(), ",") != "Shared" || p.Total != 3 || p.Page != 2 || p.PageCount != 2 {
			t.Fatalf("page %+v", p)
		}
	})
	t.Run("Cursor", func(t *testing.T) {
		var names []string
		cursor := ""
		for i := 0; ; i++ {
			p := list(t, "limit=2&cursor="+url.QueryEscape(cursor))
			names = append(names, p.names()...)
			if p.NextCursor == nil {
				break
			}
			cursor = *p.NextCursor
			if i > 3 {
				t.Fatal("cursor does not end")
			}
		}
		if strings.Join(names, ",") != "Alpha,Apex,Shared" {
			t.Fatalf("names %v", names)
		}
	})
	t.Run("Fields", func(t *testing.T) {
		p := list(t, "fields=name")
		if len(p.Data[0]) != 2 || p.Data[0]["id"] == nil {
			t.Fatalf("item %v, want id and name", p.Data[0])
		}
	})
	t.Run("SortOnEveryField", func(t *testing.T) {
		if got := strings.Join(list(t, "sort=version,DESC&sort=updatedAt,DESC").names(), ","); got != "Shared,Apex,Alpha" {
			t.Fatalf("names %s", got)
		}
	})
	t.Run("PostgREST", func(t *testing.T) {
		r := e.do(req{method: "GET", path: "/organizations?select=name&name=like.A*&order=name.desc&limit=1", token: a.Token,
			header: map[string]string{"Prefer": "count=exact"}}).status(http.StatusPartialContent)
		var got []map[string]string
		r.decode(&got)
		if len(got) != 1 || got[0]["name"] != "Apex" || len(got[0]) != 1 || r.Header().Get("Content-Range") != "0-0/2" {
			t.Fatalf("PostgREST list %v, Content-Range %q", got, r.Header().Get("Content-Range"))
		}
		// The tenant scope holds in this dialect too: Bravo is b's alone.
		r = e.do(req{method: "GET", path: "/organizations?or=(name.eq.Bravo,name.eq.Shared)", token: a.Token}).status(http.StatusOK)
		var all []Organization
		r.decode(&all)
		if len(all) != 1 || all[0] != shared || r.Header().Get("Content-Range") != "0-0/*" || r.Header().Get("X-Crud-Dialect") != "postgrest" {
			t.Fatalf("PostgREST or: %s %q", r.Body.String(), r.Header().Get("Content-Range"))
		}
	})
	for _, q := range []string{"filter=plan||$eq||gold", "filter=name||$regex||x", "sort=plan,ASC", "join=projects", "limit=-1", "filter=id||$eq||nope",
		"select=name&filter=name||$eq||x", "plan=eq.gold&select=name", "order=name.up"} {
		t.Run("BadRequest/"+q, func(t *testing.T) {
			e.do(req{method: "GET", path: "/organizations?" + url.PathEscape(q), token: a.Token}).problem(http.StatusBadRequest)
		})
	}
}

func TestGet(t *testing.T) {
	e := newEnv(t)
	a := e.newAccount("Ada")
	m := e.newAccount("Max")
	o := e.createOrg(a, "Acme")
	e.addMember(a, o.ID, m, auth.RoleMember)
	path := "/organizations/" + o.ID.String()

	r := e.do(req{method: "GET", path: path, token: m.Token}).status(http.StatusOK)
	var got Organization
	r.decode(&got)
	if got != o {
		t.Fatalf("got %+v, want %+v", got, o)
	}
	if r.Header().Get("ETag") != `"1"` {
		t.Fatalf("ETag %q", r.Header().Get("ETag"))
	}
	t.Run("NotModified", func(t *testing.T) {
		for _, inm := range []string{`"1"`, `W/"1"`, `"7", "1"`, `*`} {
			r := e.do(req{method: "GET", path: path, token: m.Token, header: map[string]string{"If-None-Match": inm}}).status(http.StatusNotModified)
			if r.Body.Len() != 0 || r.Header().Get("ETag") != `"1"` {
				t.Fatalf("304 for %s: body %q, ETag %q", inm, r.Body.String(), r.Header().Get("ETag"))
			}
		}
		e.do(req{method: "GET", path: path, token: m.Token, header: map[string]string{"If-None-Match": `"2"`}}).status(http.StatusOK)
	})
	t.Run("CachedReadRunsNoSQL", func(t *testing.T) {
		before := e.pool.QueryStats().Count
		e.do(req{method: "GET", path: path, token: m.Token}).status(http.StatusOK)
		if n := e.pool.QueryStats().Count - before; n != 0 {
			t.Fatalf("a warm GET ran %d statements", n)
		}
	})
}

func TestUpdate(t *testing.T) {
	e := newEnv(t)
	owner := e.newAccount("Ada")
	admin := e.newAccount("Ann")
	member := e.newAccount("Max")
	o := e.createOrg(owner, "Acme")
	e.addMember(owner, o.ID, admin, auth.RoleAdmin)
	e.addMember(owner, o.ID, member, auth.RoleMember)
	path := "/organizations/" + o.ID.String()
	get := func() Organization {
		var got Organization
		e.do(req{method: "GET", path: path, token: member.Token}).status(http.StatusOK).decode(&got)
		return got
	}
	get() // cache it: the renames below must invalidate it

	t.Run("Owner", func(t *testing.T) {
		r := e.do(req{method: "PATCH", path: path, token: owner.Token, body: `{"name":"Acme Inc"}`}).status(http.StatusOK)
		var got Organization
		r.decode(&got)
		if got.Name != "Acme Inc" || got.Version != 2 || !got.UpdatedAt.After(o.UpdatedAt) || r.Header().Get("ETag") != `"2"` {
			t.Fatalf("patched %+v, ETag %s", got, r.Header().Get("ETag"))
		}
		if g := get(); g != got {
			t.Fatalf("GET after PATCH = %+v, want %+v", g, got)
		}
	})
	t.Run("Admin", func(t *testing.T) {
		e.do(req{method: "PATCH", path: path, token: admin.Token, body: `{"name":"Acme Labs"}`, header: map[string]string{"If-Match": `"2"`}}).
			status(http.StatusOK)
		if g := get(); g.Name != "Acme Labs" || g.Version != 3 {
			t.Fatalf("GET after PATCH = %+v", g)
		}
	})
	t.Run("MemberForbidden", func(t *testing.T) {
		e.do(req{method: "PATCH", path: path, token: member.Token, body: `{"name":"Mine"}`}).problem(http.StatusForbidden)
	})
	t.Run("StaleIfMatch", func(t *testing.T) {
		for _, im := range []string{`"2"`, `W/"3"`, `"1", "2"`, `3`, `"h3"`} {
			e.do(req{method: "PATCH", path: path, token: owner.Token, body: `{"name":"Stale"}`, header: map[string]string{"If-Match": im}}).
				problem(http.StatusPreconditionFailed)
		}
		e.do(req{method: "PATCH", path: path, token: owner.Token, body: `{}`, header: map[string]string{"If-Match": `"2"`}}).
			problem(http.StatusPreconditionFailed)
		if g := get(); g.Name != "Acme Labs" || g.Version != 3 {
			t.Fatalf("a stale PATCH changed %+v", g)
		}
		e.do(req{method: "PATCH", path: path, token: owner.Token, body: `{"name":"Listed"}`, header: map[string]string{"If-Match": `"1", "3"`}}).
			status(http.StatusOK)
		e.do(req{method: "PATCH", path: path, token: owner.Token, body: `{"name":"Star"}`, header: map[string]string{"If-Match": `*`}}).
			status(http.StatusOK)
	})
	t.Run("EmptyPatchChangesNothing", func(t *testing.T) {
		before := get()
		var got Organization
		e.do(req{method: "PATCH", path: path, token: admin.Token, body: `{}`}).status(http.StatusOK).decode(&got)
		if got != before {
			t.Fatalf("empty patch: %+v, was %+v", got, before)
		}
		e.do(req{method: "PATCH", path: path, token: member.Token, body: `{}`}).problem(http.StatusForbidden)
	})
	for _, c := range []struct {
		name, body string
		header     map[string]string
		status     int
	}{
		{"BadJSON", `{"name"`, nil, http.StatusBadRequest},
		{"UnknownField", `{"name":"x","id":"y"}`, nil, http.StatusBadRequest},
		{"NotJSON", `<name/>`, map[string]string{"Content-Type": "text/xml"}, http.StatusUnsupportedMediaType},
		{"TooLarge", bigBody(), nil, http.StatusRequestEntityTooLarge},
		{"NameNull", `{"name":null}`, nil, http.StatusUnprocessableEntity},
		{"NameNotString", `{"name":7}`, nil, http.StatusUnprocessableEntity},
		{"NameBlank", `{"name":""}`, nil, http.StatusUnprocessableEntity},
		{"NameTooLong", jsonString(map[string]string{"name": strings.Repeat("x", 201)}), nil, http.StatusUnprocessableEntity},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := e.do(req{method: "PATCH", path: path, token: owner.Token, body: c.body, header: c.header}).problem(c.status)
			if c.status == http.StatusUnprocessableEntity && (len(p.Errors) != 1 || p.Errors[0].Field != "name") {
				t.Fatalf("errors %+v", p.Errors)
			}
		})
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t)
	owner := e.newAccount("Ada")
	admin := e.newAccount("Ann")
	member := e.newAccount("Max")
	o := e.createOrg(owner, "Acme")
	keep := e.createOrg(owner, "Keep")
	e.addMember(owner, o.ID, admin, auth.RoleAdmin)
	e.addMember(owner, o.ID, member, auth.RoleMember)
	path := "/organizations/" + o.ID.String()
	// Every member has read it, so their memberships and the organization are cached.
	for _, a := range []account{owner, admin, member} {
		e.do(req{method: "GET", path: path, token: a.Token}).status(http.StatusOK)
		e.do(req{method: "GET", path: path + "/members", token: a.Token}).status(http.StatusOK)
	}

	e.do(req{method: "DELETE", path: path, token: admin.Token}).problem(http.StatusForbidden)
	e.do(req{method: "DELETE", path: path, token: member.Token}).problem(http.StatusForbidden)
	e.do(req{method: "DELETE", path: path, token: owner.Token}).status(http.StatusNoContent)

	for _, a := range []account{owner, admin, member} {
		e.do(req{method: "GET", path: path, token: a.Token}).problem(http.StatusNotFound)
		e.do(req{method: "GET", path: path + "/members", token: a.Token}).problem(http.StatusNotFound)
		e.do(req{method: "PATCH", path: path, token: a.Token, body: `{"name":"Back"}`}).problem(http.StatusNotFound)
		var p listPage
		e.do(req{method: "GET", path: "/organizations", token: a.Token}).status(http.StatusOK).decode(&p)
		for _, n := range p.names() {
			if n == "Acme" {
				t.Fatalf("%s still lists the deleted organization", a.Email)
			}
		}
		ids, err := e.svc.Access().OrganizationIDs(t.Context(), a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if id == o.ID {
				t.Fatalf("Access still names the deleted organization for %s", a.Email)
			}
		}
	}
	e.do(req{method: "DELETE", path: path, token: owner.Token}).problem(http.StatusNotFound)
	// The row is soft-deleted, not gone.
	var deleted bool
	if err := e.pool.QueryRow(t.Context(), `SELECT deleted_at IS NOT NULL FROM organizations WHERE id = $1`, o.ID).Scan(&deleted); err != nil || !deleted {
		t.Fatalf("deleted_at set: %v, %v", deleted, err)
	}
	e.do(req{method: "GET", path: "/organizations/" + keep.ID.String(), token: owner.Token}).status(http.StatusOK)
}

func TestMembers(t *testing.T) {
	e := newEnv(t)
	owner := e.newAccount("Ada")
	member := e.newAccount("Max")
	o := e.createOrg(owner, "Acme")
	e.addMember(owner, o.ID, member, auth.RoleMember)
	var ms []map[string]any
	e.do(req{method: "GET", path: "/organizations/" + o.ID.String() + "/members", token: member.Token}).status(http.StatusOK).decode(&ms)
	want := []map[string]any{
		{"userId": owner.ID.String(), "email": owner.Email, "name": "Ada", "role": "owner"},
		{"userId": member.ID.String(), "email": member.Email, "name": "Max", "role": "member"},
	}
	if jsonString(ms) != jsonString(want) {
		t.Fatalf("members %v, want %v", ms, want)
	}
}

func TestAddMember(t *testing.T) {
	e := newEnv(t)
	owner := e.newAccount("Ada")
	admin := e.newAccount("Ann")
	member := e.newAccount("Max")
	newcomer := e.newAccount("Nia")
	o := e.createOrg(owner, "Acme")
	path := "/organizations/" + o.ID.String() + "/members"
	add := func(by account, email string, role auth.Role) response {
		return e.do(req{method: "POST", path: path, token: by.Token, body: jsonString(map[string]string{"email": email, "role": string(role)})})
	}

	t.Run("OwnerAddsAdmin", func(t *testing.T) {
		var m Member
		add(owner, "  "+strings.ToUpper(admin.Email)+" ", auth.RoleAdmin).status(http.StatusCreated).decode(&m)
		if m != (Member{UserID: admin.ID, Email: admin.Email, Name: "Ann", Role: auth.RoleAdmin}) {
			t.Fatalf("added %+v", m)
		}
	})
	t.Run("AdminAddsMember", func(t *testing.T) {
		add(admin, member.Email, auth.RoleMember).status(http.StatusCreated)
		// The new member sees the organization on their very next request.
		e.do(req{method: "GET", path: "/organizations/" + o.ID.String(), token: member.Token}).status(http.StatusOK)
	})
	t.Run("AdminCannotAddOwner", func(t *testing.T) {
		add(admin, newcomer.Email, auth.RoleOwner).problem(http.StatusForbidden)
	})
	t.Run("MemberForbidden", func(t *testing.T) {
		add(member, newcomer.Email, auth.RoleMember).problem(http.StatusForbidden)
	})
	t.Run("UnknownEmail", func(t *testing.T) {
		add(owner, "nobody@example.com", auth.RoleMember).problem(http.StatusNotFound)
	})
	t.Run("AlreadyMember", func(t *testing.T) {
		add(owner, member.Email, auth.RoleAdmin).problem(http.StatusConflict)
		add(owner, owner.Email, auth.RoleMember).problem(http.StatusConflict)
	})
	for _, c := range []struct {
		name, body string
		header     map[string]string
		status     int
		fields     string
	}{
		{"BadJSON", `{"email":`, nil, http.StatusBadRequest, ""},
		{"UnknownField", `{"email":"a@b.c","role":"member","admin":true}`, nil, http.StatusBadRequest, ""},
		{"NotJSON", `email=a`, map[string]string{"Content-Type": "text/plain"}, http.StatusUnsupportedMediaType, ""},
		{"TooLarge", bigBody(), nil, http.StatusRequestEntityTooLarge, ""},
		{"Missing", `{}`, nil, http.StatusUnprocessableEntity, "email,role"},
		{"BadRole", jsonString(map[string]string{"email": newcomer.Email, "role": "god"}), nil, http.StatusUnprocessableEntity, "role"},
		{"BadEmail", `{"email":"nobody","role":"member"}`, nil, http.StatusUnprocessableEntity, "email"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := e.do(req{method: "POST", path: path, token: owner.Token, body: c.body, header: c.header}).problem(c.status)
			var fields []string
			for _, f := range p.Errors {
				fields = append(fields, f.Field)
			}
			if c.fields != "" && strings.Join(fields, ",") != c.fields {
				t.Fatalf("errors %+v, want %s", p.Errors, c.fields)
			}
		})
	}
	var ms []Member
	e.do(req{method: "GET", path: path, token: owner.Token}).status(http.StatusOK).decode(&ms)
	if len(ms) != 3 {
		t.Fatalf("members %+v", ms)
	}
}

func TestRemoveMember(t *testing.T) {
	e := newEnv(t)
	owner := e.newAccount("Ada")
	owner2 := e.newAccount("Oz")
	admin := e.newAccount("Ann")
	admin2 := e.newAccount("Abe")
	member := e.newAccount("Max")
	member2 := e.newAccount("Mia")
	o := e.createOrg(owner, "Acme")
	for _, m := range []struct {
		a    account
		role auth.Role
	}{{owner2, auth.RoleOwner}, {admin, auth.RoleAdmin}, {admin2, auth.RoleAdmin}, {member, auth.RoleMember}, {member2, auth.RoleMember}} {
		e.addMember(owner, o.ID, m.a, m.role)
	}
	path := func(u uuid.UUID) string { return "/organizations/" + o.ID.String() + "/members/" + u.String() }
	remove := func(by account, u uuid.UUID) response {
		return e.do(req{method: "DELETE", path: path(u), token: by.Token})
	}

	t.Run("MemberCannotRemoveOthers", func(t *testing.T) {
		remove(member, member2.ID).problem(http.StatusForbidden)
	})
	t.Run("AdminCannotRemoveOwner", func(t *testing.T) {
		remove(admin, owner2.ID).problem(http.StatusForbidden)
	})
	t.Run("AdminRemovesMember", func(t *testing.T) {
		remove(admin, member2.ID).status(http.StatusNoContent)
		remove(admin, member2.ID).problem(http.StatusNotFound)
	})
	t.Run("AdminRemovesAdmin", func(t *testing.T) {
		remove(admin, admin2.ID).status(http.StatusNoContent)
	})
	t.Run("MemberLeaves", func(t *testing.T) {
		remove(member, member.ID).status(http.StatusNoContent)
		remove(member, member.ID).problem(http.StatusNotFound)
	})
	t.Run("UnknownMember", func(t *testing.T) {
		p := remove(owner, uuid.New()).problem(http.StatusNotFound)
		if p.Detail != "member not found" {
			t.Fatalf("detail %q", p.Detail)
		}
		e.do(req{method: "DELETE", path: "/organizations/" + o.ID.String() + "/members/x", token: owner.Token}).problem(http.StatusNotFound)
	})
	t.Run("OwnerRemovesOwner", func(t *testing.T) {
		remove(owner, owner2.ID).status(http.StatusNoContent)
	})
	t.Run("LastOwner", func(t *testing.T) {
		p := remove(owner, owner.ID).problem(http.StatusConflict)
		if !strings.Contains(p.Detail, "last owner") {
			t.Fatalf("detail %q", p.Detail)
		}
	})

	var ms []Member
	e.do(req{method: "GET", path: "/organizations/" + o.ID.String() + "/members", token: owner.Token}).status(http.StatusOK).decode(&ms)
	var got []string
	for _, m := range ms {
		got = append(got, m.Name+":"+string(m.Role))
	}
	if strings.Join(got, ",") != "Ada:owner,Ann:admin" {
		t.Fatalf("members left %v", got)
	}
}

// TestOwnersRemovingEachOther runs two owners removing each other at the same time, many times:
// exactly one may succeed, or the organization would be left without an owner.
func TestOwnersRemovingEachOther(t *testing.T) {
	e := newEnv(t)
	for i := range 10 {
		a := e.newAccount("Ada")
		b := e.newAccount("Bob")
		o := e.createOrg(a, "Race "+strconv.Itoa(i))
		e.addMember(a, o.ID, b, auth.RoleOwner)
		codes := make(chan int, 2)
		for _, pair := range [][2]account{{a, b}, {b, a}} {
			go func() {
				r := e.do(req{method: "DELETE", path: "/organizations/" + o.ID.String() + "/members/" + pair[1].ID.String(), token: pair[0].Token})
				codes <- r.Code
			}()
		}
		c1, c2 := <-codes, <-codes
		// The loser is no longer a member by the time its transaction gets the lock: 404.
		if min(c1, c2) != http.StatusNoContent || (max(c1, c2) != http.StatusNotFound && max(c1, c2) != http.StatusConflict) {
			t.Fatalf("round %d: statuses %d and %d, want one 204", i, c1, c2)
		}
		var owners int
		if err := e.pool.QueryRow(t.Context(), `SELECT count(*) FROM memberships WHERE organization_id = $1 AND role = 'owner'`, o.ID).Scan(&owners); err != nil || owners != 1 {
			t.Fatalf("round %d: %d owners left (%v)", i, owners, err)
		}
	}
}
