package organization

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/db"
	"scaleapi/shared/fault"
	"scaleapi/shared/query"
	"scaleapi/shared/shard"
)

// Cache lifetimes of the organization service's own entries (Access has MembershipsTTL).
const (
	// OrganizationTTL is how long one organization stays cached (DESIGN.md's entity TTL).
	OrganizationTTL = 300 * time.Second
	// MembersTTL is how long an organization's member list stays cached (DESIGN.md's list TTL).
	MembersTTL = 60 * time.Second
)

// Conn is what the Service needs from the database: statements, and transactions with options.
// *db.Pool satisfies it.
type Conn interface {
	db.DBTX
	db.TxBeginner
}

// Service is the organizations function's business: the rules of who may do what (see the
// package comment), the transactions, and the cache around them.
type Service struct {
	conn   Conn
	shards *shard.Set
	store  *PG
	access *Access
	cache  *cache.Cache
	log    *slog.Logger
}

// NewService returns a Service over conn, the directory shard's pool of shards (shard.Of(conn,
// nil) when there is one database), caching in c (nil: no cache). log may be nil
// (slog.Default()). The Service builds its own Access over the same cache, so that the
// invalidations it makes reach the entries Access reads.
func NewService(conn Conn, shards *shard.Set, c *cache.Cache, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{conn: conn, shards: shards, store: NewPG(conn), access: NewAccess(conn, c), cache: c, log: log}
}

// Access returns the Service's membership checks.
func (s *Service) Access() *Access { return s.access }

// Create makes a new organization whose only member, its owner, is actor. The organization and
// the membership are one transaction: an organization without an owner can't exist even briefly.
func (s *Service) Create(ctx context.Context, actor uuid.UUID, in Creation) (*Organization, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("create organization: %w", err)
	}
	o := &Organization{ID: id, Name: in.Name}
	var sh *shard.Shard
	copied := false
	err = db.InTx(ctx, s.conn, func(tx pgx.Tx) error {
		st := NewPG(tx)
		if err := st.Insert(ctx, o); err != nil {
			return err
		}
		if err := st.InsertMembership(ctx, id, actor, auth.RoleOwner); err != nil {
			return err
		}
		if sh, err = s.shards.Place(ctx, tx, id); err != nil {
			return err
		}
		if err := s.copyTo(ctx, tx, sh, id, actor); err != nil {
			return err
		}
		copied = true
		return nil
	})
	if err != nil {
		if copied {
			s.recopy(ctx, sh, id, actor)
		}
		return nil, err
	}
	// The organization key may hold a tombstone from a read of this id (a client that guessed
	// the next UUIDv7): creation invalidates it like any other write.
	s.invalidate(ctx, []uuid.UUID{actor}, cache.OrganizationKey(id), cache.MembersKey(id))
	return o, nil
}

// List returns a page of the organizations actor belongs to.
func (s *Service) List(ctx context.Context, actor uuid.UUID, q *query.Query) (*query.Page, error) {
	return s.store.List(ctx, actor, q)
}

// Get returns organization id if actor is a member of it, else a NotFound error.
func (s *Service) Get(ctx context.Context, actor, id uuid.UUID) (*Organization, error) {
	if _, err := s.access.Role(ctx, actor, id); err != nil {
		return nil, err
	}
	return cache.Get(ctx, s.cache, cache.OrganizationKey(id), OrganizationTTL, func(ctx context.Context) (*Organization, error) {
		return s.store.Get(ctx, id)
	})
}

// Update applies p to organization id on behalf of actor, an owner or admin (else a Forbidden
// error; a NotFound one for a non-member). When ifMatch is not nil the change only applies
// at one of its versions (a Precondition error otherwise); an empty patch changes nothing and returns
// the organization as it is, still subject to both checks.
func (s *Service) Update(ctx context.Context, actor, id uuid.UUID, p Patch, ifMatch Versions) (*Organization, error) {
	sh, err := s.shards.ForWrite(ctx, id)
	if err != nil {
		return nil, err
	}
	var o *Organization
	copied := false
	err = db.InTx(ctx, s.conn, func(tx pgx.Tx) error {
		st := NewPG(tx)
		role, err := st.LockRole(ctx, id, actor)
		if err != nil {
			return err
		}
		if err := role.Authorize(auth.ActionUpdateOrganization); err != nil {
			return err
		}
		if p.Name == nil {
			o, err = st.Get(ctx, id)
			if err == nil && !ifMatch.Match(o.Version) {
				err = fault.E(fault.Precondition, "the organization has changed since the version If-Match names")
			}
			return err
		}
		if o, err = st.Rename(ctx, id, *p.Name, ifMatch); err != nil {
			return err
		}
		if err := s.copyTo(ctx, tx, sh, id); err != nil {
			return err
		}
		copied = true
		return nil
	})
	if err != nil {
		if copied {
			s.recopy(ctx, sh, id)
		}
		return nil, err
	}
	if p.Name != nil {
		s.invalidate(ctx, nil, cache.OrganizationKey(id))
		// Lists and views of its projects and tasks with join=organization show the name.
		invalidate(ctx, s.log, func(ctx context.Context) error { return s.cache.Bump(ctx, cache.OrgScope(id)) })
	}
	return o, nil
}

// Delete soft-deletes organization id on behalf of actor, its owner (else a Forbidden error; a
// NotFound one for a non-member). From the commit on, no member has access to it.
func (s *Service) Delete(ctx context.Context, actor, id uuid.UUID) error {
	sh, err := s.shards.ForWrite(ctx, id)
	if err != nil {
		return err
	}
	var members []uuid.UUID
	copied := false
	err = db.InTx(ctx, s.conn, func(tx pgx.Tx) error {
		st := NewPG(tx)
		role, err := st.LockRole(ctx, id, actor)
		if err != nil {
			return err
		}
		if err := role.Authorize(auth.ActionDeleteOrganization); err != nil {
			return err
		}
		if err := st.SoftDelete(ctx, id); err != nil {
			return err
		}
		// Read under the lock: no member can be added or removed between this and the commit,
		// so every user whose cached memberships name the organization is in the list.
		if members, err = st.MemberIDs(ctx, id); err != nil {
			return err
		}
		if err := s.copyTo(ctx, tx, sh, id); err != nil {
			return err
		}
		copied = true
		return nil
	})
	if err != nil {
		if copied {
			s.recopy(ctx, sh, id)
		}
		return err
	}
	s.invalidate(ctx, members, cache.OrganizationKey(id), cache.MembersKey(id))
	// The organization's project and task lists go too, so that no cached list shows them.
	invalidate(ctx, s.log, func(ctx context.Context) error { return s.cache.Bump(ctx, cache.OrgScope(id)) })
	return nil
}

// Members lists the members of organization id if actor is one of them, else a NotFound error.
func (s *Service) Members(ctx context.Context, actor, id uuid.UUID) ([]Member, error) {
	if _, err := s.access.Role(ctx, actor, id); err != nil {
		return nil, err
	}
	return cache.Get(ctx, s.cache, cache.MembersKey(id), MembersTTL, func(ctx context.Context) ([]Member, error) {
		return s.store.Members(ctx, id)
	})
}

// AddMember makes the user with in.Email a member of organization id with in.Role, on behalf of
// actor: an owner or admin (else a Forbidden error; a NotFound one for a non-member), and an
// owner to add an owner. It returns a NotFound error for an unknown email and a Conflict error
// when the user already is a member.
func (s *Service) AddMember(ctx context.Context, actor, id uuid.UUID, in NewMember) (*Member, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	sh, err := s.shards.ForWrite(ctx, id)
	if err != nil {
		return nil, err
	}
	var m *Member
	copied := false
	err = db.InTx(ctx, s.conn, func(tx pgx.Tx) error {
		st := NewPG(tx)
		role, err := st.LockRole(ctx, id, actor)
		if err != nil {
			return err
		}
		if err := role.Authorize(auth.ActionManageMembers); err != nil {
			return err
		}
		if !role.CanAssign(in.Role) {
			return fault.E(fault.Forbidden, "your role (%s) can't add a member as %s", role, in.Role)
		}
		if m, err = st.AddMemberByEmail(ctx, id, in.Email, in.Role); err != nil {
			return err
		}
		if err := s.copyTo(ctx, tx, sh, id, m.UserID); err != nil {
			return err
		}
		copied = true
		return nil
	})
	if err != nil {
		if copied {
			s.recopy(ctx, sh, id, m.UserID)
		}
		return nil, err
	}
	s.invalidate(ctx, []uuid.UUID{m.UserID}, cache.MembersKey(id))
	return m, nil
}

// RemoveMember removes userID from organization id on behalf of actor. Any member may remove
// themself; removing someone else takes an owner or admin, and removing an owner takes an owner
// (Forbidden errors otherwise). The last owner can't be removed (a Conflict error). A non-member
// actor gets a NotFound error for the organization, and an unknown userID one for the member.
func (s *Service) RemoveMember(ctx context.Context, actor, id, userID uuid.UUID) error {
	sh, err := s.shards.ForWrite(ctx, id)
	if err != nil {
		return err
	}
	copied := false
	err = db.InTx(ctx, s.conn, func(tx pgx.Tx) error {
		st := NewPG(tx)
		// The lock also serialises concurrent removals in the organization: two owners removing
		// each other one at a time each see the other's commit when counting owners below.
		role, err := st.LockRole(ctx, id, actor)
		if err != nil {
			return err
		}
		self := userID == actor
		if !self {
			if err := role.Authorize(auth.ActionManageMembers); err != nil {
				return err
			}
		}
		target, err := st.Role(ctx, id, userID)
		if err != nil {
			return err
		}
		if target == auth.RoleOwner {
			if !self && role != auth.RoleOwner {
				return fault.E(fault.Forbidden, "only an owner can remove an owner")
			}
			n, err := st.Owners(ctx, id)
			if err != nil {
				return err
			}
			if n <= 1 {
				return fault.E(fault.Conflict, "the last owner of an organization can't be removed")
			}
		}
		if err := st.DeleteMembership(ctx, id, userID); err != nil {
			return err
		}
		if err := s.copyTo(ctx, tx, sh, id, userID); err != nil {
			return err
		}
		copied = true
		return nil
	})
	if err != nil {
		if copied {
			s.recopy(ctx, sh, id, userID)
		}
		return err
	}
	s.invalidate(ctx, []uuid.UUID{userID}, cache.MembersKey(id))
	return nil
}

// invalidate forgets, after a commit, the cached memberships of users and the other keys, in
// one Redis pipeline.
func (s *Service) invalidate(ctx context.Context, users []uuid.UUID, keys ...string) {
	for _, u := range users {
		keys = append(keys, cache.MembershipsKey(u))
	}
	invalidate(ctx, s.log, func(ctx context.Context) error { return s.cache.Delete(ctx, keys...) })
}
