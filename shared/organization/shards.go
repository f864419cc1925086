package organization

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/db"
	"scaleapi/shared/shard"
)

// syncedOrganization reads what the copy of an organization's row holds.
const syncedOrganization = `SELECT name, created_at, updated_at, deleted_at, version FROM organizations WHERE id = $1`

// syncedMembers reads the memberships of some users in an organization, with their users.
const syncedMembers = `
SELECT u.id, u.email, u.name, u.created_at, m.role, m.created_at
FROM memberships m JOIN users u ON u.id = m.user_id
WHERE m.organization_id = $1 AND m.user_id = ANY($2::uuid[])`

const upsertOrganizationCopy = `
INSERT INTO organizations (id, name, created_at, updated_at, deleted_at, version) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, updated_at = EXCLUDED.updated_at,
    deleted_at = EXCLUDED.deleted_at, version = EXCLUDED.version`

// A copy's password hash is empty: nobody logs in against a shard.
const upsertUserCopy = `
INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, '', $4)
ON CONFLICT (id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name`

const upsertMembershipCopy = `
INSERT INTO memberships (organization_id, user_id, role, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (organization_id, user_id) DO UPDATE SET role = EXCLUDED.role`

const deleteMembershipCopies = `DELETE FROM memberships WHERE organization_id = $1 AND user_id = ANY($2::uuid[])`

// copyOrganization makes the copy of organization org on sh match what dir (the directory's transaction, or
// its pool) holds: the organization's row, and the memberships of users, which are copied,
// changed or deleted to match (see "Organizations on other shards" in the package comment).
func copyOrganization(ctx context.Context, dir db.DBTX, sh *shard.Shard, org uuid.UUID, users []uuid.UUID) error {
	var o struct {
		name             string
		created, updated time.Time
		deleted          *time.Time
		version          int
	}
	if err := dir.QueryRow(ctx, syncedOrganization, org).Scan(&o.name, &o.created, &o.updated, &o.deleted, &o.version); err != nil {
		return fmt.Errorf("copy organization to shard %s: %w", sh.Name(), db.Translate(err))
	}
	type member struct {
		id                   uuid.UUID
		email, name, role    string
		userCreated, created time.Time
	}
	rows, err := dir.Query(ctx, syncedMembers, org, users)
	if err != nil {
		return fmt.Errorf("copy members to shard %s: %w", sh.Name(), db.Translate(err))
	}
	ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (member, error) {
		var m member
		err := r.Scan(&m.id, &m.email, &m.name, &m.userCreated, &m.role, &m.created)
		return m, err
	})
	if err != nil {
		return fmt.Errorf("copy members to shard %s: %w", sh.Name(), db.Translate(err))
	}
	gone := make([]uuid.UUID, 0, len(users))
	for _, u := range users {
		found := false
		for _, m := range ms {
			found = found || m.id == u
		}
		if !found {
			gone = append(gone, u)
		}
	}
	pool, err := sh.Primary(ctx)
	if err != nil {
		return err
	}
	err = db.InTx(ctx, pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(upsertOrganizationCopy, org, o.name, o.created, o.updated, o.deleted, o.version)
		for _, m := range ms {
			b.Queue(upsertUserCopy, m.id, m.email, m.name, m.userCreated)
			b.Queue(upsertMembershipCopy, org, m.id, m.role, m.created)
		}
		if len(gone) > 0 {
			b.Queue(deleteMembershipCopies, org, gone)
		}
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return fmt.Errorf("copy organization to shard %s: %w", sh.Name(), err)
	}
	return nil
}

// copyTo runs copyOrganization inside the directory's transaction tx when org is on another shard than the
// directory's; with one shard it does nothing.
func (s *Service) copyTo(ctx context.Context, tx pgx.Tx, sh *shard.Shard, org uuid.UUID, users ...uuid.UUID) error {
	if sh == s.shards.Home() {
		return nil
	}
	return copyOrganization(ctx, tx, sh, org, users)
}

// recopy runs copyOrganization again from the directory's committed state after a change whose copy was
// made but whose directory transaction then failed, undoing the copy; what fails is logged.
func (s *Service) recopy(ctx context.Context, sh *shard.Shard, org uuid.UUID, users ...uuid.UUID) {
	if sh == s.shards.Home() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), invalidateTimeout)
	defer cancel()
	if err := copyOrganization(ctx, s.conn, sh, org, users); err != nil {
		s.log.LogAttrs(ctx, slog.LevelError, "the copy of an organization on its shard could not be brought back to the directory's state",
			slog.String("organization", org.String()), slog.String("shard", sh.Name()), slog.String("error", err.Error()))
	}
}

// CopyTo makes the copy of organization org on sh match the directory (dir, the first shard's
// pool): its row, every membership and every member's user, for moving the organization there.
// Memberships sh holds of users no longer members are left for the move's clean-up.
func CopyTo(ctx context.Context, dir db.DBTX, sh *shard.Shard, org uuid.UUID) error {
	rows, err := dir.Query(ctx, memberUserIDs, org)
	if err != nil {
		return fmt.Errorf("copy organization: %w", db.Translate(err))
	}
	users, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return fmt.Errorf("copy organization: %w", db.Translate(err))
	}
	return copyOrganization(ctx, dir, sh, org, users)
}
