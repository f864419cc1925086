package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/fault"
)

func TestSessions(t *testing.T) {
	for name, rdb := range redisTargets(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := NewSessions(rdb, time.Hour)
			uid := uuid.New()

			t.Run("RotateChain", func(t *testing.T) {
				sid, r0, err := s.Create(ctx, uid)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(r0, sid.String()+".") {
					t.Fatalf("refresh token %q does not carry session %s", r0, sid)
				}
				gotUID, gotSID, r1, err := s.Rotate(ctx, r0)
				if err != nil || gotUID != uid || gotSID != sid || r1 == r0 {
					t.Fatalf("Rotate = %s %s %q %v", gotUID, gotSID, r1, err)
				}
				if _, _, _, err := s.Rotate(ctx, r1); err != nil {
					t.Fatalf("second rotation: %v", err)
				}
				// The session's TTL follows the refresh-token TTL on both keys.
				for _, k := range []string{sessionKey(sid), deadKey(sid)} {
					if ttl := rdb.PTTL(ctx, k).Val(); ttl <= 59*time.Minute || ttl > time.Hour {
						t.Errorf("%s TTL %v, want ~1h", k, ttl)
					}
				}
			})

			t.Run("UserOf", func(t *testing.T) {
				sid, r0, _ := s.Create(ctx, uid)
				if got, err := s.UserOf(ctx, r0); err != nil || got != uid {
					t.Fatalf("UserOf = %s, %v; want %s", got, err, uid)
				}
				// UserOf spends nothing: the token still rotates.
				if _, _, _, err := s.Rotate(ctx, r0); err != nil {
					t.Fatal(err)
				}
				_ = s.Revoke(ctx, sid)
				if _, err := s.UserOf(ctx, r0); !errors.Is(err, ErrRefreshInvalid) {
					t.Fatalf("UserOf after revoke: %v, want ErrRefreshInvalid", err)
				}
			})

			t.Run("ErrRefreshReused", func(t *testing.T) {
				sid, r0, _ := s.Create(ctx, uid)
				_, _, r1, err := s.Rotate(ctx, r0)
				if err != nil {
					t.Fatal(err)
				}
				_, _, r2, err := s.Rotate(ctx, r1)
				if err != nil {
					t.Fatal(err)
				}
				// r0 is dead: presenting it again is what a thief (or a confused client) does.
				if _, _, _, err := s.Rotate(ctx, r0); !errors.Is(err, ErrRefreshReused) {
					t.Fatalf("reuse of a dead token: %v, want ErrRefreshReused", err)
				}
				// The whole session is gone: the newest refresh token is refused too.
				if _, _, _, err := s.Rotate(ctx, r2); !errors.Is(err, ErrRefreshInvalid) {
					t.Fatalf("newest token after revocation: %v, want ErrRefreshInvalid", err)
				}
				if err := s.Check(ctx, sid); !errors.Is(err, ErrSessionEnded) {
					t.Fatalf("Check after revocation: %v, want ErrSessionEnded", err)
				}
				if n := rdb.Exists(ctx, sessionKey(sid), deadKey(sid)).Val(); n != 0 {
					t.Fatalf("%d session keys left after revocation", n)
				}
			})

			t.Run("UnknownSecretDoesNotRevoke", func(t *testing.T) {
				// Anyone who has seen an access token knows the sid; guessing a secret must
				// not let them end the session.
				sid, r0, _ := s.Create(ctx, uid)
				forged := sid.String() + "." + strings.Repeat("A", 43)
				if _, _, _, err := s.Rotate(ctx, forged); !errors.Is(err, ErrRefreshInvalid) {
					t.Fatalf("forged secret: %v, want ErrRefreshInvalid", err)
				}
				if _, _, _, err := s.Rotate(ctx, r0); err != nil {
					t.Fatalf("real token after a forged attempt: %v", err)
				}
			})

			t.Run("ConcurrentRotationRevokes", func(t *testing.T) {
				// Two rotations racing with one token: exactly one wins, the other is a reuse.
				// That is how a stolen token used alongside its owner shows up.
				sid, r0, _ := s.Create(ctx, uid)
				var wg sync.WaitGroup
				errs := make([]error, 2)
				for i := range errs {
					wg.Go(func() { _, _, _, errs[i] = s.Rotate(ctx, r0) })
				}
				wg.Wait()
				won, reused := 0, 0
				for _, err := range errs {
					switch {
					case err == nil:
						won++
					case errors.Is(err, ErrRefreshReused):
						reused++
					}
				}
				if won != 1 || reused != 1 {
					t.Fatalf("results %v: want one success and one reuse", errs)
				}
				if err := s.Check(ctx, sid); !errors.Is(err, ErrSessionEnded) {
					t.Fatalf("session survived a reuse: %v", err)
				}
			})

			t.Run("Revoke", func(t *testing.T) {
				sid, r0, _ := s.Create(ctx, uid)
				if err := s.Check(ctx, sid); err != nil {
					t.Fatal(err)
				}
				if err := s.Revoke(ctx, sid); err != nil {
					t.Fatal(err)
				}
				if err := s.Check(ctx, sid); !errors.Is(err, ErrSessionEnded) {
					t.Fatalf("Check after Revoke: %v", err)
				}
				if _, _, _, err := s.Rotate(ctx, r0); !errors.Is(err, ErrRefreshInvalid) {
					t.Fatalf("refresh after Revoke: %v", err)
				}
				if err := s.Revoke(ctx, sid); err != nil {
					t.Fatalf("second Revoke: %v", err)
				}
			})

			t.Run("DeadSetBounded", func(t *testing.T) {
				sid, r, _ := s.Create(ctx, uid)
				first := r
				var err error
				for range deadKept + 5 {
					if _, _, r, err = s.Rotate(ctx, r); err != nil {
						t.Fatal(err)
					}
				}
				if n := rdb.ZCard(ctx, deadKey(sid)).Val(); n != deadKept {
					t.Fatalf("dead set holds %d hashes, want %d", n, deadKept)
				}
				// The oldest token has been trimmed: refused, but no longer a revocation.
				if _, _, _, err := s.Rotate(ctx, first); !errors.Is(err, ErrRefreshInvalid) {
					t.Fatalf("trimmed token: %v, want ErrRefreshInvalid", err)
				}
				if err := s.Check(ctx, sid); err != nil {
					t.Fatalf("session ended by a trimmed token: %v", err)
				}
			})
		})
	}
}

func TestRefreshTokenMalformed(t *testing.T) {
	s := NewSessions(deadRedis(t), time.Hour)
	sid := uuid.NewString()
	for _, tok := range []string{
		"", "abc", sid, sid + ".", sid + ".short",
		"not-a-uuid-but-thirty-six-chars-long." + strings.Repeat("A", 43),
		sid + "." + strings.Repeat("A", 42) + "!",
	} {
		// Refused before any Redis call: the dead client would answer 503 otherwise.
		if _, _, _, err := s.Rotate(context.Background(), tok); !errors.Is(err, ErrRefreshInvalid) {
			t.Errorf("Rotate(%q) = %v, want ErrRefreshInvalid", tok, err)
		}
	}
}

func TestSessionsRedisDown(t *testing.T) {
	s := NewSessions(deadRedis(t), time.Hour)
	ctx := context.Background()
	if _, _, err := s.Create(ctx, uuid.New()); fault.CodeOf(err) != fault.Unavailable {
		t.Errorf("Create: %v, want 503", err)
	}
	if err := s.Check(ctx, uuid.New()); fault.CodeOf(err) != fault.Unavailable {
		t.Errorf("Check: %v, want 503", err)
	}
	if _, _, _, err := s.Rotate(ctx, uuid.NewString()+"."+strings.Repeat("A", 43)); fault.CodeOf(err) != fault.Unavailable {
		t.Errorf("Rotate: %v, want 503", err)
	}
}
