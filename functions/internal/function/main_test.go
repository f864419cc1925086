package function_test

import (
	"net/http"
	"os"
	"testing"

	"scaleapi/functions/internal/function"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/lambdahttp/lambdatest"
	"scaleapi/shared/platform"
)

// TestMain starts the real stack: PostgreSQL behind PgBouncer with a streaming replica, and
// Redis.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// build builds f as its main does, from the environment variables its needs call for, over a
// fresh database. The handler is the function's router, without platform's middleware.
func build(t *testing.T, f function.Function) (devtest.Database, *platform.Deps, http.Handler) {
	t.Helper()
	database := devtest.NewDatabase(t)
	env := map[string]string{"DATABASE_URL": database.PoolerURL, "REDIS_URL": devtest.Services(t).RedisURL}
	if f.Needs.Replica {
		env["DATABASE_READER_URL"] = database.ReplicaURL
	}
	if f.Needs.Auth {
		env["JWT_SECRET"] = "0123456789abcdef0123456789abcdef"
	}
	d, h := lambdatest.Build(t, f.Needs, env, f.Build)
	return database, d, h
}
