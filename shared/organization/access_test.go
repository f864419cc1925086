package organization

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/devservices"
	"scaleapi/shared/fault"
	"scaleapi/shared/guard"
	"scaleapi/shared/shard"
)

func TestAccess(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	a := e.newAccount("Ada")
	m := e.newAccount("Max")
	stranger := e.newAccount("Sam")
	one := e.createOrg(a, "One")
	two := e.createOrg(a, "Two")
	e.addMember(a, two.ID, m, auth.RoleAdmin)
	access := e.svc.Access()

	t.Run("Role", func(t *testing.T) {
		for _, c := range []struct {
			user, org uuid.UUID
			want      auth.Role
		}{{a.ID, one.ID, auth.RoleOwner}, {a.ID, two.ID, auth.RoleOwner}, {m.ID, two.ID, auth.RoleAdmin}} {
			if got, err := access.Role(ctx, c.user, c.org); err != nil || got != c.want {
				t.Fatalf("Role = %q, %v; want %q", got, err, c.want)
			}
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		for _, c := range [][2]uuid.UUID{{m.ID, one.ID}, {stranger.ID, one.ID}, {a.ID, uuid.New()}, {uuid.New(), one.ID}} {
			if _, err := access.Role(ctx, c[0], c[1]); !errors.Is(err, fault.ErrNotFound) {
				t.Fatalf("Role(%v) = %v, want NotFound", c, err)
			}
		}
	})
	t.Run("Authorize", func(t *testing.T) {
		if _, err := access.Authorize(ctx, m.ID, two.ID, auth.ActionUpdateOrganization); err != nil {
			t.Fatal(err)
		}
		if _, err := access.Authorize(ctx, m.ID, two.ID, auth.ActionDeleteOrganization); fault.CodeOf(err) != fault.Forbidden {
			t.Fatalf("admin deleting: %v, want Forbidden", err)
		}
		if _, err := access.Authorize(ctx, stranger.ID, two.ID, auth.ActionRead); fault.CodeOf(err) != fault.NotFound {
			t.Fatalf("stranger reading: %v, want NotFound", err)
		}
	})
	t.Run("OrganizationIDs", func(t *testing.T) {
		ids, err := access.OrganizationIDs(ctx, a.ID)
		if err != nil || len(ids) != 2 || ids[0] != one.ID || ids[1] != two.ID {
			t.Fatalf("OrganizationIDs = %v, %v", ids, err)
		}
		ids, err = access.OrganizationIDs(ctx, stranger.ID)
		if err != nil || ids == nil || len(ids) != 0 {
			t.Fatalf("OrganizationIDs(no memberships) = %#v, %v; want empty, not nil", ids, err)
		}
	})
	t.Run("WarmCheckIsOneRedisGET", func(t *testing.T) {
		if _, err := access.Role(ctx, m.ID, two.ID); err != nil {
			t.Fatal(err)
		}
		sql, cmds := e.pool.QueryStats().Count, e.redisCmd.Load()
		if _, err := access.Role(ctx, m.ID, two.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := access.Role(ctx, m.ID, one.ID); !errors.Is(err, fault.ErrNotFound) {
			t.Fatal(err)
		}
		if _, err := access.OrganizationIDs(ctx, m.ID); err != nil {
			t.Fatal(err)
		}
		if n := e.pool.QueryStats().Count - sql; n != 0 {
			t.Fatalf("warm checks ran %d statements", n)
		}
		if n := e.redisCmd.Load() - cmds; n != 3 {
			t.Fatalf("3 warm checks sent %d Redis commands, want 3", n)
		}
	})
	t.Run("CreateInvalidates", func(t *testing.T) {
		// The stranger's empty memberships are cached (OrganizationIDs above); creating an
		// organization must make it visible at once.
		o := e.createOrg(stranger, "Own")
		if r, err := access.Role(ctx, stranger.ID, o.ID); err != nil || r != auth.RoleOwner {
			t.Fatalf("Role after create = %q, %v", r, err)
		}
	})
	t.Run("WithoutCache", func(t *testing.T) {
		plain := NewAccess(e.pool, nil)
		if got, err := plain.Role(ctx, m.ID, two.ID); err != nil || got != auth.RoleAdmin {
			t.Fatalf("Role = %q, %v", got, err)
		}
	})
}

// TestRemovedMemberLosesAccessAtOnce checks the invalidation across execution environments: the
// member's memberships are cached in Redis and in flight in two environments' processes, the
// removal happens in a third, and the member's very next request anywhere is a 404.
func TestRemovedMemberLosesAccessAtOnce(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	a := e.newAccount("Ada")
	m := e.newAccount("Max")
	o := e.createOrg(a, "Acme")
	e.addMember(a, o.ID, m, auth.RoleMember)

	// Another environment of this function, and the reports function's kind of Access: their
	// own Caches (process-local singleflight) over the same Redis entries.
	other := NewService(e.pool, shard.Of(e.pool, nil), e.newCache(), nil)
	otherRouter := api.NewRouter()
	Routes(otherRouter, other, guard.Guards{Authn: auth.NewAuthenticator(e.tokens, e.sessions).Require})
	elsewhere := NewAccess(e.pool, e.newCache())

	get := func(h http.Handler) int {
		return e.withHandler(h).do(req{method: "GET", path: "/organizations/" + o.ID.String(), token: m.Token}).Code
	}
	if get(e.handler) != http.StatusOK || get(otherRouter) != http.StatusOK {
		t.Fatal("the member can't read the organization")
	}
	if _, err := elsewhere.Role(ctx, m.ID, o.ID); err != nil {
		t.Fatal(err)
	}

	e.do(req{method: "DELETE", path: "/organizations/" + o.ID.String() + "/members/" + m.ID.String(), token: a.Token}).
		status(http.StatusNoContent)

	if c := get(otherRouter); c != http.StatusNotFound {
		t.Fatalf("other environment: %d after removal, want 404", c)
	}
	if c := get(e.handler); c != http.StatusNotFound {
		t.Fatalf("same environment: %d after removal, want 404", c)
	}
	if _, err := elsewhere.Role(ctx, m.ID, o.ID); !errors.Is(err, fault.ErrNotFound) {
		t.Fatalf("Access elsewhere after removal: %v, want NotFound", err)
	}
	ids, err := elsewhere.OrganizationIDs(ctx, m.ID)
	if err != nil || len(ids) != 0 {
		t.Fatalf("OrganizationIDs after removal = %v, %v", ids, err)
	}

	// Added back, the member sees it on the next request, though "no memberships" was cached.
	e.addMember(a, o.ID, m, auth.RoleAdmin)
	if c := get(otherRouter); c != http.StatusOK {
		t.Fatalf("after re-adding: %d", c)
	}
	if r, err := elsewhere.Role(ctx, m.ID, o.ID); err != nil || r != auth.RoleAdmin {
		t.Fatalf("Role after re-adding = %q, %v", r, err)
	}
}

// TestAccessFillRace opens the cache-aside race's window for real: an Access loads a member's
// memberships from the database and is held after reading them, the member is removed and the
// removal's invalidation runs, then the load finishes. Its stale answer must not reach Redis.
func TestAccessFillRace(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	a := e.newAccount("Ada")
	m := e.newAccount("Max")
	o := e.createOrg(a, "Acme")
	e.addMember(a, o.ID, m, auth.RoleMember) // and m's memberships are not cached now

	tracer := &queryCounter{holdSQL: "WHERE m.user_id = $1 AND o.deleted_at IS NULL"}
	readerCache := e.newCache()
	reader := NewAccess(e.tracedPool(tracer), readerCache)

	loaded, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func() { once.Do(func() { close(loaded); <-resume }) }
	tracer.hold.Store(&hold)

	type result struct {
		role auth.Role
		err  error
	}
	done := make(chan result, 1)
	go func() {
		r, err := reader.Role(ctx, m.ID, o.ID)
		done <- result{r, err}
	}()
	select {
	case <-loaded:
	case <-time.After(10 * time.Second):
		t.Fatal("the reader never loaded")
	}
	// The reader holds the old memberships, not yet written to Redis. Remove the member now.
	e.do(req{method: "DELETE", path: "/organizations/" + o.ID.String() + "/members/" + m.ID.String(), token: a.Token}).
		status(http.StatusNoContent)
	close(resume)
	if r := <-done; r.err != nil || r.role != auth.RoleMember {
		// It read before the removal committed, so "member" was the truth when it answered.
		t.Fatalf("held read = %q, %v", r.role, r.err)
	}
	tracer.hold.Store(nil)

	if s := readerCache.Stats(); s.Discarded != 1 {
		t.Fatalf("stats %+v: the stale fill was not discarded", s)
	}
	for _, acc := range []*Access{reader, NewAccess(e.pool, e.newCache()), e.svc.Access()} {
		if _, err := acc.Role(ctx, m.ID, o.ID); !errors.Is(err, fault.ErrNotFound) {
			t.Fatalf("after the race: %v, want NotFound", err)
		}
	}
	if c := e.do(req{method: "GET", path: "/organizations/" + o.ID.String(), token: m.Token}).Code; c != http.StatusNotFound {
		t.Fatalf("GET after the race: %d", c)
	}
}

// TestAccessWithoutRedis checks that Access answers from the database when Redis is gone: the
// cache is an optimisation, never a dependency for correctness.
func TestAccessWithoutRedis(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	a := e.newAccount("Ada")
	o := e.createOrg(a, "Acme")

	srv, err := devservices.StartRedis(ctx, "")
	if err != nil {
		t.Fatalf("start redis: %v", err)
	}
	rdb, err := cache.NewClient(cache.ClientOptions{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	svc := NewService(e.pool, shard.Of(e.pool, nil), cache.New(rdb, cache.Options{Prefix: e.prefix}), nil)
	if r, err := svc.Access().Role(ctx, a.ID, o.ID); err != nil || r != auth.RoleOwner {
		t.Fatalf("Role with Redis up = %q, %v", r, err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r, err := svc.Access().Role(ctx, a.ID, o.ID); err != nil || r != auth.RoleOwner {
			t.Fatalf("Role with Redis down = %q, %v", r, err)
		}
	}
	// Writes still work; their invalidations fail, are logged, and don't fail the request.
	o2, err := svc.Create(ctx, a.ID, Creation{Name: "Offline"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Get(ctx, a.ID, o2.ID); err != nil {
		t.Fatal(err)
	}
}
