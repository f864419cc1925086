package db

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestPoolConfig(t *testing.T) {
	t.Run("LambdaSizedDefaults", func(t *testing.T) {
		cfg, tracer, err := poolConfig(Options{URL: "postgres://app@127.0.0.1:5432/scaleapi"})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.MaxConns != 2 || cfg.MinConns != 0 {
			t.Errorf("MaxConns/MinConns = %d/%d, want 2/0", cfg.MaxConns, cfg.MinConns)
		}
		if cfg.MaxConnIdleTime != 5*time.Minute || cfg.MaxConnIdleTime >= 1800*time.Second {
			t.Errorf("MaxConnIdleTime = %v, want 5m (under RDS Proxy's 1800 s IdleClientTimeout)", cfg.MaxConnIdleTime)
		}
		if cfg.ConnConfig.ConnectTimeout != 2*time.Second {
			t.Errorf("ConnectTimeout = %v, want 2s", cfg.ConnConfig.ConnectTimeout)
		}
		if cfg.MaxConnLifetime != DefaultMaxConnLifetime || cfg.HealthCheckPeriod != DefaultHealthCheckPeriod {
			t.Errorf("MaxConnLifetime/HealthCheckPeriod = %v/%v", cfg.MaxConnLifetime, cfg.HealthCheckPeriod)
		}
		if tracer.pool != "primary" || cfg.ConnConfig.Tracer != tracer {
			t.Errorf("tracer not installed for pool %q", tracer.pool)
		}
		if got := cfg.ConnConfig.RuntimeParams["application_name"]; got != "scaleapi-primary" {
			t.Errorf("application_name = %q", got)
		}
	})

	t.Run("PoolerSafeExecMode", func(t *testing.T) {
		// Even a URL asking for pgx's default mode gets exec mode: the pooler can't take anything else.
		cfg, _, err := poolConfig(Options{URL: "postgres://app@127.0.0.1/x?default_query_exec_mode=cache_statement"})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.ConnConfig.DefaultQueryExecMode != pgx.QueryExecModeExec {
			t.Errorf("exec mode = %v, want exec", cfg.ConnConfig.DefaultQueryExecMode)
		}
		if cfg.ConnConfig.StatementCacheCapacity != 0 || cfg.ConnConfig.DescriptionCacheCapacity != 0 {
			t.Error("statement or description cache enabled")
		}
	})

	t.Run("OptionsOverrideDefaults", func(t *testing.T) {
		cfg, tracer, err := poolConfig(Options{
			URL: "postgres://app@127.0.0.1/x?application_name=mine", Name: "replica",
			MaxConns: 4, MinConns: 1, MaxConnIdleTime: time.Minute, ConnectTimeout: time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.MaxConns != 4 || cfg.MinConns != 1 || cfg.MaxConnIdleTime != time.Minute || cfg.ConnConfig.ConnectTimeout != time.Second {
			t.Errorf("options not applied: %d %d %v %v", cfg.MaxConns, cfg.MinConns, cfg.MaxConnIdleTime, cfg.ConnConfig.ConnectTimeout)
		}
		if tracer.pool != "replica" {
			t.Errorf("pool name = %q, want replica", tracer.pool)
		}
		if got := cfg.ConnConfig.RuntimeParams["application_name"]; got != "mine" {
			t.Errorf("application_name = %q, want the URL's", got)
		}
	})

	t.Run("ErrorWithoutURL", func(t *testing.T) {
		if _, _, err := poolConfig(Options{}); err == nil {
			t.Fatal("no error")
		}
	})

	t.Run("ErrorHidesPassword", func(t *testing.T) {
		_, _, err := poolConfig(Options{URL: "postgres://app:s3cret@127.0.0.1:notaport/x"})
		if err == nil {
			t.Fatal("no error for a bad port")
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error leaks the password: %v", err)
		}
	})

	t.Run("ErrorMinAboveMax", func(t *testing.T) {
		if _, _, err := poolConfig(Options{URL: "postgres://127.0.0.1/x", MaxConns: 1, MinConns: 2}); err == nil {
			t.Fatal("no error")
		}
	})
}

func TestQueryStatsMean(t *testing.T) {
	if (QueryStats{}).Mean() != 0 {
		t.Error("mean of nothing is not 0")
	}
	if got := (QueryStats{Count: 4, Total: 10 * time.Millisecond}).Mean(); got != 2500*time.Microsecond {
		t.Errorf("mean = %v, want 2.5ms", got)
	}
}

func TestCamel(t *testing.T) {
	for in, want := range map[string]string{
		"organization_id": "organizationId", "name": "name", "due_date": "dueDate", "": "",
	} {
		if got := camel(in); got != want {
			t.Errorf("camel(%q) = %q, want %q", in, got, want)
		}
	}
}
