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
	"scaleapi/shared/idempotency"
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
	Routes(e.handler, e.svc, Guards{
		Authn:       auth.NewAuthenticator(tokens, sessions),
		Idempotency: idempotency.New(rdb, idempotency.WithTTL(10*time.Minute)).Middleware,
	})
	return e
}
