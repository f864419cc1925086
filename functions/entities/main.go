// Command entities is the Lambda function behind every route of the data model's entities: the
// resource engine over the root .apsorc (package scaleapi), with the domain's hooks.
//
// One function serves every entity rather than one function per entity: the entities share one
// warm pool of execution environments (fewer cold starts, one connection budget), and a schema
// change adds routes, not functions. The cost is one blast radius and one reserved concurrency
// for all of them; splitting a busy entity out would take a per-function entity filter, which
// is not built.
//
// SCALEAPI_SCHEMA, when set, names another .apsorc to serve instead (make run SCHEMA=…); the
// domain's hooks belong to the root schema and are left out then.
package main

import (
	"fmt"
	"net/http"
	"os"

	"scaleapi"
	"scaleapi/functions/internal/lambdamain"
	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/domain"
	"scaleapi/shared/guard"
	"scaleapi/shared/organization"
	"scaleapi/shared/platform"
	"scaleapi/shared/resource"
)

var needs = platform.Needs{Database: true, Replica: true, Redis: true, Auth: true}

func main() { lambdamain.Run(needs, handler) }

// handler builds the engine's routes once per execution environment.
func handler(d *platform.Deps) (http.Handler, error) {
	s, hooks, err := schema(os.Getenv("SCALEAPI_SCHEMA"))
	if err != nil {
		return nil, err
	}
	guards, err := guard.Setup(d)
	if err != nil {
		return nil, err
	}
	eng, err := resource.NewEngine(s, resource.EngineDeps{
		Primary: d.Primary, Replica: d.Replica, Members: organization.NewAccess(d.Primary, d.Cache), Cache: d.Cache, Log: d.Log,
	}, hooks)
	if err != nil {
		return nil, err
	}
	r := api.NewRouter()
	eng.Mount(r, guards)
	return r, nil
}

// schema returns the schema to serve and its hooks: the embedded root schema, or the file path.
func schema(path string) (*apsorc.Schema, map[string]resource.Hooks, error) {
	if path != "" {
		s, err := apsorc.Load(path)
		return s, nil, err
	}
	s, err := apsorc.Parse(scaleapi.Schema)
	if err != nil {
		return nil, nil, fmt.Errorf("the embedded .apsorc: %w", err)
	}
	return s, domain.Hooks(), nil
}
