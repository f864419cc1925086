package user

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/fault"
	"scaleapi/shared/membership"
)

// ErrBadCredentials is the one answer to a failed login, whether the email is unknown or the
// password wrong.
var ErrBadCredentials = fault.E(fault.Unauthenticated, "invalid email or password")

// Session is what register, login and refresh answer: the user and a token pair.
type Session struct {
	User         *User  `json:"user"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	// ExpiresIn is the access token's lifetime in seconds (as OAuth 2's expires_in).
	ExpiresIn int `json:"expiresIn"`
}

// Profile is GET /auth/me's answer.
type Profile struct {
	User        *User                   `json:"user"`
	Memberships []membership.Membership `json:"memberships"`
}

// Service is the auth function's business logic.
type Service struct {
	store     Store
	passwords *auth.Passwords
	tokens    *auth.Tokens
	sessions  *auth.Sessions
	log       *slog.Logger
}

// NewService returns a Service. log may be nil (slog.Default()).
func NewService(store Store, passwords *auth.Passwords, tokens *auth.Tokens, sessions *auth.Sessions, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: store, passwords: passwords, tokens: tokens, sessions: sessions, log: log}
}

// Register creates an account and its first session. It returns a 422 error for invalid input
// and a 409 one when the email is taken.
func (s *Service) Register(ctx context.Context, in Registration) (Session, error) {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return Session{}, err
	}
	hash, err := s.passwords.Hash(in.Password)
	if err != nil {
		return Session{}, fmt.Errorf("register: %w", err)
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Session{}, fmt.Errorf("register: %w", err)
	}
	u := &User{ID: id, Email: in.Email, Name: in.Name, PasswordHash: hash}
	if err := s.store.Create(ctx, u); err != nil {
		return Session{}, err
	}
	return s.start(ctx, u)
}

// Login checks credentials and starts a session. Every failure is ErrBadCredentials, after the
// same amount of argon2 work.
func (s *Service) Login(ctx context.Context, email, password string) (Session, error) {
	email = NormalizeEmail(email)
	var v api.Validator
	v.Check(email != "", "email", "is required")
	v.Check(password != "", "password", "is required")
	if err := v.Err(); err != nil {
		return Session{}, err
	}
	u, err := s.store.ByEmail(ctx, email)
	if errors.Is(err, fault.ErrNotFound) {
		s.passwords.VerifyDummy(password)
		return Session{}, ErrBadCredentials
	}
	if err != nil {
		return Session{}, err
	}
	ok, err := s.passwords.Verify(u.PasswordHash, password)
	if err != nil {
		// A hash we can't read is our bug or a damaged row, not the client's mistake; still
		// answer like a wrong password, and say why in the log.
		s.log.ErrorContext(ctx, "login: unreadable password hash", "user", u.ID, "err", err)
		return Session{}, ErrBadCredentials
	}
	if !ok {
		return Session{}, ErrBadCredentials
	}
	if s.passwords.NeedsRehash(u.PasswordHash) {
		s.rehash(ctx, u.ID, password)
	}
	return s.start(ctx, u)
}

// rehash stores a hash with today's parameters; the login has succeeded either way.
func (s *Service) rehash(ctx context.Context, id uuid.UUID, password string) {
	hash, err := s.passwords.Hash(password)
	if err == nil {
		err = s.store.SetPasswordHash(ctx, id, hash)
	}
	if err != nil {
		s.log.WarnContext(ctx, "login: could not upgrade password hash", "user", id, "err", err)
	}
}

// start creates a session for u and issues its first token pair.
func (s *Service) start(ctx context.Context, u *User) (Session, error) {
	sid, refresh, err := s.sessions.Create(ctx, u.ID)
	if err != nil {
		return Session{}, err
	}
	access, _, err := s.tokens.Issue(u.ID, sid)
	if err != nil {
		return Session{}, err
	}
	return Session{User: u, AccessToken: access, RefreshToken: refresh, ExpiresIn: seconds(s.tokens.TTL())}, nil
}

// Refresh exchanges a refresh token for a new pair. The presented token is dead afterwards;
// presenting a dead one revokes its session (auth.ErrRefreshReused).
func (s *Service) Refresh(ctx context.Context, refreshToken string) (Session, error) {
	var v api.Validator
	v.Check(refreshToken != "", "refreshToken", "is required")
	if err := v.Err(); err != nil {
		return Session{}, err
	}
	// The user is loaded before the token is spent: a database failure then leaves the client's
	// token usable for a retry instead of forcing a new login. Loading it at all gives the three
	// token answers one shape, and stops a session that outlived its user from minting tokens.
	uid, err := s.sessions.UserOf(ctx, refreshToken)
	if err != nil {
		return Session{}, err
	}
	u, err := s.store.ByID(ctx, uid)
	if errors.Is(err, fault.ErrNotFound) {
		return Session{}, auth.ErrSessionEnded
	}
	if err != nil {
		return Session{}, err
	}
	rotatedUID, sid, refresh, err := s.sessions.Rotate(ctx, refreshToken)
	if err != nil {
		if errors.Is(err, auth.ErrRefreshReused) {
			s.log.WarnContext(ctx, "refresh token reused: session revoked", "session", sessionOf(refreshToken))
		}
		return Session{}, err
	}
	if rotatedUID != uid {
		// Session ids are random and never reused, so this can't happen short of a bug.
		return Session{}, fmt.Errorf("refresh: session changed user from %s to %s", uid, rotatedUID)
	}
	access, _, err := s.tokens.Issue(uid, sid)
	if err != nil {
		return Session{}, err
	}
	return Session{User: u, AccessToken: access, RefreshToken: refresh, ExpiresIn: seconds(s.tokens.TTL())}, nil
}

// Logout ends p's session, in every execution environment at once.
func (s *Service) Logout(ctx context.Context, p auth.Principal) error {
	return s.sessions.Revoke(ctx, p.SessionID)
}

// Me returns p's user and memberships. A session that outlived its user is a 401.
func (s *Service) Me(ctx context.Context, p auth.Principal) (Profile, error) {
	u, err := s.store.ByID(ctx, p.UserID)
	if errors.Is(err, fault.ErrNotFound) {
		return Profile{}, auth.ErrSessionEnded
	}
	if err != nil {
		return Profile{}, err
	}
	ms, err := s.store.Memberships(ctx, p.UserID)
	if err != nil {
		return Profile{}, err
	}
	return Profile{User: u, Memberships: ms}, nil
}

func seconds(d time.Duration) int { return int(d / time.Second) }

// sessionOf returns the session-id part of a refresh token, for logs; never the secret.
func sessionOf(refresh string) string {
	if len(refresh) >= 36 {
		return refresh[:36]
	}
	return ""
}
