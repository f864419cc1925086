package attack_test

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"scaleapi/shared/apsorc"
	"scaleapi/shared/auth"
)

// usersRef is what reference answers for a property naming a user.
const usersRef = "users"

// fill generates a valid body from an operation's request schema: its required properties
// (or, when none is, its first text property, so that a PATCH changes something), each from its
// type, format and enum; references name the tenant's rows, found through the .apsorc's
// relations. Every text carries the tenant's tag and the fill's nonce, so that a stored row is
// found again by one search.
type fill struct {
	w     *world
	tn    *tenant // whose rows references name; nil for the stranger
	op    *operation
	x     *run     // the run that makes rows a reference needs
	as    *account // the caller; its credentials are a login's
	nonce string
	// set overrides properties by name, wherever the schema declares them.
	set map[string]any
}

func (f *fill) tag() string {
	if f.tn == nil {
		return "stranger"
	}
	return f.tn.tag
}

// object returns a body for s.
func (f *fill) object(s schema) (map[string]any, error) {
	out := map[string]any{}
	names := requiredOf(s)
	if len(names) == 0 {
		if p := f.firstText(s); p != "" {
			names = append(names, p)
		}
	}
	for name := range f.set {
		if f.w.doc.property(s, name) != nil && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	for _, n := range names {
		v, err := f.value(n, f.w.doc.property(s, n))
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", f.op.Key(), n, err)
		}
		out[n] = v
	}
	return out, nil
}

// firstText returns the first (by name) plain text property of s, or "".
func (f *fill) firstText(s schema) string {
	for _, name := range sortedKeys(asMap(s["properties"])) {
		p := f.w.doc.property(s, name)
		if mainType(p) == "string" && p["enum"] == nil && p["format"] == nil {
			return name
		}
	}
	return ""
}

// value returns a valid value of property name, whose schema is s.
func (f *fill) value(name string, s schema) (any, error) {
	if v, ok := f.set[name]; ok {
		return v, nil
	}
	if enum := asSlice(s["enum"]); len(enum) > 0 {
		if f.w.isRoleEnum(s) {
			return string(f.w.doc.roles[len(f.w.doc.roles)-1]), nil // the least privilege
		}
		return enum[0], nil
	}
	switch mainType(s) {
	case "object":
		return f.object(s)
	case "array":
		n, _ := number(s, "minItems")
		out := make([]any, max(n, 1))
		for i := range out {
			v, err := f.value(name, f.w.doc.resolve(asMap(s["items"])))
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case "integer", "number":
		n, _ := number(s, "minimum")
		return max(n, 1), nil
	case "boolean":
		return false, nil
	}
	login := f.op.Path == loginPath
	switch {
	case name == "email" || s["format"] == "email":
		switch {
		case login:
			return f.as.email, nil
		case !f.op.Secured:
			return f.tag() + "-" + f.nonce + "@example.com", nil
		}
		// A secured operation names a user who exists (a member to add).
		u, err := f.w.newUser(f.tn, f.nonce)
		if err != nil {
			return nil, err
		}
		return u.email, nil
	case name == "password":
		if login {
			return f.as.password, nil
		}
		return "pw-" + random() + random(), nil
	case name == "refreshToken":
		// Only the API makes refresh tokens: a new session's.
		_, refresh, err := f.w.authFn().deps.Sessions.Create(f.w.ctx(), f.as.id)
		return refresh, err
	case s["format"] == "uuid":
		ref := f.w.reference(f.op, name)
		switch {
		case ref == "" || f.tn == nil:
			return uuid.NewString(), nil
		case ref == usersRef:
			return f.tn.users[f.w.doc.roles[len(f.w.doc.roles)-1]].id.String(), nil
		}
		row, err := f.w.mainRow(f.x, f.tn, ref)
		if err != nil {
			return nil, err
		}
		return str(row["id"]), nil
	case s["format"] == "date":
		return "2030-01-02", nil
	case s["format"] == "date-time":
		return time.Now().UTC().Format(time.RFC3339), nil
	}
	v := f.tag() + "-" + f.nonce
	if n, ok := number(s, "maxLength"); ok && len(v) > n {
		v = v[:n]
	}
	if n, ok := number(s, "minLength"); ok && len(v) < n {
		v += strings.Repeat("x", n-len(v))
	}
	return v, nil
}

// entityOf returns the .apsorc entity whose routes path is under, or nil.
func (w *world) entityOf(path string) *apsorc.Entity {
	seg, _, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	for _, e := range w.schema.Entities {
		if e.Path == seg {
			return e
		}
	}
	return nil
}

// listEntity returns the entity of the rows a list operation answers: the entity of its last
// literal segment (/projects/{id}/tasks lists tasks).
func (w *world) listEntity(op *operation) *apsorc.Entity {
	segs := strings.Split(op.Path, "/")
	for i := len(segs) - 1; i > 0; i-- {
		if !strings.HasPrefix(segs[i], "{") {
			return w.entityOf("/" + segs[i])
		}
	}
	return nil
}

// reference returns what the body property name of op names, from the .apsorc's relations: the
// collection of the rows it names, usersRef for a user, "" for no row.
func (w *world) reference(op *operation, name string) string {
	e := w.entityOf(op.Path)
	if e == nil {
		return ""
	}
	f, ok := e.Field(name)
	if !ok || f.Relation == nil {
		return ""
	}
	t := f.Relation.Target
	if t.Platform == apsorc.Users {
		return usersRef
	}
	if c := "/" + t.Path; w.doc.op("POST", c) != nil {
		return c
	}
	return ""
}

// registered is the registered claims the API's own tokens carry.
func registered(userID uuid.UUID, now time.Time) jwt.RegisteredClaims {
	return jwt.RegisteredClaims{
		Issuer: auth.DefaultIssuer, Subject: userID.String(), Audience: jwt.ClaimStrings{auth.DefaultAudience},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)), ID: uuid.NewString(),
	}
}

// unsigned is c as a token with "alg": "none" and no signature.
func unsigned(c auth.Claims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		panic(err)
	}
	return s
}

// signedHS512 is c signed with the API's own key, but by another algorithm than the one it
// accepts.
func signedHS512(c auth.Claims, key []byte) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS512, c).SignedString(key)
	if err != nil {
		panic(err)
	}
	return s
}

func basic(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
