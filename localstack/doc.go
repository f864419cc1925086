// Package localstack holds no code: the folder is the local stand-in for AWS (docker-compose.yml,
// LocalStack's ready hooks, the PgBouncer and PostgreSQL setup, env.json for `sam local` and
// deploy.sh for `samlocal deploy`; README.md tells how to use them).
//
// It is a Go package only so that its test can keep those files in step with template.yaml and
// shared/config without Docker: every env.json variable reaches a function and is one the
// configuration reads, each function's configuration loads from env.json and from the template
// resolved with deploy.sh's parameter overrides, the hosts named there are compose services, and
// the compose file, pooler settings and scripts hold what the README promises.
package localstack
