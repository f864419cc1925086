package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults sized for one Lambda execution environment; see the package comment.
const (
	DefaultMaxConns int32 = 2
	DefaultMinConns int32 = 0
	// DefaultMaxConnIdleTime is well under RDS Proxy's IdleClientTimeout (1800 s): we close an idle
	// connection cleanly before the proxy drops it, and give back the proxy's client slot of an
	// environment that has stopped getting traffic.
	DefaultMaxConnIdleTime = 5 * time.Minute
	// DefaultMaxConnLifetime recycles connections so that after a failover or a proxy scale-out
	// traffic spreads again. The IAM token is only checked when connecting, so this needn't be
	// shorter than the token's 15 minutes.
	DefaultMaxConnLifetime = 30 * time.Minute
	// DefaultConnectTimeout fails fast: inside a Lambda's budget a request is better off with a
	// 503 and Retry-After than waiting for a dead endpoint.
	DefaultConnectTimeout    = 2 * time.Second
	DefaultHealthCheckPeriod = time.Minute
	// DefaultName is the pool name reported to the QueryObserver when Options.Name is empty.
	DefaultName = "primary"
)

// Options configure Open. Zero fields take the defaults above. Pool settings in the URL
// (pool_max_conns and the like) are ignored: set them here.
type Options struct {
	URL string
	// Name labels the pool's query metrics: "primary" or "replica".
	Name              string
	MaxConns          int32
	MinConns          int32
	MaxConnIdleTime   time.Duration
	MaxConnLifetime   time.Duration
	ConnectTimeout    time.Duration
	HealthCheckPeriod time.Duration
	// BeforeConnect runs before every new connection and may change its config, e.g.
	// IAMBeforeConnect sets a fresh IAM token as the password.
	BeforeConnect func(ctx context.Context, cfg *pgx.ConnConfig) error
	// Observer, when set, receives every query's duration (see QueryObserver).
	Observer QueryObserver
	// Tracer, when set, is called after the pool's own timing tracer (e.g. a query logger). If
	// it also implements pgx.BatchTracer, pgx.CopyFromTracer or PingTracer, it is told of
	// batches, COPYs and the pool's liveness pings too.
	Tracer pgx.QueryTracer
	// Lazy skips Open's connection check. Functions set it: a database that is down during a
	// cold start should fail that request with a clean 503 (and let /health say which check
	// failed), not fail the environment's init, which API Gateway turns into a bare 502.
	Lazy bool
}

// Pool is a pgxpool.Pool that knows its name and times its queries. Its embedded *pgxpool.Pool
// gives stores Exec, Query, QueryRow, SendBatch, Begin and BeginTx, and gives main Close.
type Pool struct {
	*pgxpool.Pool
	name   string
	tracer *Tracer
}

// Open builds a pool from opts and checks that the database answers, so that a misconfigured
// URL fails a cold start instead of the first request. The connection opened for the check stays
// in the pool for the first request: called from a Lambda's main, the connect happens in the init
// phase rather than on the first request's clock.
func Open(ctx context.Context, opts Options) (*Pool, error) {
	cfg, tracer, err := poolConfig(opts)
	if err != nil {
		return nil, err
	}
	p, err := newPool(ctx, cfg, tracer)
	if err != nil {
		return nil, err
	}
	if opts.Lazy {
		return p, nil
	}
	if err := p.Ping(ctx); err != nil {
		p.Close()
		return nil, fmt.Errorf("db: open %s: %w", p.name, err)
	}
	return p, nil
}

func newPool(ctx context.Context, cfg *pgxpool.Config, tracer *Tracer) (*Pool, error) {
	pp, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("db: open %s: %w", tracer.pool, err)
	}
	return &Pool{Pool: pp, name: tracer.pool, tracer: tracer}, nil
}

// poolConfig turns Options into a pgxpool config with the defaults, the exec mode and the tracer.
func poolConfig(opts Options) (*pgxpool.Config, *Tracer, error) {
	if opts.URL == "" {
		return nil, nil, errors.New("db: no database URL")
	}
	name := opts.Name
	if name == "" {
		name = DefaultName
	}
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		// pgx redacts the password in its message only on a best-effort basis: keep the cause.
		cause := errors.Unwrap(err)
		if cause == nil {
			cause = errors.New("malformed")
		}
		return nil, nil, fmt.Errorf("db: parse %s database URL: %w", name, cause)
	}

	cfg.MaxConns = orDefault(opts.MaxConns, DefaultMaxConns)
	cfg.MinConns = orDefault(opts.MinConns, DefaultMinConns)
	if cfg.MinConns > cfg.MaxConns {
		return nil, nil, fmt.Errorf("db: %s pool: MinConns %d > MaxConns %d", name, cfg.MinConns, cfg.MaxConns)
	}
	cfg.MaxConnIdleTime = orDefault(opts.MaxConnIdleTime, DefaultMaxConnIdleTime)
	cfg.MaxConnLifetime = orDefault(opts.MaxConnLifetime, DefaultMaxConnLifetime)
	// Spread reconnects so that environments started together don't all reconnect together.
	cfg.MaxConnLifetimeJitter = cfg.MaxConnLifetime / 10
	cfg.HealthCheckPeriod = orDefault(opts.HealthCheckPeriod, DefaultHealthCheckPeriod)
	cfg.ConnConfig.ConnectTimeout = orDefault(opts.ConnectTimeout, DefaultConnectTimeout)
	cfg.BeforeConnect = opts.BeforeConnect

	// See the package comment for why, and TestPoolerConcurrentQueries for the proof.
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	// Exec mode caches nothing; zero capacities make sure no cache is even allocated.
	cfg.ConnConfig.StatementCacheCapacity = 0
	cfg.ConnConfig.DescriptionCacheCapacity = 0

	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		// Names the connection in pg_stat_activity and PgBouncer's SHOW CLIENTS; PgBouncer
		// tracks application_name, so it is safe as a startup parameter behind the pooler.
		cfg.ConnConfig.RuntimeParams["application_name"] = "scaleapi-" + name
	}

	// Exec mode encodes parameters without knowing their PostgreSQL types, so pgx picks a codec
	// from the Go type alone; teach it the project's ID type, or a []uuid.UUID (WHERE id =
	// ANY($1)) can't be encoded at all.
	cfg.AfterConnect = registerTypes

	tracer := NewTracer(name, opts.Observer, opts.Tracer)
	cfg.ConnConfig.Tracer = tracer
	if pt, ok := opts.Tracer.(PingTracer); ok {
		cfg.ShouldPing = shouldPing(pt)
	}
	return cfg, tracer, nil
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Name returns the pool's name ("primary", "replica").
func (p *Pool) Name() string { return p.name }

// QueryStats returns the pool's query count and total duration since Open.
func (p *Pool) QueryStats() QueryStats { return p.tracer.Stats() }

// registerTypes maps Go types that pgx can't place on its own to PostgreSQL types, for
// QueryExecModeExec's parameter encoding; see the package comment.
func registerTypes(_ context.Context, conn *pgx.Conn) error {
	m := conn.TypeMap()
	m.RegisterDefaultPgType(uuid.UUID{}, "uuid")
	m.RegisterDefaultPgType(&uuid.UUID{}, "uuid")
	m.RegisterDefaultPgType([]uuid.UUID{}, "_uuid")
	return nil
}
