// Package user holds accounts and the auth function's business: registering, logging in,
// refreshing and ending sessions, and "who am I". Users live in PostgreSQL (PG), the memberships
// GET /auth/me lists are shared/membership's; passwords, tokens and sessions are shared/auth's.
//
// Login answers an unknown email exactly like a wrong password, in content and in time (the
// password is compared against a dummy argon2id hash), so the API does not tell which emails
// have accounts. Registration necessarily does (409 for a taken email, as API.md asks); its
// per-IP rate limit is what bounds that enumeration.
package user

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
)

// User is an account. PasswordHash never leaves the service.
type User struct {
	ID           uuid.UUID `json:"id"`
	Email        string    `json:"email"`
	Name         string    `json:"name"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Limits on input, matching the users table's CHECK constraints (and RFC 5321 for the email).
const (
	MinPasswordChars = 8
	MaxEmailLen      = 254
	MaxNameChars     = 200
)

// NormalizeEmail trims and lower-cases an email, the form it is stored and looked up in.
// Lower-casing the local part is, strictly, not RFC 5321, but every mail provider that matters
// treats it case-insensitively, and two accounts differing only in case are a support problem.
func NormalizeEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// validEmail reports whether s (already normalised) is a bare address: local@domain, with a dot
// in the domain, no display name, no comments, no spaces.
func validEmail(s string) bool {
	if len(s) < 3 || len(s) > MaxEmailLen || strings.ContainsAny(s, " \t\r\n<>") {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && !strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// Registration is the input of Register.
type Registration struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// Normalize trims the name and normalises the email in place.
func (in *Registration) Normalize() {
	in.Email = NormalizeEmail(in.Email)
	in.Name = strings.TrimSpace(in.Name)
}

// Validate returns a 422 error naming every invalid field, or nil. Call Normalize first.
func (in Registration) Validate() error {
	var v api.Validator
	v.Check(validEmail(in.Email), "email", "must be a valid email address")
	checkPassword(&v, in.Password)
	n := utf8.RuneCountInString(in.Name)
	v.Check(n >= 1 && n <= MaxNameChars, "name", "must be 1 to 200 characters")
	v.Check(utf8.ValidString(in.Name), "name", "must be valid UTF-8")
	return v.Err()
}

func checkPassword(v *api.Validator, pw string) {
	switch {
	case utf8.RuneCountInString(pw) < MinPasswordChars:
		v.Add("password", "must be at least 8 characters")
	case len(pw) > auth.MaxPasswordBytes:
		v.Add("password", "must be at most 1024 bytes")
	}
}
