package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"scaleapi/shared/devservices/devtest"
)

// whoami answers with the principal the middleware stored.
var whoami = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	p, ok := PrincipalFrom(r.Context())
	if !ok {
		http.Error(w, "no principal", http.StatusInternalServerError)
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]string{"user": p.UserID.String(), "session": p.SessionID.String()})
})

func call(h http.Handler, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, "/auth/me", nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// problem decodes a problem+json answer's detail, failing on any other content type.
func problem(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json; body %s", ct, rec.Body)
	}
	var p struct{ Detail string }
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return p.Detail
}

func TestRequire(t *testing.T) {
	for name, rdb := range redisTargets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			tokens := newTestTokens(t)
			sessions := NewSessions(rdb, time.Hour)
			a := NewAuthenticator(tokens, sessions)
			h := a.Require(whoami)
			uid := uuid.New()

			login := func(t *testing.T) (sid uuid.UUID, refresh, access string) {
				t.Helper()
				sid, refresh, err := sessions.Create(ctx, uid)
				if err != nil {
					t.Fatal(err)
				}
				access, _, err = tokens.Issue(uid, sid)
				if err != nil {
					t.Fatal(err)
				}
				return sid, refresh, access
			}

			t.Run("OK", func(t *testing.T) {
				sid, _, access := login(t)
				rec := call(h, access)
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				want := `{"session":"` + sid.String() + `","user":"` + uid.String() + `"}`
				if got := strings.TrimSpace(rec.Body.String()); got != want {
					t.Fatalf("principal %s, want %s", got, want)
				}
			})

			t.Run("NoToken", func(t *testing.T) {
				rec := call(h, "")
				if rec.Code != http.StatusUnauthorized || !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Bearer") {
					t.Fatalf("status %d, WWW-Authenticate %q", rec.Code, rec.Header().Get("WWW-Authenticate"))
				}
				problem(t, rec)
			})

			t.Run("BasicScheme", func(t *testing.T) {
				req := httptest.NewRequest(http.MethodGet, "/", nil)
				req.SetBasicAuth("a", "b")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("status %d", rec.Code)
				}
			})

			t.Run("Expired", func(t *testing.T) {
				sid, _, _ := login(t)
				old := newTestTokens(t, WithClock(func() time.Time { return time.Now().Add(-time.Hour) }))
				expired, _, _ := old.Issue(uid, sid)
				rec := call(h, expired)
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("status %d", rec.Code)
				}
				if d := problem(t, rec); d != "token expired" {
					t.Fatalf("detail %q, want \"token expired\"", d)
				}
				if !strings.Contains(rec.Header().Get("WWW-Authenticate"), `error="invalid_token"`) {
					t.Fatalf("WWW-Authenticate %q", rec.Header().Get("WWW-Authenticate"))
				}
			})

			t.Run("LogoutEndsTokenEverywhere", func(t *testing.T) {
				sid, _, access := login(t)
				// A second execution environment: its own clients, its own Authenticator.
				other := NewAuthenticator(newTestTokens(t), NewSessions(newRedis(t, rdb), time.Hour)).Require(whoami)
				if rec := call(other, access); rec.Code != http.StatusOK {
					t.Fatalf("before logout: status %d", rec.Code)
				}
				if err := sessions.Revoke(ctx, sid); err != nil {
					t.Fatal(err)
				}
				for env, hh := range map[string]http.Handler{"same": h, "other": other} {
					rec := call(hh, access)
					if rec.Code != http.StatusUnauthorized {
						t.Fatalf("%s environment after logout: status %d", env, rec.Code)
					}
					if d := problem(t, rec); d != "session ended" {
						t.Fatalf("detail %q", d)
					}
				}
			})

			t.Run("ReuseRevokesAccessTokens", func(t *testing.T) {
				_, r0, access0 := login(t)
				_, sid, r1, err := sessions.Rotate(ctx, r0)
				if err != nil {
					t.Fatal(err)
				}
				access1, _, _ := tokens.Issue(uid, sid)
				if rec := call(h, access1); rec.Code != http.StatusOK {
					t.Fatalf("new access token: status %d", rec.Code)
				}
				if _, _, _, err := sessions.Rotate(ctx, r0); err == nil {
					t.Fatal("reuse of the dead refresh token succeeded")
				}
				for i, tok := range []string{access0, access1} {
					if rec := call(h, tok); rec.Code != http.StatusUnauthorized {
						t.Fatalf("access token %d after reuse: status %d", i, rec.Code)
					}
				}
				if _, _, _, err := sessions.Rotate(ctx, r1); err == nil {
					t.Fatal("newest refresh token still works after reuse")
				}
			})
		})
	}
}

func TestRequireRedisDown(t *testing.T) {
	tokens := newTestTokens(t)
	h := NewAuthenticator(tokens, NewSessions(deadRedis(t), time.Hour)).Require(whoami)
	access, _, _ := tokens.Issue(uuid.New(), uuid.New())
	rec := call(h, access)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatal("a 503 carries a WWW-Authenticate challenge")
	}
	// A token that fails verification is refused without asking Redis.
	if rec := call(h, "garbage"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("bad token with Redis down: status %d, want 401", rec.Code)
	}
}

// BenchmarkRequire measures the whole middleware: token verification plus the session's EXISTS
// on the harness's standalone Redis over loopback.
func BenchmarkRequire(b *testing.B) {
	opt, err := redis.ParseURL(devtest.Services(b).RedisURL)
	if err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	b.Cleanup(func() { _ = rdb.Close() })
	tokens := newTestTokens(b)
	sessions := NewSessions(rdb, time.Hour)
	uid := uuid.New()
	sid, _, err := sessions.Create(context.Background(), uid)
	if err != nil {
		b.Fatal(err)
	}
	access, _, _ := tokens.Issue(uid, sid)
	h := NewAuthenticator(tokens, sessions).Require(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	req := httptest.NewRequest(http.MethodGet, "/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// probeJoiner is a Joiner that queues one INCR of its own key and records what Require did
// with it.
type probeJoiner struct {
	rdb       redis.UniversalClient
	key       string
	served    int
	abandoned int
	sawUser   uuid.UUID
	cmd       *redis.IntCmd
}

func (p *probeJoiner) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.served++
	w.WriteHeader(http.StatusNoContent)
}

func (p *probeJoiner) JoinSessionCheck(rdb redis.UniversalClient, pipe redis.Pipeliner, r *http.Request) Joined {
	if rdb != p.rdb {
		return nil
	}
	if pr, ok := PrincipalFrom(r.Context()); ok {
		p.sawUser = pr.UserID
	}
	p.cmd = pipe.Incr(r.Context(), p.key)
	return p
}

func (p *probeJoiner) Serve(w http.ResponseWriter, r *http.Request) {
	if p.cmd.Val() == 0 {
		http.Error(w, "served before the pipeline ran", http.StatusInternalServerError)
		return
	}
	p.ServeHTTP(w, r)
}

func (p *probeJoiner) Abandon(context.Context) { p.abandoned++ }

func TestRequireJoiner(t *testing.T) {
	for name, rdb := range redisTargets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			rdb = newRedis(t, rdb)
			var trips devtest.RoundTrips
			rdb.AddHook(&trips)
			tokens := newTestTokens(t)
			sessions := NewSessions(rdb, time.Hour)
			uid := uuid.New()
			sid, _, err := sessions.Create(ctx, uid)
			if err != nil {
				t.Fatal(err)
			}
			access, _, _ := tokens.Issue(uid, sid)
			p := &probeJoiner{rdb: rdb, key: "test:joiner:" + uuid.NewString()}
			h := NewAuthenticator(tokens, sessions).Require(p)

			trips.Reset()
			if rec := call(h, access); rec.Code != http.StatusNoContent {
				t.Fatalf("live session: status %d: %s", rec.Code, rec.Body)
			}
			if p.served != 1 || p.abandoned != 0 || p.sawUser != uid {
				t.Fatalf("served %d, abandoned %d, principal %v; want 1, 0, %v", p.served, p.abandoned, p.sawUser, uid)
			}
			if n := trips.N(); n != 1 {
				t.Fatalf("%d round trips to Redis, want 1: the session check and the joiner's command together", n)
			}

			if err := sessions.Revoke(ctx, sid); err != nil {
				t.Fatal(err)
			}
			rec := call(h, access)
			if rec.Code != http.StatusUnauthorized || problem(t, rec) != "session ended" {
				t.Fatalf("ended session: status %d", rec.Code)
			}
			if p.served != 1 || p.abandoned != 1 {
				t.Fatalf("ended session: served %d, abandoned %d; want 1, 1", p.served, p.abandoned)
			}
			if rec := call(h, "garbage"); rec.Code != http.StatusUnauthorized || p.abandoned != 1 {
				t.Fatalf("bad token: status %d, abandoned %d; want 401 without joining", rec.Code, p.abandoned)
			}
		})
	}

	t.Run("OtherClient", func(t *testing.T) {
		// A joiner on another client can't share the pipeline: it runs as a plain handler.
		rdb := redisTargets(t)["Standalone"]
		tokens := newTestTokens(t)
		sessions := NewSessions(rdb, time.Hour)
		uid := uuid.New()
		sid, _, err := sessions.Create(context.Background(), uid)
		if err != nil {
			t.Fatal(err)
		}
		access, _, _ := tokens.Issue(uid, sid)
		p := &probeJoiner{rdb: newRedis(t, rdb)}
		if rec := call(NewAuthenticator(tokens, sessions).Require(p), access); rec.Code != http.StatusNoContent || p.served != 1 || p.cmd != nil {
			t.Fatalf("status %d, served %d, joined %v", rec.Code, p.served, p.cmd != nil)
		}
	})

	t.Run("RedisDown", func(t *testing.T) {
		tokens := newTestTokens(t)
		dead := deadRedis(t)
		p := &probeJoiner{rdb: dead, key: "k"}
		access, _, _ := tokens.Issue(uuid.New(), uuid.New())
		rec := call(NewAuthenticator(tokens, NewSessions(dead, time.Hour)).Require(p), access)
		if rec.Code != http.StatusServiceUnavailable || p.served != 0 || p.abandoned != 1 {
			t.Fatalf("status %d, served %d, abandoned %d; want 503, 0, 1", rec.Code, p.served, p.abandoned)
		}
	})
}
