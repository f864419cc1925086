// Package deploycheck holds no code: its tests check the container deployment shapes of server
// mode without Docker or a cluster. They load docker-compose.scale.yml with compose-go (schema
// validation, consistency checks, interpolation from a fixed environment only), decode every
// manifest of deploy/k8s strictly into the Kubernetes API types, check the variables both set
// against what shared/config and functions/server read, and build the packages the Dockerfile's
// `go build` lines name, with the Dockerfile's flags, so the image and the tests can't drift apart.
package deploycheck
