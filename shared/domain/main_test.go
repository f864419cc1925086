package domain_test

import (
	"os"
	"testing"

	"scaleapi/shared/devservices/devtest"
)

// TestMain starts the real stack (PostgreSQL behind PgBouncer, Redis) once for the package.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }
