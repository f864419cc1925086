package db

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"scaleapi/shared/fault"
)

// RetryAfter is what a 503 caused by the database tells the client: long enough for a pooler to
// reconnect or a failover to settle, short enough that a client retrying is still worth it.
const RetryAfter = time.Second

// constraint says, for one named constraint of the schema, which API field it guards and what to
// tell the client when it is violated. Field names are the API's (camelCase).
type constraint struct {
	field   string
	message string
}

// constraints names every constraint a client's input can violate. Constraints missing here still
// translate to the right code, with a generic message and no field.
var constraints = map[string]constraint{
	"organizations_name_check":         {"name", "must be 1 to 200 characters"},
	"users_email_key":                  {"email", "is already registered"},
	"users_email_check":                {"email", "must be a lower-case address of 3 to 254 characters"},
	"users_name_check":                 {"name", "must be 1 to 200 characters"},
	"memberships_pkey":                 {"userId", "is already a member"},
	"memberships_role_check":           {"role", "must be owner, admin or member"},
	"memberships_organization_id_fkey": {"organizationId", "organization not found"},
	"memberships_user_id_fkey":         {"userId", "user not found"},
	// The shard directory: only the platform writes it, so a violation is a bug, said plainly.
	"organization_shards_shard_check":          {"shard", "must be a shard name of 1 to 63 characters"},
	"organization_shards_organization_id_fkey": {"organizationId", "organization not found"},
	"projects_name_check":                      {"name", "must be 1 to 200 characters"},
	"projects_description_check":               {"description", "must be at most 5000 characters"},
	"projects_status_check":                    {"status", "must be planning, active, on_hold, completed or archived"},
	"projects_organization_id_fkey":            {"organizationId", "organization not found"},
	"tasks_title_check":                        {"title", "must be 1 to 200 characters"},
	"tasks_status_check":                       {"status", "must be todo, in_progress or done"},
	"tasks_priority_check":                     {"priority", "must be low, medium, high or urgent"},
	"tasks_project_id_fkey":                    {"projectId", "project not found"},
	"tasks_assignee_id_fkey":                   {"assigneeId", "user not found"},
	"tasks_organization_id_fkey":               {"organizationId", "organization not found"},
}

// Translate turns an error from pgx into a *fault.Error whose Code the HTTP layer maps to a status,
// keeping the original as the cause (Err) for the log. It returns nil for nil, returns errors that
// already carry a *fault.Error unchanged, and returns errors it doesn't recognise unchanged (the
// HTTP layer answers those with a 500, which is what a syntax error in our SQL deserves).
//
//   - pgx.ErrNoRows → NotFound.
//   - 23505 unique violation → Conflict (409): the duplicate is the client's, e.g. an email.
//   - 23503 foreign key violation → NotFound (404). Every foreign key is ON DELETE CASCADE or SET
//     NULL, so the only violations left are inserts and updates that reference a row that doesn't
//     exist or, through tasks' composite key (organization_id, project_id), belongs to another
//     tenant. The contract answers "not found or not yours" with 404 and must not tell the two
//     apart; a 422 would confirm that the id is well-formed but someone else's.
//   - 23514 check violation, 23502 not null violation, class 22 data exceptions → Invalid (422),
//     with the field when the constraint is known.
//   - 40001 serialization failure, 40P01 deadlock → Retry (InTx has already retried them).
//   - Connection refused, lost or timed out, pool closed, server shutting down or out of
//     connections, a read-only server after a failover, a statement or lock timeout, and the
//     context's deadline or cancellation → Unavailable (503) with RetryAfter.
func Translate(err error) error {
	if err == nil {
		return nil
	}
	var fe *fault.Error
	if errors.As(err, &fe) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return &fault.Error{Code: fault.NotFound, Message: "not found", Err: err}
	}

	var pgErr *pgconn.PgError
	// A PgError inside a ConnectError (authentication failed, database doesn't exist, too many
	// connections) is a deployment problem, not the client's: treat it as the connect failure it is.
	var connectErr *pgconn.ConnectError
	if errors.As(err, &pgErr) && !errors.As(err, &connectErr) {
		if e := translatePg(pgErr, err); e != nil {
			return e
		}
		return err
	}

	if unavailable(err) {
		return &fault.Error{Code: fault.Unavailable, Message: "database unavailable", RetryAfter: RetryAfter, Err: err}
	}
	return err
}

func translatePg(pgErr *pgconn.PgError, err error) *fault.Error {
	c, known := constraints[pgErr.ConstraintName]
	switch code := pgErr.Code; {
	case code == "23505": // unique_violation
		e := &fault.Error{Code: fault.Conflict, Message: "already exists", Err: err}
		if known {
			e.Message = c.field + " " + c.message
		}
		return e
	case code == "23503": // foreign_key_violation
		msg := "not found"
		if known {
			msg = c.message
		}
		return &fault.Error{Code: fault.NotFound, Message: msg, Err: err}
	case code == "23514": // check_violation
		if known {
			return invalid(c.field, c.message, err)
		}
		return invalid("", "invalid value", err)
	case code == "23502": // not_null_violation
		return invalid(camel(pgErr.ColumnName), "is required", err)
	case strings.HasPrefix(code, "22"): // data_exception: bad text for a type, value out of range, too long
		return invalid("", "invalid value", err)
	case code == "40001" || code == "40P01": // serialization_failure, deadlock_detected
		return &fault.Error{Code: fault.Retry, Message: "conflicting concurrent update, try again", Err: err}
	case code == "57014", // query_canceled: statement_timeout, or our context's cancel request
		code == "55P03",               // lock_not_available: lock_timeout
		code == "25006",               // read_only_sql_transaction: writing to a primary demoted by a failover
		strings.HasPrefix(code, "08"), // connection_exception (PgBouncer reports its own failures here too)
		strings.HasPrefix(code, "53"), // insufficient_resources: too_many_connections, out of memory, disk full
		strings.HasPrefix(code, "57"): // operator_intervention: admin_shutdown, crash_shutdown, cannot_connect_now
		return &fault.Error{Code: fault.Unavailable, Message: "database unavailable", RetryAfter: RetryAfter, Err: err}
	}
	return nil
}

func invalid(field, message string, err error) *fault.Error {
	e := &fault.Error{Code: fault.Invalid, Message: "validation failed", Err: err}
	if field != "" {
		e.Fields = []fault.FieldError{{Field: field, Message: message}}
	} else {
		e.Message = message
	}
	return e
}

// unavailable reports whether err says the database couldn't be reached or answered in time.
func unavailable(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		// The request was cancelled (the client went away): nobody reads the answer, but a 503
		// keeps it out of the 5xx-internal alarms.
		errors.Is(err, context.Canceled),
		pgconn.Timeout(err),
		errors.As(err, &connectErr),
		errors.Is(err, pgconn.ErrConnClosed),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr):
		return true
	}
	return false
}

// camel turns a column name (organization_id) into the API's field name (organizationId).
func camel(column string) string {
	out := make([]byte, 0, len(column))
	upper := false
	for i := 0; i < len(column); i++ {
		ch := column[i]
		switch {
		case ch == '_':
			upper = true
		case upper && 'a' <= ch && ch <= 'z':
			out = append(out, ch-'a'+'A')
			upper = false
		default:
			out = append(out, ch)
			upper = false
		}
	}
	return string(out)
}
