// Package stackcheck holds no code: its tests check the wiring of template.yaml that cfn-lint,
// sam validate and checkov cannot see, because each of them looks at one resource or one
// property at a time. They resolve the template with internal/samtemplate (parameters applied,
// conditions evaluated, a Ref to a resource its logical id) once for a fresh account, where the
// stack creates the network, the database, the cache and the secret, and once for each way of
// reusing existing ones, and check that every function runs in the private subnets behind the
// functions' security group, that the security groups allow only the paths the template's
// comments name, that every policy names its one resource, that the proxy requires IAM and TLS,
// that the migration custom resource carries the newest migration, that every alarm and dashboard
// widget reads a metric really published (the functions' own, with the dimensions they emit it
// under; AWS's, by name and dimension set, of this stack's resources), that each seed target is
// an alarm at that threshold, that tracing reaches X-Ray through the collector, and that each
// samconfig.toml environment's reserved and provisioned concurrency fit the proxy's connection
// budget and the account's limit.
package stackcheck
