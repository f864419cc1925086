package resourcetest

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	"scaleapi"
	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/domain"
	"scaleapi/shared/resource"
)

// App is the root schema's entities (projects and tasks) served by the resource engine, with
// the domain's hooks, as the entities function's main wires them, over an Env.
type App struct {
	*Env
	Handler http.Handler
}

// AppOption changes how NewApp wires the engine.
type AppOption func(*appConfig)

type appConfig struct {
	db func(resource.DB) resource.DB
}

// WrapDB puts a decorator around each of the engine's databases, for a test that needs to pause
// or observe its statements (the real pools still run them; see Gate).
func WrapDB(f func(resource.DB) resource.DB) AppOption {
	return func(c *appConfig) { c.db = f }
}

// NewApp builds an App on a new Env.
func NewApp(t testing.TB, opts ...AppOption) *App {
	t.Helper()
	return NewAppOn(t, New(t), opts...)
}

// NewAppOn builds an App on e: a second App on the same Env is another execution environment
// of the same deployment (same database and Redis, its own in-process state).
func NewAppOn(t testing.TB, e *Env, opts ...AppOption) *App {
	t.Helper()
	cfg := appConfig{db: func(d resource.DB) resource.DB { return d }}
	for _, o := range opts {
		o(&cfg)
	}
	s, err := apsorc.Parse(scaleapi.Schema)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := resource.NewEngine(s, resource.EngineDeps{Shards: e.shardsThrough(t, e.Cache, cfg.db), Members: e.Members, Cache: e.Cache, Log: e.log}, domain.Hooks())
	if err != nil {
		t.Fatal(err)
	}
	return &App{Env: e, Handler: Router(func(rt *api.Router) { eng.Mount(rt, e.Guards) })}
}

// Do serves req as u.
func (a *App) Do(u User, req Request) *Response {
	return &Response{Do(a.Handler, u, req)}
}

// Created is the id and version of an entity a test made.
type Created struct {
	ID      uuid.UUID `json:"id"`
	Version int       `json:"version"`
}

// Project creates a project named name in org as u, through POST /projects.
func (a *App) Project(t testing.TB, u User, org uuid.UUID, name string) uuid.UUID {
	t.Helper()
	return a.create(t, u, "/projects", `{"organizationId":"`+org.String()+`","name":"`+name+`"}`)
}

// Task creates a task titled title in project as u, through POST /tasks.
func (a *App) Task(t testing.TB, u User, project uuid.UUID, title string) uuid.UUID {
	t.Helper()
	return a.create(t, u, "/tasks", `{"projectId":"`+project.String()+`","title":"`+title+`"}`)
}

func (a *App) create(t testing.TB, u User, path, body string) uuid.UUID {
	t.Helper()
	var c Created
	a.Do(u, Request{Method: "POST", Path: path, Body: body}).Expect(t, http.StatusCreated, "POST "+path).JSON(t, &c)
	return c.ID
}

// Item is what tenancy checks read of a list item.
type Item struct {
	ID             uuid.UUID `json:"id"`
	OrganizationID uuid.UUID `json:"organizationId"`
	Name           string    `json:"name"`
	Title          string    `json:"title"`
	// Tasks and Project hold joined relations, when asked for.
	Tasks   []Item `json:"tasks"`
	Project *Item  `json:"project"`
}

// Page is a list answer.
type Page struct {
	Data       []Item  `json:"data"`
	Count      int     `json:"count"`
	Total      int     `json:"total"`
	NextCursor *string `json:"nextCursor"`
}

// List GETs path as u and decodes the page, failing t unless it is a 200.
func (a *App) List(t testing.TB, u User, path string) Page {
	t.Helper()
	var p Page
	a.Do(u, Request{Method: "GET", Path: path}).Expect(t, http.StatusOK, "GET "+path).JSON(t, &p)
	return p
}
