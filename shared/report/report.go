// Package report answers the reporting routes from the read replica. A report is an aggregate
// over an organization's rows; it tolerates the replica's lag and is cached for the list TTL
// (60 s), so a busy dashboard costs the replica one query per organization per minute.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/db"
	"scaleapi/shared/shard"
)

// Members answers "is this user a member of that organization"; organization.Access implements it.
type Members interface {
	// Role returns the user's role in the organization, or an error coded fault.NotFound when
	// the user is not a member (or the organization does not exist).
	Role(ctx context.Context, userID, orgID uuid.UUID) (auth.Role, error)
}

// Summary is an organization's report.
type Summary struct {
	OrganizationID   uuid.UUID        `json:"organizationId"`
	ProjectsByStatus map[string]int64 `json:"projectsByStatus"`
	TasksByStatus    map[string]int64 `json:"tasksByStatus"`
	OverdueTasks     int64            `json:"overdueTasks"`
	GeneratedAt      time.Time        `json:"generatedAt"`
}

// Every status appears in a summary, zero included, so clients need no defaulting.
var (
	projectStatuses = []string{"planning", "active", "on_hold", "completed", "archived"}
	taskStatuses    = []string{"todo", "in_progress", "done"}
)

// Store reads reports, each from the replica of its organization's shard.
type Store struct{ shards *shard.Set }

// NewStore returns a Store over shards (shard.Of(primary, replica) for one database).
func NewStore(shards *shard.Set) *Store { return &Store{shards: shards} }

// summarySQL computes the whole summary in one round trip. Each part is one index scan:
// projects_organization_id_status_idx, tasks_organization_status_live_idx (index-only) and
// tasks_organization_overdue_idx (open tasks only). "Today" is a parameter, not current_date,
// so the answer does not depend on the database session's time zone.
const summarySQL = `
SELECT
  (SELECT coalesce(json_object_agg(status, n), '{}') FROM
     (SELECT status, count(*) AS n FROM projects
       WHERE organization_id = $1 AND deleted_at IS NULL GROUP BY status) p),
  (SELECT coalesce(json_object_agg(status, n), '{}') FROM
     (SELECT status, count(*) AS n FROM tasks
       WHERE organization_id = $1 AND deleted_at IS NULL GROUP BY status) t),
  (SELECT count(*) FROM tasks
     WHERE organization_id = $1 AND deleted_at IS NULL AND status <> 'done' AND due_date < $2::date)`

// Summary computes orgID's summary as of now.
func (s *Store) Summary(ctx context.Context, orgID uuid.UUID, now time.Time) (Summary, error) {
	var projects, tasks []byte
	sum := Summary{OrganizationID: orgID, GeneratedAt: now.UTC().Truncate(time.Millisecond)}
	today := now.UTC().Format(time.DateOnly)
	sh, err := s.shards.For(ctx, orgID)
	if err != nil {
		return Summary{}, err
	}
	conn, err := sh.Replica(ctx)
	if err != nil {
		return Summary{}, err
	}
	if err := conn.QueryRow(ctx, summarySQL, orgID, today).Scan(&projects, &tasks, &sum.OverdueTasks); err != nil {
		return Summary{}, fmt.Errorf("summary: %w", db.Translate(err))
	}
	if sum.ProjectsByStatus, err = counts(projects, projectStatuses); err != nil {
		return Summary{}, err
	}
	if sum.TasksByStatus, err = counts(tasks, taskStatuses); err != nil {
		return Summary{}, err
	}
	return sum, nil
}

func counts(raw []byte, statuses []string) (map[string]int64, error) {
	m := make(map[string]int64, len(statuses))
	for _, s := range statuses {
		m[s] = 0
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("summary counts: %w", err)
	}
	return m, nil
}

// Service applies access rules and caching to the Store.
type Service struct {
	store   *Store
	members Members
	cache   *cache.Cache
	ttl     time.Duration
	now     func() time.Time
}

// NewService returns a Service caching summaries for ttl (the list TTL, 60 s by default).
func NewService(store *Store, members Members, c *cache.Cache, ttl time.Duration) *Service {
	return &Service{store: store, members: members, cache: c, ttl: ttl, now: time.Now}
}

// membershipsKeyer is Members when its memberships are cached under a key (organization.Access).
type membershipsKeyer interface{ MembershipsKey(uuid.UUID) string }

// summaryReads is what Summary reads first: the caller's memberships, the summary and the
// organization's generation, which ride the session check (guard.Prefetching). The summary is
// read before the membership check, and only returned after it.
func (s *Service) summaryReads(r *http.Request) ([]string, []string, any, bool) {
	p, ok := auth.PrincipalFrom(r.Context())
	mk, keyed := s.members.(membershipsKeyer)
	id, err := uuid.Parse(r.PathValue("id"))
	if !ok || !keyed || err != nil {
		return nil, nil, nil, false
	}
	key, scopes := summaryKey(id)
	return []string{mk.MembershipsKey(p.UserID), key}, scopes, nil, true
}

// summaryKey is the cache key of orgID's summary and the scope it is cached under: the
// organization's, whose generation every project or task write bumps.
func summaryKey(orgID uuid.UUID) (string, []string) {
	scopes := []string{cache.OrgScope(orgID)}
	return cache.ListKey(scopes, "report", "summary"), scopes
}

// Summary returns orgID's summary for user: a fault.NotFound error when the user is not a member,
// so that other tenants cannot learn which organizations exist.
func (s *Service) Summary(ctx context.Context, user, orgID uuid.UUID) (Summary, error) {
	key, scopes := summaryKey(orgID)
	if mk, ok := s.members.(membershipsKeyer); ok {
		// The caller's memberships, the summary and the scope's generation in one round trip,
		// none when they rode the session check.
		ctx = s.cache.Prefetch(ctx, []string{mk.MembershipsKey(user), key}, scopes)
	}
	if _, err := s.members.Role(ctx, user, orgID); err != nil {
		return Summary{}, err
	}
	// Under the organization's list generation: a project or task write bumps it, so the next
	// read recomputes. The replica may lag the write by milliseconds, so that read can still
	// miss it; the TTL bounds that staleness, which a report tolerates by design.
	return cache.GetList(ctx, s.cache, key, scopes, s.ttl, func(ctx context.Context) (Summary, error) {
		return s.store.Summary(ctx, orgID, s.now())
	})
}
