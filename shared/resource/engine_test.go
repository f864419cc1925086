package resource_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/auth"
	"scaleapi/shared/resource"
	rt "scaleapi/shared/resource/resourcetest"
	"scaleapi/shared/shard"
)

// engineApp serves schema file path through the engine on a new Env whose database has the
// schema's tables: the migrations' for the repository's own .apsorc, CreateSQL's for another.
type engineApp struct {
	*rt.Env
	s *apsorc.Schema
	h http.Handler
}

// rootSchema is the repository's own .apsorc, seen from this package.
const rootSchema = "../../.apsorc"

func newEngineApp(t *testing.T, path string) *engineApp {
	t.Helper()
	s, err := apsorc.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	env := rt.New(t)
	for _, stmt := range s.CreateSQL() {
		if path == rootSchema {
			break // the migrations made its tables
		}
		if _, err := env.DB.Exec(context.Background(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	eng, err := resource.NewEngine(s, resource.EngineDeps{Shards: shard.Of(env.DB, nil), Members: env.Members, Cache: env.Cache}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &engineApp{Env: env, s: s, h: rt.Router(func(r *api.Router) { eng.Mount(r, env.Guards) })}
}

// do serves a request as u and checks its status.
func (a *engineApp) do(t *testing.T, u rt.User, method, path, body string, status int, h ...string) *rt.Response {
	t.Helper()
	w := &rt.Response{ResponseRecorder: rt.Do(a.h, u, rt.Request{Method: method, Path: path, Body: body, Header: rt.Header(h...)})}
	rt.Expect(t, w.ResponseRecorder, status, method+" "+path)
	return w
}

// obj decodes a JSON object answer.
func obj(t *testing.T, w *rt.Response) map[string]any {
	t.Helper()
	var m map[string]any
	w.JSON(t, &m)
	return m
}

// ids returns the ids of a list answer's data, as text.
func ids(t *testing.T, w *rt.Response) []string {
	t.Helper()
	var page struct {
		Data []map[string]any `json:"data"`
	}
	w.JSON(t, &page)
	var out []string
	for _, it := range page.Data {
		out = append(out, idText(it["id"]))
	}
	return out
}

func idText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatInt(int64(v), 10)
	}
	return ""
}

// problemField returns the first field of a problem answer's errors.
func problemField(t *testing.T, w *rt.Response) string {
	t.Helper()
	var p struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	w.JSON(t, &p)
	if len(p.Errors) == 0 {
		t.Fatalf("no field errors in %s", w.Body)
	}
	return p.Errors[0].Field
}

// TestEngineShop drives the shop example, whose organization is the schema's own Store and
// whose staff are StoreStaff, through every kind of route, tenancy check and relation the
// engine derives from a schema.
func TestEngineShop(t *testing.T) {
	t.Parallel()
	app := newEngineApp(t, "../../examples/shop/.apsorc")
	alice, bob, carol, dave := app.User(t, "Alice"), app.User(t, "Bob"), app.User(t, "Carol"), app.User(t, "Dave")
	storeA, storeB := app.Org(t, alice), app.Org(t, bob)
	app.Join(t, storeA, carol, auth.RoleMember)
	A := storeA.String()

	// Create: the store is injected (Alice has one), the defaults applied, Location and ETag set.
	w := app.do(t, alice, "POST", "/products", `{"name":"Mug","sku":"MUG-1","price":"12.50","attributes":{"colour":"blue"}}`, 201)
	p := obj(t, w)
	pid := p["id"].(string)
	if p["storeId"] != A || p["status"] != "draft" || p["price"] != 12.5 || w.Header().Get("ETag") != `"1"` ||
		w.Header().Get("Location") != "/products/"+pid {
		t.Fatalf("created %v, headers %v", p, w.Header())
	}
	created := w.Body.String()

	// Read: the same bytes, 304 on If-None-Match, and 404 for another tenant.
	if got := app.do(t, alice, "GET", "/products/"+pid, "", 200).Body.String(); got != created {
		t.Fatalf("GET answered %s, create %s", got, created)
	}
	app.do(t, alice, "GET", "/products/"+pid, "", 304, "If-None-Match", `"1"`)
	app.do(t, bob, "GET", "/products/"+pid, "", 404)
	app.do(t, bob, "PATCH", "/products/"+pid, `{"name":"x"}`, 404)
	app.do(t, bob, "DELETE", "/products/"+pid, "", 404)

	// A create naming another tenant's store is refused, never kept.
	app.do(t, bob, "POST", "/products", `{"storeId":"`+A+`","name":"Evil","sku":"EVIL","price":1}`, 404)
	if n := len(ids(t, app.do(t, alice, "GET", "/products", "", 200))); n != 1 {
		t.Fatalf("Alice sees %d products, want 1", n)
	}

	// Validation: every problem named, unknown fields a 400, engine-owned fields read-only.
	for _, tc := range []struct{ body, field string }{
		{`{"name":"a","sku":"b","price":"1.234"}`, "price"},
		{`{"name":"a","sku":"b","price":1,"status":"sold"}`, "status"},
		{`{"name":"a","sku":"b"}`, "price"},
		{`{"name":"` + strings.Repeat("x", 121) + `","sku":"b","price":1}`, "name"},
		{`{"name":null,"sku":"b","price":1}`, "name"},
	} {
		if f := problemField(t, app.do(t, alice, "POST", "/products", tc.body, 422)); f != tc.field {
			t.Errorf("%s: error on %q, want %q", tc.body, f, tc.field)
		}
	}
	app.do(t, alice, "POST", "/products", `{"name":"a","sku":"b","price":1,"colour":"red"}`, 400)
	app.do(t, alice, "POST", "/products", `{"name":"a","sku":"b","price":1,"version":7}`, 400)
	app.do(t, alice, "PATCH", "/products/"+pid, `{"id":"`+pid+`"}`, 400)
	app.do(t, alice, "POST", "/products", `{"name":`, 400)
	app.do(t, alice, "POST", "/products", `{"name":"Mug 2","sku":"MUG-1","price":3}`, 409)

	// Update under If-Match; a stale version is a 412; moving to another store is refused.
	w = app.do(t, alice, "PATCH", "/products/"+pid, `{"status":"active"}`, 200, "If-Match", `"1"`)
	if w.Header().Get("ETag") != `"2"` || obj(t, w)["status"] != "active" {
		t.Fatalf("patched: %s %v", w.Body, w.Header())
	}
	app.do(t, alice, "PATCH", "/products/"+pid, `{"status":"retired"}`, 412, "If-Match", `"1"`)
	app.do(t, alice, "PATCH", "/products/"+pid, `{"storeId":"`+storeB.String()+`"}`, 422)
	// The cached entity was invalidated: a GET shows version 2.
	if v := obj(t, app.do(t, alice, "GET", "/products/"+pid, "", 200))["version"]; v != 2.0 {
		t.Fatalf("GET after PATCH: version %v", v)
	}
	// PUT replaces: attributes, absent, goes back to NULL, status to its default.
	w = app.do(t, alice, "PUT", "/products/"+pid, `{"name":"Big mug","sku":"MUG-1","price":14}`, 200)
	if p := obj(t, w); p["attributes"] != nil || p["status"] != "draft" || p["name"] != "Big mug" {
		t.Fatalf("PUT: %v", p)
	}

	// Lists: the query syntax, scoped to the caller's stores, and invalidated by writes.
	app.do(t, alice, "POST", "/products", `{"name":"Plate","sku":"PL-1","price":"30.00","status":"active"}`, 201)
	if got := ids(t, app.do(t, alice, "GET", "/products?filter=status||$eq||active&sort=price,DESC", "", 200)); len(got) != 1 {
		t.Fatalf("active products: %v", got)
	}
	app.do(t, alice, "GET", "/products?filter=nope||$eq||1", "", 400)
	app.do(t, alice, "GET", "/products?filter=attributes||$eq||1", "", 400)
	if got := ids(t, app.do(t, bob, "GET", "/products", "", 200)); len(got) != 0 {
		t.Fatalf("Bob lists Alice's products: %v", got)
	}

	// ManyToMany: link, list through the relation, and refuse a link across tenants.
	cat := obj(t, app.do(t, alice, "POST", "/categories", `{"name":"Kitchen"}`, 201))["id"].(string)
	app.do(t, alice, "PUT", "/categories/"+cat+"/products/"+pid, "", 204)
	app.do(t, alice, "PUT", "/categories/"+cat+"/products/"+pid, "", 204) // idempotent
	if got := ids(t, app.do(t, alice, "GET", "/categories/"+cat+"/products", "", 200)); len(got) != 1 || got[0] != pid {
		t.Fatalf("category's products: %v", got)
	}
	if got := ids(t, app.do(t, alice, "GET", "/products/"+pid+"/categories", "", 200)); len(got) != 1 || got[0] != cat {
		t.Fatalf("product's categories: %v", got)
	}
	bobCat := obj(t, app.do(t, bob, "POST", "/categories", `{"name":"Kitchen"}`, 201))["id"].(string)
	app.do(t, bob, "PUT", "/categories/"+bobCat+"/products/"+pid, "", 404)
	app.do(t, alice, "DELETE", "/categories/"+cat+"/products/"+pid, "", 204)
	if got := ids(t, app.do(t, alice, "GET", "/categories/"+cat+"/products", "", 200)); len(got) != 0 {
		t.Fatalf("after unlink: %v", got)
	}

	// OneToOne with a nested scope (product.storeId): the product decides the store.
	det := obj(t, app.do(t, alice, "POST", "/productdetails", `{"productId":"`+pid+`","weightKg":0.35}`, 201))
	if det["warrantyMonths"] != 12.0 {
		t.Fatalf("detail: %v", det)
	}
	app.do(t, bob, "POST", "/productdetails", `{"productId":"`+pid+`"}`, 404)
	app.do(t, bob, "GET", "/productdetails/"+det["id"].(string), "", 404)
	if got := obj(t, app.do(t, alice, "GET", "/products/"+pid+"?join=productDetail", "", 200)); got["productDetail"] == nil {
		t.Fatalf("join=productDetail: %v", got)
	}

	// Serial keys, a reference to the user entity (a member of the store), cascade delete.
	app.do(t, alice, "POST", "/orders", `{"placedAt":"2026-01-02T03:04:05Z","customerId":"`+dave.ID.String()+`"}`, 422)
	o := obj(t, app.do(t, alice, "POST", "/orders", `{"placedAt":"2026-01-02T03:04:05+01:00","customerId":"`+carol.ID.String()+`"}`, 201))
	oid := idText(o["id"])
	if _, err := strconv.Atoi(oid); err != nil || o["placedAt"] != "2026-01-02T02:04:05Z" {
		t.Fatalf("order: %v", o)
	}
	line := obj(t, app.do(t, alice, "POST", "/orderlines", `{"orderId":`+oid+`,"productId":"`+pid+`","quantity":2,"unitPrice":"14.00"}`, 201))
	lid := idText(line["id"])
	bobProduct := obj(t, app.do(t, bob, "POST", "/products", `{"name":"B","sku":"B-1","price":1}`, 201))["id"].(string)
	if f := problemField(t, app.do(t, alice, "POST", "/orderlines", `{"orderId":`+oid+`,"productId":"`+bobProduct+`","quantity":1,"unitPrice":1}`, 404)); f != "productId" {
		t.Fatalf("line with another store's product: error on %s", f)
	}
	if got := obj(t, app.do(t, alice, "GET", "/orders/"+oid+"?join=lines", "", 200)); len(got["lines"].([]any)) != 1 {
		t.Fatalf("join=lines: %v", got)
	}
	app.do(t, alice, "GET", "/orders/x1", "", 400)
	app.do(t, carol, "DELETE", "/orders/"+oid, "", 204)
	app.do(t, alice, "GET", "/orderlines/"+lid, "", 404)
	app.do(t, alice, "PATCH", "/orders/"+oid+"/recover", "", 200)
	app.do(t, alice, "GET", "/orderlines/"+lid, "", 200)

	// deleteRole admin: a member may not delete a product.
	app.do(t, carol, "DELETE", "/products/"+pid, "", 403)
	app.do(t, alice, "DELETE", "/products/"+pid, "", 204, "If-Match", w.Header().Get("ETag"))
	app.do(t, alice, "GET", "/products/"+pid, "", 404)

	// Bulk: all or none.
	app.do(t, alice, "POST", "/categories/bulk", `{"bulk":[{"name":"A1"},{"name":"A2"}]}`, 201)
	if f := problemField(t, app.do(t, alice, "POST", "/categories/bulk", `{"bulk":[{"name":"A3"},{"name":"`+strings.Repeat("x", 81)+`"}]}`, 422)); f != "bulk[1].name" {
		t.Fatalf("bulk error on %s", f)
	}
	if got := ids(t, app.do(t, alice, "GET", "/categories?filter=name||$eq||A3", "", 200)); len(got) != 0 {
		t.Fatalf("half a bulk was kept: %v", got)
	}
}

// TestEngineClinic serves the clinic example: APSO's version 1 format, serial keys, no scopeBy
// (every entity is scoped to the organization it names).
func TestEngineClinic(t *testing.T) {
	t.Parallel()
	app := newEngineApp(t, "../../examples/clinic/.apsorc")
	alice, bob := app.User(t, "Alice"), app.User(t, "Bob")
	app.Org(t, alice)
	app.Org(t, bob)
	pat := obj(t, app.do(t, alice, "POST", "/patients", `{"fullName":"Ann Lee","birthDate":"1980-02-29","allergies":["penicillin"]}`, 201))
	pid := idText(pat["id"])
	if pat["active"] != true || pat["birthDate"] != "1980-02-29" {
		t.Fatalf("patient: %v", pat)
	}
	app.do(t, alice, "POST", "/patients", `{"fullName":"X","birthDate":"1981-02-29"}`, 422)
	v := obj(t, app.do(t, alice, "POST", "/visits", `{"patientId":`+pid+`,"scheduledAt":"2026-03-01T09:00:00Z","reason":"check-up","fee":42.5}`, 201))
	vid := idText(v["id"])
	// Bob's visit for Alice's patient: the patient decides the organization, which isn't Bob's.
	app.do(t, bob, "POST", "/visits", `{"patientId":`+pid+`,"scheduledAt":"2026-03-01T09:00:00Z","reason":"x"}`, 404)
	app.do(t, alice, "POST", "/prescriptions", `{"visitId":`+vid+`,"drug":"Ibuprofen","dose":"200.00"}`, 201)
	var page struct {
		Data []map[string]any `json:"data"`
	}
	app.do(t, alice, "GET", "/patients/"+pid+"/visits?join=prescriptions", "", 200).JSON(t, &page)
	if len(page.Data) != 1 || len(page.Data[0]["prescriptions"].([]any)) != 1 {
		t.Fatalf("visits with prescriptions: %v", page.Data)
	}
	app.do(t, bob, "GET", "/patients/"+pid+"/visits", "", 404)
	if got := ids(t, app.do(t, alice, "GET", "/visits?filter=fee||$gt||40&filter=status||$eq||booked", "", 200)); len(got) != 1 {
		t.Fatalf("visits: %v", got)
	}
	var raw json.RawMessage
	app.do(t, alice, "GET", "/visits?cursor=&limit=1", "", 200).JSON(t, &raw)
}
