#!/bin/sh
# Regenerates the API Gateway event fixtures from the AWS SAM CLI, so the tests run against the
# events SAM itself produces (pip install aws-sam-cli). The tests derive every other case from
# these two by changing fields, because `sam local generate-event` only parameterises a few of them
# and leaves the rest inconsistent (e.g. --querystringparameters does not touch the multi-value map).
set -eu
cd "$(dirname "$0")"
export SAM_CLI_TELEMETRY=0
sam local generate-event apigateway aws-proxy >aws-proxy.json
sam local generate-event apigateway http-api-proxy >http-api-proxy.json
