package db

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	"github.com/jackc/pgx/v5"
)

// IAMBeforeConnect returns an Options.BeforeConnect that authenticates each new connection with an
// RDS IAM token instead of a stored password. A token is valid for 15 minutes, but it is only
// checked when a connection is opened, and BeforeConnect runs for every new connection, so each
// one gets a fresh token and a connection may outlive the token it was opened with.
//
// endpoint is the host:port the token is signed for (the RDS Proxy or instance endpoint); when it
// is empty, the connection's own host and port are used. user is the database user; when it is
// empty, the URL's user is used. creds would typically be the Lambda role's credentials from
// aws-sdk-go-v2/config, which the SDK caches and refreshes, so signing is a local HMAC with no
// network call.
//
// The connection must use TLS (sslmode=require or verify-full): the token is a bearer credential,
// and RDS refuses IAM authentication in clear text anyway, so a non-TLS config is an error here
// rather than a confusing authentication failure later.
func IAMBeforeConnect(region, endpoint, user string, creds aws.CredentialsProvider) func(ctx context.Context, cfg *pgx.ConnConfig) error {
	return func(ctx context.Context, cfg *pgx.ConnConfig) error {
		if cfg.TLSConfig == nil {
			return errors.New("db: IAM authentication needs TLS: set sslmode=require or verify-full")
		}
		ep := endpoint
		if ep == "" {
			ep = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
		}
		if user != "" {
			cfg.User = user
		}
		token, err := auth.BuildAuthToken(ctx, ep, region, cfg.User, creds)
		if err != nil {
			return fmt.Errorf("db: build IAM auth token: %w", err)
		}
		cfg.Password = token
		return nil
	}
}
