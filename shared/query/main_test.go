package query

import (
	"os"
	"testing"

	"scaleapi/shared/devservices/devtest"
)

// TestMain runs the tests under the test harness, which starts the real PostgreSQL stack for
// the database tests (db_test.go) the first time one of them asks; the pure tests and the fuzz
// target never start it.
func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }
