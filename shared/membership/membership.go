// Package membership is the one reading of a user's memberships: which live organizations the
// user belongs to, and the role held in each. Two packages need it and neither may own it for
// the other: shared/organization caches it for every function's access checks (Access) and
// changes it (its own statements, in the transactions that check roles), and shared/user lists
// it in GET /auth/me. shared/organization imports shared/user, so the reading lives below both.
package membership

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/auth"
	"scaleapi/shared/db"
)

// Membership is one organization a user belongs to and the role held there: the unit
// organization.Access caches.
type Membership struct {
	OrganizationID uuid.UUID `json:"organizationId"`
	Role           auth.Role `json:"role"`
}

// listSQL reads memberships_user_id_idx (user_id INCLUDE organization_id, role) and joins
// organizations by primary key to leave deleted ones out. UUIDv7 ids sort by creation time, so
// the order is "oldest organization first" without a sort on a column the index doesn't hold.
const listSQL = `
SELECT m.organization_id, m.role
FROM memberships m
JOIN organizations o ON o.id = m.organization_id
WHERE m.user_id = $1 AND o.deleted_at IS NULL
ORDER BY m.organization_id`

// List returns the live organizations userID belongs to, in organization id order (oldest
// first), with the role held in each; an empty, non-nil list when there are none. conn is a pool
// or a transaction.
func List(ctx context.Context, conn db.DBTX, userID uuid.UUID) ([]Membership, error) {
	rows, err := conn.Query(ctx, listSQL, userID)
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", db.Translate(err))
	}
	out := []Membership{}
	var (
		m    Membership
		role string
	)
	_, err = pgx.ForEachRow(rows, []any{&m.OrganizationID, &role}, func() error {
		m.Role = auth.Role(role)
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list memberships: %w", db.Translate(err))
	}
	return out, nil
}
