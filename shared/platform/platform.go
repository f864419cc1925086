// Package platform builds, once per execution environment, the clients every function shares:
// the config, the logger and metrics emitter, the primary and replica pools, the Redis client and
// cache, and the token verifier. A function's main asks for what it needs (Needs) and wires its
// own domain on top; warm invocations reuse everything built here.
//
// Build touches no process state: it does not make its logger slog's default and never exits.
// Those belong to the program, so a test can build a function as main does without changing
// its own process; functions/internal/lambdamain does them for every function's main.
package platform

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/awsenv"
	"scaleapi/shared/cache"
	"scaleapi/shared/config"
	"scaleapi/shared/db"
	"scaleapi/shared/lambdahttp"
	"scaleapi/shared/metrics"
	"scaleapi/shared/shard"
	"scaleapi/shared/tracing"
)

// Needs says which clients a function uses.
type Needs struct {
	Database bool // the primary pool
	Replica  bool // the reader pool (falls back to the primary's URL, logged)
	Redis    bool // the Redis client and the cache
	Auth     bool // token verification and sessions (needs Redis)
}

// Deps is what Build made. Fields a function did not ask for are nil.
type Deps struct {
	Config  config.Config
	Log     *slog.Logger
	Emitter *metrics.Emitter
	// Shards are the deployment's databases (DATABASE_SHARDS, or the one of DATABASE_URL);
	// Primary and Replica are the pools of its first shard, which holds the global tables
	// (users, memberships, organizations, the shard directory, the cache epoch).
	Shards   *shard.Set
	Primary  *db.Pool
	Replica  *db.Pool
	Redis    redis.UniversalClient // for sessions, rate limits and idempotency records
	Cache    *cache.Cache
	Tokens   *auth.Tokens
	Sessions *auth.Sessions
	Auth     *auth.Authenticator
	Tracing  *tracing.Tracing // nil when OTEL_EXPORTER_OTLP_ENDPOINT is not set

	aws     func(ctx context.Context, region string) (aws.Config, error) // WithAWS's, else awsenv.Config
	closers []func()
}

// Option changes how Build builds.
type Option func(*Deps)

// WithAWS makes Build load the AWS SDK's configuration, where it needs one (IAM database
// authentication, the signing key from Secrets Manager), with load instead of from the
// environment variables Lambda sets (awsenv.Config). Programs that run outside Lambda pass the
// SDK's default chain; the functions pass nothing, so that their binaries do not link it (see
// shared/awsenv).
func WithAWS(load func(ctx context.Context, region string) (aws.Config, error)) Option {
	return func(d *Deps) { d.aws = load }
}

// Build reads the configuration through lookup (os.LookupEnv in main) and opens what needs asks
// for. Connections open lazily (pgxpool's MinConns is 0), so a cold start pays for DNS and
// TLS only on the first query, and a database that is down fails the request, not the start.
func Build(ctx context.Context, lookup func(string) (string, bool), out io.Writer, needs Needs, opts ...Option) (*Deps, error) {
	cfg, err := config.Load(lookup, config.Needs{
		Database: needs.Database || needs.Replica,
		Redis:    needs.Redis || needs.Auth,
		Signing:  needs.Auth,
	})
	if err != nil {
		return nil, err
	}
	level, _ := cfg.Level() // validated by Load
	d := &Deps{
		Config:  cfg,
		Log:     metrics.NewLogger(out, level, cfg.Function),
		Emitter: metrics.NewEmitter(out, cfg.MetricsNamespace, cfg.Function),
		aws: func(_ context.Context, region string) (aws.Config, error) {
			return awsenv.Config(lookup, region)
		},
	}
	for _, o := range opts {
		o(d)
	}
	tr, err := tracing.New(tracing.Options{
		Endpoint: cfg.TracingEndpoint, SampleRatio: cfg.TraceSampleRatio, Service: cfg.Function,
		FlushEachRequest: cfg.LambdaRuntimeAPI != "",
	})
	if err != nil {
		return nil, err
	}
	if tr.Enabled() {
		d.Tracing = tr
		// First in, so that it runs last at Close, once the clients' last spans have ended.
		d.closers = append(d.closers, func() {
			sctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			_ = tr.Shutdown(sctx)
		})
	}
	if err := d.open(ctx, needs); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

func (d *Deps) open(ctx context.Context, needs Needs) error {
	cfg := d.Config
	if needs.Database || needs.Replica {
		// Every shard's pools are named by their role, so the query metrics (and the alarms on
		// them) of all shards add up under "primary" and "replica".
		specs := cfg.Shards()
		set, err := shard.NewSet(specs, func(ctx context.Context, _ string, _ bool, role, url string) (shard.DB, error) {
			return d.pool(ctx, role, url)
		}, shard.Options{})
		if err != nil {
			return err
		}
		d.Shards = set
		// d.pool's pools are *db.Pool: the opener above is the only one.
		home, err := set.Home().Primary(ctx)
		if err != nil {
			return err
		}
		d.Primary = home.(*db.Pool)
		if needs.Replica {
			if specs[0].Reader == "" {
				d.Log.Info("no reader endpoint: reports read from the writer")
			}
			r, err := set.Home().Replica(ctx)
			if err != nil {
				return err
			}
			d.Replica = r.(*db.Pool)
		}
	}
	if needs.Redis || needs.Auth {
		// Two clients on the same Redis, told apart by their timeouts: the cache's gives up
		// after REDIS_TIMEOUT and answers from the database; the guards' (sessions, rate limits,
		// idempotency records, which have no fallback) waits REDIS_GUARD_TIMEOUT. Each pool is
		// REDIS_POOL_SIZE connections per node and opens lazily.
		guard, err := d.redis(cfg.RedisGuardTimeout)
		if err != nil {
			return err
		}
		fast, err := d.redis(cfg.RedisTimeout)
		if err != nil {
			return err
		}
		d.Redis = guard
		o := cache.Options{Logger: d.Log, Observer: cacheMetrics{}}
		if d.Primary != nil {
			// The fence is read from the primary: after an advance, a replica may still answer
			// the old epoch.
			o.Epochs = db.CacheEpochs{Pool: d.Primary}
		}
		d.Cache = cache.New(fast, o)
		if d.Shards != nil {
			d.Shards.CacheLookups(d.Cache)
		}
	}
	if needs.Auth {
		key, err := d.signingKey(ctx)
		if err != nil {
			return err
		}
		tokens, err := auth.NewTokens(key, auth.WithTTL(cfg.AccessTokenTTL))
		if err != nil {
			return err
		}
		d.Tokens = tokens
		d.Sessions = auth.NewSessions(d.Redis, cfg.RefreshTokenTTL)
		d.Auth = auth.NewAuthenticator(tokens, d.Sessions)
	}
	return nil
}

func (d *Deps) redis(timeout time.Duration) (redis.UniversalClient, error) {
	rdb, err := cache.NewClient(cache.ClientOptions{
		URL: d.Config.RedisURL, Cluster: d.Config.RedisCluster,
		ReadTimeout: timeout, WriteTimeout: timeout, PoolSize: d.Config.RedisPoolSize,
	})
	if err != nil {
		return nil, fmt.Errorf("redis: %w", err)
	}
	rdb.AddHook(redisCalls{})
	d.closers = append(d.closers, func() { _ = rdb.Close() })
	if err := d.Tracing.InstrumentRedis(rdb); err != nil {
		return nil, fmt.Errorf("redis tracing: %w", err)
	}
	return rdb, nil
}

func (d *Deps) pool(ctx context.Context, name, rawURL string) (*db.Pool, error) {
	cfg := d.Config
	opts := db.Options{
		URL: rawURL, Name: name,
		MaxConns: cfg.DBMaxConns, MinConns: cfg.DBMinConns,
		MaxConnIdleTime: cfg.DBMaxConnIdleTime, ConnectTimeout: cfg.DBConnectTimeout,
		Tracer: queryMetrics{pool: name, spans: d.Tracing.QueryTracer()},
		Lazy:   true,
	}
	if cfg.DatabaseIAMAuth {
		aws, err := d.awsConfig(ctx)
		if err != nil {
			return nil, err
		}
		u, err := url.Parse(rawURL)
		if err != nil {
			return nil, errors.New("database url: not a URL")
		}
		port := u.Port()
		if port == "" {
			port = "5432"
		}
		opts.BeforeConnect = db.IAMBeforeConnect(cfg.Region, net.JoinHostPort(u.Hostname(), port), u.User.Username(), aws.Credentials)
	}
	p, err := db.Open(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("%s pool: %w", name, err)
	}
	d.closers = append(d.closers, p.Close)
	return p, nil
}

// signingKey is JWT_SECRET when set (local runs), else the Secrets Manager secret, read once at
// cold start: a warm environment never calls Secrets Manager again.
func (d *Deps) signingKey(ctx context.Context) ([]byte, error) {
	if d.Config.JWTSecret != "" {
		return []byte(d.Config.JWTSecret), nil
	}
	aws, err := d.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return auth.LoadSecret(ctx, secretsmanager.NewFromConfig(aws), d.Config.JWTSecretARN)
}

// awsConfig is the AWS SDK's configuration for the deployment's region (see WithAWS).
func (d *Deps) awsConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := d.aws(ctx, d.Config.Region)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	return cfg, nil
}

// Handler wraps a function's router with the middleware every function runs.
func (d *Deps) Handler(h http.Handler) http.Handler {
	idFrom := func(r *http.Request) string { return lambdahttp.RequestID(r.Context()) }
	o := api.NewObserver(d.Emitter, d.Log, idFrom)
	if d.Tracing.Enabled() {
		o.Spans = d.Tracing
	}
	return o.Wrap(h)
}

// Close releases every client, in reverse order of creation. It runs on SIGTERM, when Lambda
// shuts the environment down.
func (d *Deps) Close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
	d.closers = nil
}

// queryMetrics records each query's duration on the request's metrics record, and each round
// trip to PostgreSQL (metrics.DatabaseCall). The pool's own tracer keeps process-wide totals;
// this one attributes queries to the request whose context ran them.
//
// What counts as a round trip follows from the exec mode shared/db sets (QueryExecModeExec; see
// its package comment): every statement is one Parse/Bind/Describe/Execute/Sync flight and one
// wait, never a separate describe, so each traced statement, BEGIN and COMMIT included, is one.
// A batch is one (its statements share one Sync), and so is a COPY (pgconn streams the rows
// behind the COPY statement without waiting for CopyInResponse). The liveness ping pgxpool
// sends on a connection idle for more than a second is one too, though it is no statement.
//
// spans, when tracing is on, makes a span of each query, batch and COPY (shared/tracing).
type queryMetrics struct {
	pool  string
	spans *otelpgx.Tracer
}

type queryStartKey struct{}

func (q queryMetrics) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if q.spans != nil {
		ctx = q.spans.TraceQueryStart(ctx, conn, data)
	}
	return context.WithValue(ctx, queryStartKey{}, time.Now())
}

func (q queryMetrics) TraceQueryEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryEndData) {
	if start, ok := ctx.Value(queryStartKey{}).(time.Time); ok {
		metrics.Query(ctx, q.pool, time.Since(start), data.Err != nil)
	}
	metrics.DatabaseCall(ctx)
	if q.spans != nil {
		q.spans.TraceQueryEnd(ctx, conn, data)
	}
}

func (q queryMetrics) TraceBatchStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	if q.spans != nil {
		ctx = q.spans.TraceBatchStart(ctx, conn, data)
	}
	return ctx
}

func (q queryMetrics) TraceBatchQuery(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchQueryData) {
	if q.spans != nil {
		q.spans.TraceBatchQuery(ctx, conn, data)
	}
}

func (q queryMetrics) TraceBatchEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchEndData) {
	metrics.DatabaseCall(ctx)
	if q.spans != nil {
		q.spans.TraceBatchEnd(ctx, conn, data)
	}
}

func (q queryMetrics) TraceCopyFromStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	if q.spans != nil {
		ctx = q.spans.TraceCopyFromStart(ctx, conn, data)
	}
	return ctx
}

func (q queryMetrics) TraceCopyFromEnd(ctx context.Context, conn *pgx.Conn, data pgx.TraceCopyFromEndData) {
	metrics.DatabaseCall(ctx)
	if q.spans != nil {
		q.spans.TraceCopyFromEnd(ctx, conn, data)
	}
}

func (queryMetrics) TracePing(ctx context.Context) { metrics.DatabaseCall(ctx) }

var (
	_ pgx.BatchTracer    = queryMetrics{}
	_ pgx.CopyFromTracer = queryMetrics{}
	_ db.PingTracer      = queryMetrics{}
)

// redisCalls counts each command and each pipeline a Redis client sends on the metrics record of
// the request whose context sent it (metrics.RedisCall): a pipeline is written at once and its
// replies read together, so it is one round trip however many commands it holds. On a cluster a
// pipeline split over several nodes still counts one: the nodes are asked in parallel. A
// script's NOSCRIPT fallback (EVALSHA, then EVAL) goes through the hook twice and counts two.
type redisCalls struct{}

func (redisCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (redisCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		metrics.RedisCall(ctx)
		return next(ctx, cmd)
	}
}

func (redisCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		metrics.RedisCall(ctx)
		return next(ctx, cmds)
	}
}

// cacheMetrics counts cache events on the request's metrics record.
type cacheMetrics struct{}

func (cacheMetrics) CacheHit(ctx context.Context, _ string)            { metrics.CacheHit(ctx) }
func (cacheMetrics) CacheMiss(ctx context.Context, _ string)           { metrics.CacheMiss(ctx) }
func (cacheMetrics) CacheError(ctx context.Context, _ string, _ error) { metrics.CacheError(ctx) }
