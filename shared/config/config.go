// Package config reads the one Config every function uses, from the environment, once, in main.
// Library packages never read the environment: they take options built from this struct.
//
// Variables (defaults in brackets):
//
//	DATABASE_URL           writer, through the pooler (RDS Proxy / PgBouncer)   [required, or
//	                                                                           DATABASE_SHARDS]
//	DATABASE_READER_URL    reader endpoint for reports                         [DATABASE_URL, logged]
//	DATABASE_SHARDS        the shard map, a JSON array of {name, writer,       [one shard: the two
//	                       reader, weight}, the directory's shard first         above]
//	                       (shared/shard); instead of the two above
//	DATABASE_IAM_AUTH      use RDS IAM tokens instead of the URL's password    [false]
//	AWS_REGION             region for IAM tokens and Secrets Manager           [set by Lambda]
//	DB_MAX_CONNS           connections per pool and execution environment      [2]
//	DB_MIN_CONNS           connections kept open                               [0]
//	DB_MAX_CONN_IDLE_TIME  close a connection idle this long                   [5m]
//	DB_CONNECT_TIMEOUT     dial + startup timeout (the seed's 2 s)             [2s]
//	REDIS_URL              redis://, rediss:// (TLS), or a cluster URL          [required]
//	REDIS_CLUSTER          treat REDIS_URL as a cluster seed                    [false]
//	REDIS_POOL_SIZE        connections per Redis node, client and environment  [2]
//	REDIS_TIMEOUT          read/write timeout of cache commands                [50ms]
//	REDIS_GUARD_TIMEOUT    read/write timeout of session, rate-limit and       [250ms]
//	                       idempotency commands, which fail closed
//	CACHE_TTL              entity cache TTL (the seed's default)               [300s]
//	LIST_CACHE_TTL         list cache TTL (the seed's CacheTTL)                [60s]
//	JWT_SECRET             HMAC signing key (local runs)                       [one of the two]
//	JWT_SECRET_ARN         Secrets Manager secret holding the signing key      [one of the two]
//	ACCESS_TOKEN_TTL       access token lifetime                               [15m]
//	REFRESH_TOKEN_TTL      refresh token (session) lifetime                    [720h]
//	RATE_LIMIT_PER_MINUTE  requests per user (per IP on public routes)         [600]
//	LOG_LEVEL              debug | info | warn | error                         [info]
//	METRICS_NAMESPACE      CloudWatch EMF namespace                            [ScaleAPI]
//	OTEL_EXPORTER_OTLP_ENDPOINT  OTLP/HTTP receiver of trace spans (the ADOT   [off]
//	                       collector extension's http://localhost:4318)
//	TRACE_SAMPLE_RATIO     share of requests traced where no X-Ray header      [0.05]
//	                       decides (outside Lambda)
//	AWS_LAMBDA_RUNTIME_API set by Lambda: spans are flushed before each answer
//	AWS_LAMBDA_FUNCTION_NAME  set by Lambda (and by cmd/local)                 [local]
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"scaleapi/shared/shard"
)

// Config is everything a function needs to build its clients.
type Config struct {
	Function string `env:"AWS_LAMBDA_FUNCTION_NAME" envDefault:"local"`
	Region   string `env:"AWS_REGION"`

	DatabaseURL       string        `env:"DATABASE_URL"`
	DatabaseReaderURL string        `env:"DATABASE_READER_URL"`
	DatabaseShards    string        `env:"DATABASE_SHARDS"`
	DatabaseIAMAuth   bool          `env:"DATABASE_IAM_AUTH" envDefault:"false"`
	DBMaxConns        int32         `env:"DB_MAX_CONNS" envDefault:"2"`
	DBMinConns        int32         `env:"DB_MIN_CONNS" envDefault:"0"`
	DBMaxConnIdleTime time.Duration `env:"DB_MAX_CONN_IDLE_TIME" envDefault:"5m"`
	DBConnectTimeout  time.Duration `env:"DB_CONNECT_TIMEOUT" envDefault:"2s"`

	RedisURL     string `env:"REDIS_URL"`
	RedisCluster bool   `env:"REDIS_CLUSTER" envDefault:"false"`
	// RedisPoolSize is 2 for a Lambda environment, which serves one request at a time (one
	// connection for it and a spare); functions/server, which serves many at once, raises it.
	RedisPoolSize int           `env:"REDIS_POOL_SIZE" envDefault:"2"`
	RedisTimeout  time.Duration `env:"REDIS_TIMEOUT" envDefault:"50ms"`
	// RedisGuardTimeout is longer than RedisTimeout because what it bounds has no fallback: a
	// session check that times out is a 503, where a cache read that times out is a database
	// read. A busy machine's scheduling delay must not turn into refused requests.
	RedisGuardTimeout time.Duration `env:"REDIS_GUARD_TIMEOUT" envDefault:"250ms"`

	CacheTTL     time.Duration `env:"CACHE_TTL" envDefault:"300s"`
	ListCacheTTL time.Duration `env:"LIST_CACHE_TTL" envDefault:"60s"`

	JWTSecret       string        `env:"JWT_SECRET"`
	JWTSecretARN    string        `env:"JWT_SECRET_ARN"`
	AccessTokenTTL  time.Duration `env:"ACCESS_TOKEN_TTL" envDefault:"15m"`
	RefreshTokenTTL time.Duration `env:"REFRESH_TOKEN_TTL" envDefault:"720h"`

	RateLimitPerMinute int `env:"RATE_LIMIT_PER_MINUTE" envDefault:"600"`

	LogLevel         string `env:"LOG_LEVEL" envDefault:"info"`
	MetricsNamespace string `env:"METRICS_NAMESPACE" envDefault:"ScaleAPI"`

	TracingEndpoint  string  `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	TraceSampleRatio float64 `env:"TRACE_SAMPLE_RATIO" envDefault:"0.05"`
	LambdaRuntimeAPI string  `env:"AWS_LAMBDA_RUNTIME_API"`
}

// Needs says which dependencies a function uses, so that Load only insists on those.
type Needs struct {
	Database bool
	Redis    bool
	Signing  bool
}

// Load reads the environment (lookup is os.LookupEnv in main, a map in tests) and validates it.
// Every problem is reported at once, each naming its variable, so a cold start fails with one
// clear message instead of a nil pointer later.
func Load(lookup func(string) (string, bool), needs Needs) (Config, error) {
	var c Config
	opts := env.Options{Environment: environ(lookup)}
	if err := env.ParseWithOptions(&c, opts); err != nil {
		return c, fmt.Errorf("config: %w", namedErrors(err))
	}
	return c, c.validate(needs)
}

// namedErrors rewrites the library's parse errors, which name struct fields, to name the
// variables a user actually sets.
func namedErrors(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	rt := reflect.TypeOf(Config{})
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := rt.FieldByName(pe.Name); ok {
				out = append(out, fmt.Errorf("%s: %w", f.Tag.Get("env"), pe.Err))
				continue
			}
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

func environ(lookup func(string) (string, bool)) map[string]string {
	m := map[string]string{}
	for _, k := range keys {
		if v, ok := lookup(k); ok {
			m[k] = v
		}
	}
	return m
}

// keys lists every variable Config reads; a test keeps it in step with the struct tags.
var keys = []string{
	"AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "DATABASE_URL", "DATABASE_READER_URL", "DATABASE_SHARDS", "DATABASE_IAM_AUTH",
	"DB_MAX_CONNS", "DB_MIN_CONNS", "DB_MAX_CONN_IDLE_TIME", "DB_CONNECT_TIMEOUT", "REDIS_URL",
	"REDIS_CLUSTER", "REDIS_POOL_SIZE", "REDIS_TIMEOUT", "REDIS_GUARD_TIMEOUT", "CACHE_TTL", "LIST_CACHE_TTL", "JWT_SECRET", "JWT_SECRET_ARN",
	"ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "RATE_LIMIT_PER_MINUTE", "LOG_LEVEL", "METRICS_NAMESPACE",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "TRACE_SAMPLE_RATIO", "AWS_LAMBDA_RUNTIME_API",
}

func (c *Config) validate(needs Needs) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if needs.Database {
		switch {
		case c.DatabaseShards != "":
			if c.DatabaseURL != "" || c.DatabaseReaderURL != "" {
				bad("DATABASE_SHARDS replaces DATABASE_URL and DATABASE_READER_URL: set one or the other")
			}
			if _, err := shard.ParseMap(c.DatabaseShards); err != nil {
				bad("DATABASE_SHARDS: %v", err)
			}
		case c.DatabaseURL == "":
			bad("DATABASE_URL is required (postgres://user@host:port/db, through the pooler)")
		default:
			if err := checkURL(c.DatabaseURL, "postgres", "postgresql"); err != nil {
				bad("DATABASE_URL: %v", err)
			}
		}
		if c.DatabaseReaderURL != "" {
			if err := checkURL(c.DatabaseReaderURL, "postgres", "postgresql"); err != nil {
				bad("DATABASE_READER_URL: %v", err)
			}
		}
		if c.DatabaseIAMAuth && c.Region == "" {
			bad("DATABASE_IAM_AUTH needs AWS_REGION")
		}
		if c.DBMaxConns < 1 {
			bad("DB_MAX_CONNS must be at least 1, got %d", c.DBMaxConns)
		}
		if c.DBMinConns < 0 || c.DBMinConns > c.DBMaxConns {
			bad("DB_MIN_CONNS must be between 0 and DB_MAX_CONNS (%d), got %d", c.DBMaxConns, c.DBMinConns)
		}
		if c.DBConnectTimeout <= 0 {
			bad("DB_CONNECT_TIMEOUT must be positive")
		}
	}
	if needs.Redis {
		if c.RedisURL == "" {
			bad("REDIS_URL is required (redis://host:port, rediss:// for TLS)")
		} else if err := checkURL(c.RedisURL, "redis", "rediss"); err != nil {
			bad("REDIS_URL: %v", err)
		}
		if c.RedisTimeout <= 0 || c.RedisGuardTimeout <= 0 {
			bad("REDIS_TIMEOUT and REDIS_GUARD_TIMEOUT must be positive")
		}
		if c.RedisPoolSize < 1 {
			bad("REDIS_POOL_SIZE must be at least 1, got %d", c.RedisPoolSize)
		}
	}
	if needs.Signing {
		switch {
		case c.JWTSecret == "" && c.JWTSecretARN == "":
			bad("JWT_SECRET or JWT_SECRET_ARN is required")
		case c.JWTSecret != "" && len(c.JWTSecret) < 32:
			bad("JWT_SECRET must be at least 32 bytes")
		}
		if c.AccessTokenTTL <= 0 || c.RefreshTokenTTL <= c.AccessTokenTTL {
			bad("ACCESS_TOKEN_TTL must be positive and shorter than REFRESH_TOKEN_TTL")
		}
	}
	if c.CacheTTL <= 0 || c.ListCacheTTL <= 0 {
		bad("CACHE_TTL and LIST_CACHE_TTL must be positive")
	}
	if c.RateLimitPerMinute < 1 {
		bad("RATE_LIMIT_PER_MINUTE must be at least 1")
	}
	if _, err := c.Level(); err != nil {
		bad("LOG_LEVEL: %v", err)
	}
	if c.TracingEndpoint != "" {
		if err := checkURL(c.TracingEndpoint, "http", "https"); err != nil {
			bad("OTEL_EXPORTER_OTLP_ENDPOINT: %v", err)
		}
	}
	if c.TraceSampleRatio < 0 || c.TraceSampleRatio > 1 {
		bad("TRACE_SAMPLE_RATIO must be between 0 and 1, got %v", c.TraceSampleRatio)
	}
	return errors.Join(errs...)
}

func checkURL(raw string, schemes ...string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL") // the URL may hold a password: never echo it
	}
	for _, s := range schemes {
		if u.Scheme == s {
			if u.Host == "" {
				return errors.New("no host")
			}
			return nil
		}
	}
	return fmt.Errorf("scheme %q is not one of %s", u.Scheme, strings.Join(schemes, ", "))
}

// Shards returns the shard map: DATABASE_SHARDS, or one shard named "main" of DATABASE_URL and
// DATABASE_READER_URL (validated by Load).
func (c *Config) Shards() []shard.Spec {
	if c.DatabaseShards != "" {
		specs, _ := shard.ParseMap(c.DatabaseShards)
		return specs
	}
	return []shard.Spec{{Name: "main", Writer: c.DatabaseURL, Reader: c.DatabaseReaderURL}}
}

// Level returns LOG_LEVEL as a slog.Level.
func (c *Config) Level() (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(c.LogLevel))
	return l, err
}
