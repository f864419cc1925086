package resourcetest

import (
	"net/http"
	"testing"

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
	cfg := appConfig{
		projects: func(s project.Store) project.Store { return s },
		tasks:    func(s task.Store) task.Store { return s },
	}
	for _, o := range opts {
		o(&cfg)
	}
	e := New(t)
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
