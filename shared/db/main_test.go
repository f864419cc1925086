package db

import (
	"os"
	"testing"

	"scaleapi/shared/devservices/devtest"
)

// TestMain starts the real stack (PostgreSQL primary and replica, PgBouncer in transaction mode)
// once for the package's integration tests.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }
