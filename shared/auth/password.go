package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are the first of OWASP's equally strong argon2id configurations (m = 19 MiB,
// t = 2, p = 1). One hash took 26–35 ms on one core of the 2-core development machine (Xeon,
// go test -bench, with other builds running); a Lambda function gets a full vCPU at 1769 MB, so
// the auth function should be given about that much memory to keep login near that figure (at
// 512 MB, a third of a vCPU, it would be ~100 ms). Threads stay at 1 because a Lambda
// environment below 1769 MB has less than one core: more lanes would add no speed, only
// scheduling. 19 MiB per hash is small next to the smallest Lambda memory size.
//
// m = 46 MiB, t = 1 (OWASP's other end) measured 37 ms and m = 64 MiB, t = 1 measured 54 ms.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters read back from a stored hash, so a corrupted or hostile row can't make
// one login allocate gigabytes or spin for minutes.
const (
	maxMemory  = 256 * 1024 // KiB
	maxTime    = 16
	maxThreads = 16
	maxSaltLen = 64
	maxKeyLen  = 64
)

// MaxPasswordBytes bounds the input a hash is computed over. argon2 pre-hashes its input, so the
// cost barely grows with length, but there is no reason to accept megabytes either.
const MaxPasswordBytes = 1024

// ErrMalformedHash is returned when a stored hash is not an argon2id PHC string this package
// can verify.
var ErrMalformedHash = errors.New("auth: malformed password hash")

// Passwords hashes and verifies passwords with one set of parameters.
type Passwords struct {
	params Params
	dummy  string
}

// NewPasswords returns a Passwords that hashes with p. The dummy hash that Verify-for-unknown
// users compares against is computed here, once per execution environment, unless p is
// DefaultParams, whose dummy is a constant.
func NewPasswords(p Params) (*Passwords, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	pw := &Passwords{params: p, dummy: defaultDummyHash}
	if p != DefaultParams {
		random := make([]byte, 32)
		_, _ = rand.Read(random)
		h, err := pw.Hash(base64.RawURLEncoding.EncodeToString(random))
		if err != nil {
			return nil, err
		}
		pw.dummy = h
	}
	return pw, nil
}

// defaultDummyHash is a hash of a random password nobody knows, with DefaultParams (a test keeps
// the two in step). Login compares the password against it when the email is unknown, so an
// unknown email costs the same ~30 ms as a wrong password and timing does not reveal which
// emails have accounts.
const defaultDummyHash = "$argon2id$v=19$m=19456,t=2,p=1$GmIwyONFYtSoHhaVx7ZC4w$aog5blfdcN4hoghzgSAjy6pj23OfjuI5mgkltl8zbec"

// Hash returns password's argon2id hash in PHC string format, with a fresh random salt:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key> (standard base64 without padding).
func (pw *Passwords) Hash(password string) (string, error) {
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("auth: password longer than %d bytes", MaxPasswordBytes)
	}
	p := pw.params
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return encodePHC(p, salt, key), nil
}

// Verify reports whether password matches encoded, comparing in constant time. It returns
// ErrMalformedHash (and false) when encoded can't be parsed.
func (pw *Passwords) Verify(encoded, password string) (bool, error) {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, err
	}
	if len(password) > MaxPasswordBytes {
		// Still do the work, so an over-long password is not a timing oracle for anything.
		password = password[:MaxPasswordBytes]
		_ = argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen) // KeyLen is len(want)
		return false, nil
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// VerifyDummy spends the time of one Verify and always reports false. Login calls it when no
// user has the email, so the answer takes as long as for a wrong password.
func (pw *Passwords) VerifyDummy(password string) {
	_, _ = pw.Verify(pw.dummy, password)
}

// NeedsRehash reports whether encoded was made with other parameters than pw's (or can't be
// parsed), so that a successful login can store a hash with today's parameters.
func (pw *Passwords) NeedsRehash(encoded string) bool {
	p, _, _, err := decodePHC(encoded)
	if err != nil {
		return true
	}
	return p.Memory != pw.params.Memory || p.Time != pw.params.Time || p.Threads != pw.params.Threads ||
		p.SaltLen != pw.params.SaltLen || p.KeyLen != pw.params.KeyLen
}

func (p Params) check() error {
	switch {
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("auth: argon2 memory %d KiB out of range", p.Memory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("auth: argon2 time %d out of range", p.Time)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("auth: argon2 threads %d out of range", p.Threads)
	case p.SaltLen < 16 || p.SaltLen > maxSaltLen:
		return fmt.Errorf("auth: salt length %d out of range", p.SaltLen)
	case p.KeyLen < 16 || p.KeyLen > maxKeyLen:
		return fmt.Errorf("auth: key length %d out of range", p.KeyLen)
	}
	return nil
}

var b64 = base64.RawStdEncoding

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

func decodePHC(s string) (Params, []byte, []byte, error) {
	var p Params
	parts := strings.Split(s, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, ErrMalformedHash
	}
	var threads uint32
	n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &threads)
	if err != nil || n != 3 || threads > maxThreads {
		return p, nil, nil, ErrMalformedHash
	}
	p.Threads = uint8(threads)
	salt, err := b64.Strict().DecodeString(parts[4])
	if err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	key, err := b64.Strict().DecodeString(parts[5])
	if err != nil {
		return p, nil, nil, ErrMalformedHash
	}
	// The lengths are bounded before they are narrowed to uint32, so that check sees them as
	// they are.
	if len(salt) > maxSaltLen || len(key) > maxKeyLen {
		return p, nil, nil, ErrMalformedHash
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key)) // #nosec G115 -- at most maxSaltLen and maxKeyLen: checked just above
	if p.check() != nil {
		return p, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
