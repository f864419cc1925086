package migrations_test

import (
	"os"
	"testing"

	"scaleapi/shared/devservices/devtest"
)

// TestMain starts the real PostgreSQL stack once for the package's tests.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }
