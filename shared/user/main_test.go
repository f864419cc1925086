package user

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/db"
	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/guard"
)

// TestMain starts the real stack: PostgreSQL behind PgBouncer, and Redis.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

var testKey = []byte("0123456789abcdef0123456789abcdef")

// env is one auth function over a fresh database and the shared Redis.
type env struct {
	pool     *db.Pool
	rdb      redis.UniversalClient
	store    *PG
	svc      *Service
	tokens   *auth.Tokens
	sessions *auth.Sessions
	handler  *api.Router
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	database := devtest.NewDatabase(t)
	pool, err := db.Open(ctx, db.Options{URL: database.PoolerURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return newEnvOn(t, pool)
}

// newEnvOn builds an auth function over pool with its own Redis client, signing setup and
// router: what another execution environment of the same deployment holds.
func newEnvOn(t *testing.T, pool *db.Pool) *env {
	t.Helper()
	rdb := devtest.Redis(t)

	pw, err := auth.NewPasswords(auth.DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens(testKey)
	if err != nil {
		t.Fatal(err)
	}
	sessions := auth.NewSessions(rdb, time.Hour)
	e := &env{pool: pool, rdb: rdb, store: NewPG(pool), tokens: tokens, sessions: sessions}
	e.svc = NewService(e.store, pw, tokens, sessions, nil)
	e.handler = api.NewRouter()
	// As functions/auth wires them, with a rate limit no test reaches (every test's requests
	// come from httptest's one address).
	g, err := guard.New(rdb, auth.NewAuthenticator(tokens, sessions).Require, 1<<30, nil, guard.WithReplayTTL(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	Routes(e.handler, e.svc, g)
	return e
}
