package resourcetest

import (
	"net/http"
	"testing"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/project"
	"scaleapi/shared/task"
)

// App is the projects and tasks routes, wired as the two functions' mains wire them, on one
// router, over an Env.
type App struct {
	*Env
	Handler  http.Handler
	Projects *project.Service
	Tasks    *task.Service
}

// AppOption changes how NewApp wires the services.
type AppOption func(*appConfig)

type appConfig struct {
	projects func(project.Store) project.Store
	tasks    func(task.Store) task.Store
}

// WrapProjects puts a decorator around the projects' store, for a test that needs to pause or
// observe it (the real PG store still does the work).
func WrapProjects(f func(project.Store) project.Store) AppOption {
	return func(c *appConfig) { c.projects = f }
}

// WrapTasks is WrapProjects for the tasks' store.
func WrapTasks(f func(task.Store) task.Store) AppOption {
	return func(c *appConfig) { c.tasks = f }
}

// NewApp builds an App on a new Env.
func NewApp(t testing.TB, opts ...AppOption) *App {
	t.Helper()
	return NewAppOn(New(t), opts...)
}

// NewAppOn builds an App on e: a second App on the same Env is another execution environment
// of the same deployment (same database and Redis, its own in-process state).
func NewAppOn(e *Env, opts ...AppOption) *App {
	cfg := appConfig{
		projects: func(s project.Store) project.Store { return s },
		tasks:    func(s task.Store) task.Store { return s },
	}
	for _, o := range opts {
		o(&cfg)
	}
	projects := project.NewService(cfg.projects(project.NewPG(e.DB)), e.Members, e.Options)
	tasks := task.NewService(cfg.tasks(task.NewPG(e.DB)), projects, e.Members, e.Options)
	h := Router(func(rt *api.Router) {
		project.Routes(rt, projects, e.Guards)
		task.Routes(rt, tasks, e.Guards)
	})
	return &App{Env: e, Handler: h, Projects: projects, Tasks: tasks}
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
