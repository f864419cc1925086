#!/bin/bash
# LocalStack ready hook (mounted at /etc/localstack/init/ready.d): creates what the deployed
# functions and the deploy script read from AWS, inside LocalStack.
#
#   Secrets Manager  scaleapi/jwt                 the JWT signing key; JWT_SECRET_ARN points here
#   SSM              /scaleapi/jwt-secret-arn     that secret's full ARN, for --parameter-overrides
#                    /scaleapi/database-url       writer URL through the pooler (RDS Proxy stand-in)
#                    /scaleapi/database-reader-url reader URL through the reader pooler
#                    /scaleapi/redis-url          Redis URL
#
# The functions themselves read environment variables only (shared/config); the parameters hold
# the values a deployment passes them, as a real account would keep them, and deploy.sh reads
# the secret's ARN from here. Secrets Manager appends a random suffix to every secret's ARN, so
# the template's default ARN (without one) is not the secret's: the deploy passes the real one.
#
# The key is SCALEAPI_JWT_SECRET when set (at least 32 bytes), else 48 random bytes. LocalStack's
# community edition keeps no state across restarts, so each start makes a new key: tokens issued
# before a restart stop verifying, as they would after a key rotation.
#
# Idempotent: run again (e.g. by hand with `docker compose exec localstack
# /etc/localstack/init/ready.d/10-scaleapi.sh`), it keeps an existing secret unless
# SCALEAPI_JWT_SECRET is set, and overwrites the parameters.
set -euo pipefail

# awslocal signs requests like the AWS CLI and needs credentials; LocalStack accepts any.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}

secret_name=${SCALEAPI_JWT_SECRET_NAME:-scaleapi/jwt}
database_url=${SCALEAPI_DATABASE_URL:-postgres://scaleapi@pgbouncer:6432/scaleapi?sslmode=require}
reader_url=${SCALEAPI_DATABASE_READER_URL:-postgres://scaleapi@pgbouncer-reader:6432/scaleapi?sslmode=require}
redis_url=${SCALEAPI_REDIS_URL:-redis://redis:6379/0}

key=${SCALEAPI_JWT_SECRET:-}
if [ -n "$key" ] && [ "${#key}" -lt 32 ]; then
  echo "scaleapi: SCALEAPI_JWT_SECRET must be at least 32 bytes (the functions refuse shorter keys)" >&2
  exit 1
fi

if arn=$(awslocal secretsmanager describe-secret --secret-id "$secret_name" --query ARN --output text 2>/dev/null); then
  if [ -n "$key" ]; then
    awslocal secretsmanager put-secret-value --secret-id "$secret_name" --secret-string "$key" >/dev/null
    echo "scaleapi: secret $secret_name updated from SCALEAPI_JWT_SECRET"
  else
    echo "scaleapi: secret $secret_name exists, kept"
  fi
else
  if [ -z "$key" ]; then
    key=$(head -c 48 /dev/urandom | base64 | tr -d '\n')
  fi
  arn=$(awslocal secretsmanager create-secret --name "$secret_name" \
    --description "scaleapi JWT signing key (local)" \
    --secret-string "$key" --query ARN --output text)
  echo "scaleapi: secret $secret_name created"
fi

put_parameter() {
  awslocal ssm put-parameter --name "$1" --type String --value "$2" --overwrite >/dev/null
}
put_parameter /scaleapi/jwt-secret-arn "$arn"
put_parameter /scaleapi/database-url "$database_url"
put_parameter /scaleapi/database-reader-url "$reader_url"
put_parameter /scaleapi/redis-url "$redis_url"
echo "scaleapi: SSM parameters /scaleapi/* written; JWT secret ARN $arn"
