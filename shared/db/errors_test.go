package db

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"scaleapi/shared/fault"
)

// TestTranslateCodes checks the mapping table on errors built by hand; translate_pg_test.go checks
// the same translations on errors produced by a real PostgreSQL.
func TestTranslateCodes(t *testing.T) {
	pg := func(code, constraint string) error {
		return fmt.Errorf("insert: %w", &pgconn.PgError{Code: code, ConstraintName: constraint})
	}
	cases := []struct {
		name  string
		err   error
		code  fault.Code
		field string
	}{
		{"NoRows", fmt.Errorf("find: %w", pgx.ErrNoRows), fault.NotFound, ""},
		{"UniqueEmail", pg("23505", "users_email_key"), fault.Conflict, ""},
		{"UniqueUnknown", pg("23505", "x_key"), fault.Conflict, ""},
		{"ForeignKeyProject", pg("23503", "tasks_project_id_fkey"), fault.NotFound, ""},
		{"CheckName", pg("23514", "projects_name_check"), fault.Invalid, "name"},
		{"CheckUnknown", pg("23514", "x_check"), fault.Invalid, ""},
		{"NotNull", &pgconn.PgError{Code: "23502", ColumnName: "organization_id"}, fault.Invalid, "organizationId"},
		{"BadText", pg("22P02", ""), fault.Invalid, ""},
		{"Serialization", pg("40001", ""), fault.Retry, ""},
		{"Deadlock", pg("40P01", ""), fault.Retry, ""},
		{"StatementTimeout", pg("57014", ""), fault.Unavailable, ""},
		{"AdminShutdown", pg("57P01", ""), fault.Unavailable, ""},
		{"TooManyConnections", pg("53300", ""), fault.Unavailable, ""},
		{"ReadOnly", pg("25006", ""), fault.Unavailable, ""},
		{"PoolerProtocol", pg("08P01", ""), fault.Unavailable, ""},
		{"Deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), fault.Unavailable, ""},
		{"Canceled", context.Canceled, fault.Unavailable, ""},
		{"Refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), fault.Unavailable, ""},
		{"EOF", fmt.Errorf("read: %w", io.ErrUnexpectedEOF), fault.Unavailable, ""},
		{"ConnClosed", fmt.Errorf("query: %w", pgconn.ErrConnClosed), fault.Unavailable, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := Translate(c.err)
			e := fault.As(got)
			if e.Code != c.code {
				t.Fatalf("code = %s, want %s (err %v)", e.Code, c.code, got)
			}
			if !errors.Is(got, c.err) {
				t.Error("cause not kept")
			}
			if c.code == fault.Unavailable && e.RetryAfter != RetryAfter {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, RetryAfter)
			}
			if c.field != "" && (len(e.Fields) != 1 || e.Fields[0].Field != c.field) {
				t.Errorf("fields = %+v, want %s", e.Fields, c.field)
			}
		})
	}

	t.Run("NilIsNil", func(t *testing.T) {
		if Translate(nil) != nil {
			t.Fatal("not nil")
		}
	})
	t.Run("FaultErrorUnchanged", func(t *testing.T) {
		in := fmt.Errorf("svc: %w", fault.E(fault.Forbidden, "nope"))
		if got := Translate(in); got != in {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("UnknownUnchanged", func(t *testing.T) {
		// A syntax error in our own SQL is a bug: it stays a plain error, which the HTTP layer
		// answers with a 500 and logs.
		in := pg("42601", "")
		if got := Translate(in); got != in || fault.CodeOf(got) != fault.Internal {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("ConnectErrorIsUnavailable", func(t *testing.T) {
		// Nothing listens on loopback port 1: a refused connect is a 503, never a 500.
		_, err := pgx.Connect(context.Background(), "postgres://nobody@127.0.0.1:1/x?connect_timeout=1")
		if got := fault.CodeOf(Translate(err)); got != fault.Unavailable {
			t.Fatalf("code = %s for %v", got, err)
		}
	})
}
