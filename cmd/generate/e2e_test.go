package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	lambdaevents "github.com/aws/aws-lambda-go/events"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/auth"
	"scaleapi/shared/domain"
	"scaleapi/shared/guard"
	"scaleapi/shared/organization"
	"scaleapi/shared/platform"
	"scaleapi/shared/resource"
	rt "scaleapi/shared/resource/resourcetest"
)

// TestNewEntityEndToEnd is what a user does to add an entity: write it into the .apsorc, run
// make generate, migrate, deploy. Here: a Note on a project goes into a copy of the repository's
// schema, generate writes its migration, goose applies it to a fresh database, and the entities
// function, built as its main builds it but on that schema, serves Notes through the Lambda
// adapter: CRUD, the list syntax with a join, tenancy, cache invalidation and ETags.
func TestNewEntityEndToEnd(t *testing.T) {
	dir := t.TempDir()
	names, err := filepathGlob(repoRoot, migrationsDir+"/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	copyFiles(t, dir, append(names, schemaFile, templateFile, platformFile, hooksFile)...)
	schema := rootWith(t, []map[string]any{{
		"name": "Note", "created_at": true, "updated_at": true, "scopeBy": "project.organizationId",
		"fields": []map[string]any{
			{"name": "body", "type": "text", "length": 500},
			{"name": "pinned", "type": "boolean", "default": false},
		},
	}}, []map[string]any{{"from": "Project", "to": "Note", "type": "OneToMany", "cascadeDelete": true}}, nil)
	writeFile(t, dir, ".apsorc", schema)
	if _, err := run(dir, false, false, io.Discard); err != nil {
		t.Fatal(err)
	}
	migrated, _ := filepathGlob(dir, migrationsDir+"/*_schema_*.sql")
	if len(migrated) != 1 || !strings.Contains(string(readFile(t, dir, templateFile)), "Path: /notes/{id}") {
		t.Fatalf("generate wrote migrations %v; the template has /notes: %v", migrated, strings.Contains(string(readFile(t, dir, templateFile)), "/notes"))
	}
	s, err := apsorc.Parse(schema)
	if err != nil {
		t.Fatal(err)
	}

	handler := func(d *platform.Deps) (http.Handler, error) {
		for _, sh := range d.Config.Shards() { // every shard holds the entities' tables
			if err := gooseUp(sh.Writer, filepath.Join(dir, migrationsDir)); err != nil {
				return nil, err
			}
		}
		g, err := guard.Setup(d)
		if err != nil {
			return nil, err
		}
		eng, err := resource.NewEngine(s, resource.EngineDeps{Shards: d.Shards,
			Members: organization.NewAccess(d.Primary, d.Cache), Cache: d.Cache, Log: d.Log}, domain.Hooks())
		if err != nil {
			return nil, err
		}
		r := api.NewRouter()
		eng.Mount(r, g)
		return r, nil
	}
	routes, err := engineRoutes(s)
	if err != nil {
		t.Fatal(err)
	}
	e, invoke := rt.Function(t, platform.Needs{Database: true, Redis: true, Auth: true}, handler, routes)
	alice, bob, carol := e.User(t, "Alice"), e.User(t, "Bob"), e.User(t, "Carol")
	orgA := e.Org(t, alice)
	e.Org(t, bob)
	e.Join(t, orgA, carol, auth.RoleMember)
	var project struct{ ID string }
	decode(t, invoke(alice, "POST", "/projects", `{"organizationId":"`+orgA.String()+`","name":"Apollo"}`), 201, &project)

	var note struct {
		ID      string
		Body    string
		Pinned  bool
		Version int
	}
	created := invoke(alice, "POST", "/notes", `{"projectId":"`+project.ID+`","body":"countdown"}`)
	decode(t, created, 201, &note)
	path := "/notes/" + note.ID
	if note.Pinned || rt.ResponseHeader(created, "ETag") != `"1"` || rt.ResponseHeader(created, "Location") != path {
		t.Fatalf("created %+v %v", note, created.MultiValueHeaders)
	}
	expect := func(u rt.User, method, path, body string, status int) string {
		t.Helper()
		r := invoke(u, method, path, body)
		if r.StatusCode != status {
			t.Fatalf("%s %s: %d %s, want %d", method, path, r.StatusCode, r.Body, status)
		}
		return r.Body
	}
	// Read, list with a join and a filter; the cached read and list change with a write.
	expect(alice, "GET", path, "", 200)
	if b := expect(alice, "GET", "/notes?join=project&filter=body||$cont||count", "", 200); !strings.Contains(b, `"name":"Apollo"`) {
		t.Fatalf("list with join: %s", b)
	}
	if b := expect(carol, "PATCH", path, `{"pinned":true}`, 200); !strings.Contains(b, `"pinned":true`) {
		t.Fatalf("PATCH: %s", b)
	}
	if b := expect(alice, "GET", path, "", 200); !strings.Contains(b, `"pinned":true`) || !strings.Contains(b, `"version":2`) {
		t.Fatalf("the cached note was not invalidated: %s", b)
	}
	if b := expect(alice, "GET", "/notes?filter=pinned||$eq||true", "", 200); !strings.Contains(b, note.ID) {
		t.Fatalf("the cached list was not invalidated: %s", b)
	}
	if b := expect(alice, "GET", "/projects/"+project.ID+"/notes", "", 200); !strings.Contains(b, note.ID) {
		t.Fatalf("the project's notes: %s", b)
	}
	// The ETag is the version (the conditional requests themselves are the engine's tests').
	if r := invoke(alice, "GET", path, ""); rt.ResponseHeader(r, "ETag") != `"2"` {
		t.Fatalf("ETag after one write: %v", r.MultiValueHeaders)
	}
	// Tenancy: Bob gets 404 on every route of Alice's note, and can't create one in her project.
	for _, c := range [][3]string{{"GET", path, ""}, {"PATCH", path, `{"body":"x"}`}, {"PUT", path, `{"body":"x"}`},
		{"DELETE", path, ""}, {"PATCH", path + "/recover", ""}, {"GET", "/projects/" + project.ID + "/notes", ""},
		{"POST", "/notes", `{"projectId":"` + project.ID + `","body":"mine"}`}} {
		expect(bob, c[0], c[1], c[2], 404)
	}
	if b := expect(bob, "GET", "/notes", "", 200); strings.Contains(b, note.ID) {
		t.Fatalf("Bob lists Alice's note: %s", b)
	}
	// Cascade: deleting the project deletes its notes; recovering it brings them back.
	expect(alice, "DELETE", "/projects/"+project.ID, "", 204)
	expect(alice, "GET", path, "", 404)
	expect(alice, "PATCH", "/projects/"+project.ID+"/recover", "", 200)
	expect(alice, "GET", path, "", 200)
	expect(alice, "DELETE", path, "", 204)
	expect(alice, "GET", path, "", 404)
}

// gooseUp applies the migrations in dir that the database at url hasn't had.
func gooseUp(url, dir string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return err
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db, os.DirFS(dir), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return err
	}
	_, err = p.Up(context.Background())
	return err
}

// decode checks r's status and decodes its body into v.
func decode(t *testing.T, r lambdaevents.APIGatewayProxyResponse, status int, v any) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", r.StatusCode, status, r.Body)
	}
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatal(err)
	}
}
