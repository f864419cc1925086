package shard

import (
	"os"
	"testing"

	"scaleapi/shared/devservices/devtest"
)

// TestMain starts the real stack (three PostgreSQL primaries, each behind its own PgBouncer,
// and Redis) once for the package's tests.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }
