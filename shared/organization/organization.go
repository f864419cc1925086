package organization

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/query"
	"scaleapi/shared/user"
)

// MaxNameChars is the longest organization name, as the organizations_name_check constraint says.
const MaxNameChars = 200

// Organization is a tenant.
type Organization struct {
	ID        uuid.UUID `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Version increments on every change; the HTTP layer shows it as the ETag and checks If-Match
	// against it.
	Version int `json:"version"`
}

// Member is one user of an organization, as GET /organizations/{id}/members lists them.
type Member struct {
	UserID uuid.UUID `json:"userId"`
	Email  string    `json:"email"`
	Name   string    `json:"name"`
	Role   auth.Role `json:"role"`
}

// Versions are the versions a conditional write accepts (If-Match). nil accepts any version;
// an empty, non-nil list accepts none.
type Versions []int32

// Match reports whether version is acceptable.
func (v Versions) Match(version int) bool {
	if v == nil {
		return true
	}
	for _, x := range v {
		if int(x) == version {
			return true
		}
	}
	return false
}

// Schema is the allow-list of GET /organizations' query syntax: the fields of GET
// /organizations/{id}, each of which a client can select, filter and sort on.
var Schema = query.NewSchema("organizations",
	query.Field{Name: "id", Column: "id", Type: query.UUID},
	query.Field{Name: "name", Column: "name", Type: query.Text},
	query.Field{Name: "createdAt", Column: "created_at", Type: query.Timestamptz},
	query.Field{Name: "updatedAt", Column: "updated_at", Type: query.Timestamptz},
	query.Field{Name: "version", Column: "version", Type: query.Int},
)

// Creation is the input of POST /organizations.
type Creation struct {
	Name string `json:"name"`
}

// Validate trims the name and returns a 422 error if it is not acceptable.
func (in *Creation) Validate() error {
	var v api.Validator
	in.Name = checkName(&v, in.Name)
	return v.Err()
}

// Patch is the input of PATCH /organizations/{id}: a JSON merge patch (RFC 7396) of the fields a
// client may change. A nil field is left as it is.
type Patch struct {
	Name *string
}

// patchRequest is Patch on the wire. Raw values tell an absent field (leave it) from a null one
// (a 422: a name can't be removed), which a *string can't.
type patchRequest struct {
	Name json.RawMessage `json:"name"`
}

// patch validates the request into a Patch.
func (in patchRequest) patch() (Patch, error) {
	var (
		v api.Validator
		p Patch
	)
	if in.Name != nil {
		var name string
		if bytes.Equal(in.Name, []byte("null")) || json.Unmarshal(in.Name, &name) != nil {
			v.Add("name", "must be a string")
		} else {
			name = checkName(&v, name)
			p.Name = &name
		}
	}
	return p, v.Err()
}

// checkName records what is wrong with name on v and returns it trimmed.
func checkName(v *api.Validator, name string) string {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		v.Add("name", "is required")
	case !utf8.ValidString(name) || strings.ContainsRune(name, 0):
		v.Add("name", "must be UTF-8 text without NUL characters")
	case utf8.RuneCountInString(name) > MaxNameChars:
		v.Add("name", "must be at most 200 characters")
	}
	return name
}

// NewMember is the input of POST /organizations/{id}/members.
type NewMember struct {
	Email string    `json:"email"`
	Role  auth.Role `json:"role"`
}

// Validate normalises the email and returns a 422 error naming every invalid field. A missing
// role is an error rather than "member" by default: the caller is handing out permissions and
// should say which.
func (in *NewMember) Validate() error {
	var v api.Validator
	in.Email = user.NormalizeEmail(in.Email)
	v.Check(in.Email != "", "email", "is required")
	v.Check(in.Email == "" || (len(in.Email) <= user.MaxEmailLen && strings.Count(in.Email, "@") == 1 &&
		!strings.HasPrefix(in.Email, "@") && !strings.HasSuffix(in.Email, "@")),
		"email", "must be an email address")
	v.Check(in.Role.Valid(), "role", "must be one of owner, admin, member")
	return v.Err()
}
