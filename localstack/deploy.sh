#!/usr/bin/env bash
# Builds template.yaml and deploys it to the LocalStack of docker-compose.yml with samlocal, then
# prints the API's URL and calls GET /health through it. Run from anywhere, after
#   docker compose -f localstack/docker-compose.yml up -d --wait
#   pip install aws-sam-cli==1.170.0 aws-sam-cli-local==1.71.0
#
# LocalStack's community edition has Lambda, API Gateway (REST v1), Secrets Manager, SSM,
# CloudWatch (logs, alarms), CloudFormation, S3 and IAM, but not RDS Proxy or ElastiCache: the
# parameter overrides below point the functions at the compose services instead.
#
# Environment: STACK_NAME (scaleapi), STAGE (dev), AWS_DEFAULT_REGION (us-east-1),
# SCALEAPI_LOCALSTACK_PORT (4566, as in docker-compose.yml).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"

stack=${STACK_NAME:-scaleapi}
stage=${STAGE:-dev}
export AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-us-east-1}
export AWS_REGION=$AWS_DEFAULT_REGION
# LocalStack accepts any credentials; samlocal would default to these too.
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-test}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-test}
port=${SCALEAPI_LOCALSTACK_PORT:-4566}
export AWS_ENDPOINT_URL=${AWS_ENDPOINT_URL:-http://localhost:$port}
# samlocal 1.71.0 is the wrapper that matches the pinned LocalStack 4.14.0; its successor CLI
# belongs to the releases that need an auth token. Its notice says so on every run.
export DISABLE_DEPRECATION_NOTICE=1

compose=(docker compose -f "$here/docker-compose.yml")
# awslocal inside the LocalStack container: the host needs no AWS CLI of its own.
awslocal() { "${compose[@]}" exec -T localstack awslocal "$@"; }

for tool in docker samlocal go; do
  if ! command -v "$tool" >/dev/null; then
    echo "deploy.sh: $tool not found (samlocal: pip install aws-sam-cli==1.170.0 aws-sam-cli-local==1.71.0)" >&2
    exit 1
  fi
done

if ! jwt_secret_arn=$(awslocal ssm get-parameter --name /scaleapi/jwt-secret-arn --query Parameter.Value --output text 2>/dev/null); then
  echo "deploy.sh: LocalStack is not up, or its ready hook has not run:" >&2
  echo "  docker compose -f localstack/docker-compose.yml up -d --wait" >&2
  exit 1
fi

# The parameter overrides: RDS Proxy and ElastiCache are not in LocalStack's community edition,
# so every endpoint is given (an empty one would make the template create Aurora, the proxy or the
# cache, and the VPC for them), and the functions reach the compose services by name on the
# scaleapi-local network, which
# LAMBDA_DOCKER_NETWORK puts their containers on. Password-less URLs, as deployed: the PgBouncer
# stand-ins trust the user (pgbouncer/*.ini). Tracing=none: the collector layer is in AWS's
# account (901920570463), which LocalStack's free edition cannot fetch, and it has no X-Ray.
# localstack_test.go resolves template.yaml with exactly these and checks that every function's
# configuration loads.
overrides=(
  DatabaseProxyEndpoint=pgbouncer
  DatabaseReaderEndpoint=pgbouncer-reader
  DatabasePort=6432
  DatabaseName=scaleapi
  DatabaseUser=scaleapi
  DatabaseIAMAuth=false
  RedisUrl=redis://redis:6379/0
  RedisCluster=false
  Tracing=none
)

# Bootstraps for the Docker host's architecture: LocalStack runs each function on it
# (LAMBDA_IGNORE_ARCHITECTURE) whatever the template says. The Makefile takes GOARCH from the
# environment. --no-cached: SAM's cache does not key on GOARCH, and a cached arm64 build would be
# reused for an amd64 host.
arch=$(docker version --format '{{.Server.Arch}}' 2>/dev/null || go env GOHOSTARCH)
build_dir=.aws-sam/localstack
echo "deploy.sh: building for linux/$arch into $build_dir"
GOARCH=$arch samlocal build --template-file template.yaml --build-dir "$build_dir/build" --no-cached

samlocal deploy \
  --template-file "$build_dir/build/template.yaml" \
  --stack-name "$stack" \
  --region "$AWS_DEFAULT_REGION" \
  --capabilities CAPABILITY_IAM \
  --resolve-s3 \
  --no-confirm-changeset \
  --no-fail-on-empty-changeset \
  --parameter-overrides "${overrides[@]}" "JwtSecretArn=$jwt_secret_arn" "Stage=$stage"

api_id=$(awslocal apigateway get-rest-apis --query "items[?name=='$stack-api'].id | [0]" --output text | tr -d '\r')
if [ -z "$api_id" ] || [ "$api_id" = None ]; then
  echo "deploy.sh: no REST API named $stack-api in LocalStack" >&2
  exit 1
fi
url="http://localhost:$port/_aws/execute-api/$api_id/$stage"
echo
echo "API:   $url"
echo "       http://$api_id.execute-api.localhost.localstack.cloud:$port/$stage"
echo "Logs:  docker compose -f localstack/docker-compose.yml exec localstack awslocal logs filter-log-events \\"
echo "         --log-group-name /aws/lambda/$stack-health --query 'events[].message' --output text"
echo
# The first call cold-starts a Lambda container: allow it the function's timeout and more.
curl -fsS --max-time 60 "$url/health"
echo
