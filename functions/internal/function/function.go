// Package function is the wiring of every Lambda function of template.yaml: which clients it
// needs and how its handler is built on them. A function's main runs one of these
// (lambdamain.Run); functions/server mounts them all in one process; the in-process benchmarks,
// the attack suite and the functions' tests build them exactly as the mains do, because there is
// only this one copy of the wiring.
//
// It lives under functions/internal: only the functions' own packages (the mains, the server,
// their tests and benchmarks) build functions.
package function

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"scaleapi"
	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/auth"
	"scaleapi/shared/domain"
	"scaleapi/shared/guard"
	"scaleapi/shared/health"
	"scaleapi/shared/organization"
	"scaleapi/shared/platform"
	"scaleapi/shared/report"
	"scaleapi/shared/resource"
	"scaleapi/shared/shard"
	"scaleapi/shared/user"
)

// Function is one function of template.yaml.
type Function struct {
	Name  string         // its logical id in template.yaml
	Needs platform.Needs // the clients platform.Build opens for it
	// Build makes the function's router on the clients. It runs once per execution environment;
	// the router it returns is an *api.Router.
	Build func(*platform.Deps) (http.Handler, error)
}

// All returns every function, in template.yaml's order. It is a function, not a variable, so
// that a main which names one function links only that function's packages: a variable listing
// all of them would keep every Build, and everything each reaches, in every binary.
func All() []Function { return []Function{Auth, Organizations, Entities, Reports, Health} }

// authReplayTTL is how long an auth answer stays replayable under its Idempotency-Key.
const authReplayTTL = 10 * time.Minute

// Auth is the function behind /auth: register, login, refresh (public), logout and me.
var Auth = Function{
	Name:  "AuthFunction",
	Needs: platform.Needs{Database: true, Redis: true, Auth: true},
	Build: func(d *platform.Deps) (http.Handler, error) {
		// These answers carry tokens, kept in Redis in the clear while they can be replayed, so
		// they are kept long enough for a client's retries, not the 24 h of other routes.
		guards, err := guard.Setup(d, guard.WithReplayTTL(authReplayTTL))
		if err != nil {
			return nil, err
		}
		passwords, err := auth.NewPasswords(auth.DefaultParams)
		if err != nil {
			return nil, err
		}
		r := api.NewRouter()
		user.Routes(r, user.NewService(user.NewPG(d.Primary), passwords, d.Tokens, d.Sessions, d.Log), guards)
		return r, nil
	},
}

// Organizations is the function behind /organizations: organizations and their members.
var Organizations = Function{
	Name:  "OrganizationsFunction",
	Needs: platform.Needs{Database: true, Redis: true, Auth: true},
	Build: func(d *platform.Deps) (http.Handler, error) {
		guards, err := guard.Setup(d)
		if err != nil {
			return nil, err
		}
		r := api.NewRouter()
		organization.Routes(r, organization.NewService(d.Primary, d.Shards, d.Cache, d.Log), guards)
		return r, nil
	},
}

// Entities is the function behind every route of the data model's entities: the resource
// engine over the root .apsorc (package scaleapi), with the domain's hooks.
//
// One function serves every entity rather than one function per entity: the entities share one
// warm pool of execution environments (fewer cold starts, one connection budget), and a schema
// change adds routes, not functions. The cost is one blast radius and one reserved concurrency
// for all of them; splitting a busy entity out would take a per-function entity filter, which
// is not built.
//
// SCALEAPI_SCHEMA, when set, names another .apsorc to serve instead (make run SCHEMA=…); the
// domain's hooks belong to the root schema and are left out then.
var Entities = Function{
	Name:  "EntitiesFunction",
	Needs: platform.Needs{Database: true, Replica: true, Redis: true, Auth: true},
	Build: func(d *platform.Deps) (http.Handler, error) {
		s, hooks, err := schema(os.Getenv("SCALEAPI_SCHEMA"))
		if err != nil {
			return nil, err
		}
		guards, err := guard.Setup(d)
		if err != nil {
			return nil, err
		}
		eng, err := resource.NewEngine(s, resource.EngineDeps{
			Shards: d.Shards, Members: organization.NewAccess(d.Primary, d.Cache), Cache: d.Cache, Log: d.Log,
		}, hooks)
		if err != nil {
			return nil, err
		}
		r := api.NewRouter()
		eng.Mount(r, guards)
		return r, nil
	},
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

// Reports is the function behind the reporting routes, which read the replica.
var Reports = Function{
	Name:  "ReportsFunction",
	Needs: platform.Needs{Database: true, Replica: true, Redis: true, Auth: true},
	Build: func(d *platform.Deps) (http.Handler, error) {
		guards, err := guard.Setup(d)
		if err != nil {
			return nil, err
		}
		access := organization.NewAccess(d.Primary, d.Cache)
		svc := report.NewService(report.NewStore(d.Shards), access, d.Cache, d.Config.ListCacheTTL)
		r := api.NewRouter()
		report.Routes(r, svc, guards)
		return r, nil
	},
}

// Health is the function behind GET /health (every dependency pinged) and GET /openapi.json.
var Health = Function{
	Name:  "HealthFunction",
	Needs: platform.Needs{Database: true, Replica: true, Redis: true},
	Build: func(d *platform.Deps) (http.Handler, error) {
		checks := map[string]health.Check{
			"database": func(ctx context.Context) error { return d.Primary.Ping(ctx) },
			"replica":  func(ctx context.Context) error { return d.Replica.Ping(ctx) },
			"cache":    func(ctx context.Context) error { return d.Redis.Ping(ctx).Err() },
		}
		// The further shards, by name: a request for one of their organizations fails while
		// its shard is down, and /health says which.
		for _, sh := range d.Shards.Shards()[1:] {
			checks["database:"+sh.Name()] = func(ctx context.Context) error { return ping(ctx, sh.Primary) }
			checks["replica:"+sh.Name()] = func(ctx context.Context) error { return ping(ctx, sh.Replica) }
		}
		r := api.NewRouter()
		health.Routes(r, health.New(checks))
		return r, nil
	},
}

// ping runs one statement on the pool pool returns.
func ping(ctx context.Context, pool func(context.Context) (shard.DB, error)) error {
	conn, err := pool(ctx)
	if err != nil {
		return err
	}
	_, err = conn.Exec(ctx, "SELECT 1")
	return err
}
