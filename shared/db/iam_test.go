package db

import (
	"context"
	"crypto/tls"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/jackc/pgx/v5"
)

// staticCreds stands in for the Lambda role's credentials: signing is pure computation over them.
var staticCreds = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret", Source: "test"}, nil
})

func connConfig(t *testing.T, u string) *pgx.ConnConfig {
	t.Helper()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// parseToken splits a token, a presigned URL without its scheme: host:port?query.
func parseToken(t *testing.T, token string) (hostPort string, q url.Values) {
	t.Helper()
	hostPort, rawQuery, ok := strings.Cut(token, "?")
	if !ok {
		t.Fatalf("token %q is not host:port?query", token)
	}
	hostPort = strings.TrimSuffix(hostPort, "/")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		t.Fatal(err)
	}
	return hostPort, q
}

func TestIAMBeforeConnect(t *testing.T) {
	t.Run("PasswordIsTokenForEndpoint", func(t *testing.T) {
		cfg := connConfig(t, "postgres://app@proxy.example:5432/scaleapi?sslmode=require")
		hook := IAMBeforeConnect("eu-west-1", "proxy.example:5432", "lambda_app", staticCreds)
		if err := hook(t.Context(), cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.User != "lambda_app" {
			t.Errorf("user = %q, want lambda_app", cfg.User)
		}
		hostPort, q := parseToken(t, cfg.Password)
		if hostPort != "proxy.example:5432" {
			t.Errorf("token signed for %q, want proxy.example:5432", hostPort)
		}
		if got := q.Get("Action"); got != "connect" {
			t.Errorf("Action = %q, want connect", got)
		}
		if got := q.Get("DBUser"); got != "lambda_app" {
			t.Errorf("DBUser = %q, want lambda_app", got)
		}
		if got := q.Get("X-Amz-Expires"); got != "900" {
			t.Errorf("X-Amz-Expires = %q, want 900 (15 minutes)", got)
		}
		cred := q.Get("X-Amz-Credential")
		if !strings.HasPrefix(cred, "AKIDEXAMPLE/") || !strings.HasSuffix(cred, "/eu-west-1/rds-db/aws4_request") {
			t.Errorf("X-Amz-Credential = %q, want AKIDEXAMPLE/<date>/eu-west-1/rds-db/aws4_request", cred)
		}
		if q.Get("X-Amz-Signature") == "" {
			t.Error("token has no signature")
		}
	})

	t.Run("EmptyEndpointAndUserComeFromURL", func(t *testing.T) {
		cfg := connConfig(t, "postgres://app@db.internal:6432/scaleapi?sslmode=require")
		if err := IAMBeforeConnect("us-east-1", "", "", staticCreds)(t.Context(), cfg); err != nil {
			t.Fatal(err)
		}
		hostPort, q := parseToken(t, cfg.Password)
		if hostPort != "db.internal:6432" || q.Get("DBUser") != "app" {
			t.Errorf("token for %s user %s, want db.internal:6432 user app", hostPort, q.Get("DBUser"))
		}
	})

	t.Run("PasswordInURLReplaced", func(t *testing.T) {
		// pgxpool hands BeforeConnect a copy of the parsed config for every new connection, so a
		// password left in the URL must not survive: the token always wins.
		cfg := connConfig(t, "postgres://app:stale@db.internal:5432/scaleapi?sslmode=require")
		if err := IAMBeforeConnect("us-east-1", "", "", staticCreds)(t.Context(), cfg); err != nil {
			t.Fatal(err)
		}
		if cfg.Password == "stale" {
			t.Error("password not replaced by a token")
		}
	})

	t.Run("ErrorWithoutTLS", func(t *testing.T) {
		cfg := connConfig(t, "postgres://app@db.internal:5432/scaleapi?sslmode=disable")
		err := IAMBeforeConnect("us-east-1", "", "", staticCreds)(t.Context(), cfg)
		if err == nil || !strings.Contains(err.Error(), "TLS") {
			t.Fatalf("err = %v, want an error about TLS", err)
		}
		if cfg.Password != "" {
			t.Error("a token was set on a clear-text connection")
		}
	})

	t.Run("ErrorFromCredentials", func(t *testing.T) {
		cfg := connConfig(t, "postgres://app@db.internal:5432/scaleapi?sslmode=require")
		cfg.TLSConfig = &tls.Config{ServerName: "db.internal"}
		failing := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, context.DeadlineExceeded
		})
		if err := IAMBeforeConnect("us-east-1", "", "", failing)(t.Context(), cfg); err == nil {
			t.Fatal("no error when credentials can't be retrieved")
		}
	})
}
