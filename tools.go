//go:build tools

// Package scaleapi pins modules that later packages import; it is removed once they do.
package scaleapi

import (
	_ "github.com/HdrHistogram/hdrhistogram-go"
	_ "github.com/alicebob/miniredis/v2"
	_ "github.com/aws/aws-lambda-go/lambda"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/feature/rds/auth"
	_ "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	_ "github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
	_ "github.com/awslabs/goformation/v7"
	_ "github.com/caarlos0/env/v11"
	_ "github.com/golang-jwt/jwt/v5"
	_ "github.com/google/uuid"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/pressly/goose/v3"
	_ "github.com/prometheus/client_model/go"
	_ "github.com/prometheus/common/expfmt"
	_ "github.com/redis/go-redis/v9"
	_ "golang.org/x/crypto/argon2"
	_ "golang.org/x/sync/singleflight"
)
