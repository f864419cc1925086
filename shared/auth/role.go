package auth

import "scaleapi/shared/fault"

// Role is what a member may do in one organization. Roles are ordered: an owner can do everything
// an admin can, and an admin everything a member can.
type Role string

// The roles, as stored in memberships.role.
const (
	RoleMember Role = "member"
	RoleAdmin  Role = "admin"
	RoleOwner  Role = "owner"
)

// rank orders the roles; 0 is not a role.
func (r Role) rank() int {
	switch r {
	case RoleMember:
		return 1
	case RoleAdmin:
		return 2
	case RoleOwner:
		return 3
	}
	return 0
}

// ParseRole returns s as a Role, or a 422 error for the field "role".
func ParseRole(s string) (Role, error) {
	r := Role(s)
	if !r.Valid() {
		return "", fault.Invalidf("role", "must be one of owner, admin, member")
	}
	return r, nil
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r is min or a higher role. An invalid role is at least nothing.
func (r Role) AtLeast(min Role) bool { return r.Valid() && r.rank() >= min.rank() }

// Action is something a member does in an organization that a role may or may not allow.
type Action string

// The actions API.md restricts by role.
const (
	// ActionRead covers reading the organization, its members, projects, tasks and reports.
	ActionRead Action = "read"
	// ActionWriteContent covers creating, changing and deleting projects and tasks.
	ActionWriteContent Action = "write_content"
	// ActionUpdateOrganization is PATCH /organizations/{id}.
	ActionUpdateOrganization Action = "update_organization"
	// ActionManageMembers is adding and removing members.
	ActionManageMembers Action = "manage_members"
	// ActionDeleteOrganization is DELETE /organizations/{id}.
	ActionDeleteOrganization Action = "delete_organization"
)

// minRole is the lowest role allowed each action.
var minRole = map[Action]Role{
	ActionRead:               RoleMember,
	ActionWriteContent:       RoleMember,
	ActionUpdateOrganization: RoleAdmin,
	ActionManageMembers:      RoleAdmin,
	ActionDeleteOrganization: RoleOwner,
}

// Allows reports whether r may perform a. An unknown action is allowed to nobody.
func (r Role) Allows(a Action) bool {
	min, ok := minRole[a]
	return ok && r.AtLeast(min)
}

// CanAssign reports whether a member with role r may give someone role target (when adding a
// member): only an owner may make owners, so an admin can't promote anyone above themself.
func (r Role) CanAssign(target Role) bool {
	return target.Valid() && r.Allows(ActionManageMembers) && r.AtLeast(target)
}

// Authorize returns nil if r allows a, else a 403 error. Callers must have established
// membership first: a non-member gets 404 (API.md), never 403.
func (r Role) Authorize(a Action) error {
	if r.Allows(a) {
		return nil
	}
	return fault.E(fault.Forbidden, "your role (%s) does not allow this", r)
}
