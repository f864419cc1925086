package auth

import (
	"testing"

	"scaleapi/shared/fault"
)

func TestRoleAllows(t *testing.T) {
	cases := []struct {
		role   Role
		action Action
		want   bool
	}{
		{RoleMember, ActionRead, true},
		{RoleMember, ActionWriteContent, true},
		{RoleMember, ActionUpdateOrganization, false},
		{RoleMember, ActionManageMembers, false},
		{RoleMember, ActionDeleteOrganization, false},
		{RoleAdmin, ActionUpdateOrganization, true},
		{RoleAdmin, ActionManageMembers, true},
		{RoleAdmin, ActionDeleteOrganization, false},
		{RoleOwner, ActionDeleteOrganization, true},
		{RoleOwner, Action("fly"), false},
		{Role("root"), ActionRead, false},
		{Role(""), ActionRead, false},
	}
	for _, c := range cases {
		if got := c.role.Allows(c.action); got != c.want {
			t.Errorf("%q.Allows(%q) = %v, want %v", c.role, c.action, got, c.want)
		}
		err := c.role.Authorize(c.action)
		if (err == nil) != c.want || (err != nil && fault.CodeOf(err) != fault.Forbidden) {
			t.Errorf("%q.Authorize(%q) = %v", c.role, c.action, err)
		}
	}
}

func TestRoleAtLeastAndAssign(t *testing.T) {
	if !RoleOwner.AtLeast(RoleAdmin) || RoleMember.AtLeast(RoleAdmin) || !RoleAdmin.AtLeast(RoleAdmin) {
		t.Fatal("AtLeast order is wrong")
	}
	if Role("x").AtLeast(Role("y")) {
		t.Fatal("invalid roles compare as at least each other")
	}
	if !RoleAdmin.CanAssign(RoleAdmin) || RoleAdmin.CanAssign(RoleOwner) || RoleMember.CanAssign(RoleMember) ||
		!RoleOwner.CanAssign(RoleOwner) || RoleOwner.CanAssign(Role("god")) {
		t.Fatal("CanAssign is wrong")
	}
}

func TestParseRole(t *testing.T) {
	if r, err := ParseRole("admin"); err != nil || r != RoleAdmin {
		t.Fatalf("ParseRole(admin) = %q, %v", r, err)
	}
	if _, err := ParseRole("Admin"); fault.CodeOf(err) != fault.Invalid {
		t.Fatalf("ParseRole(Admin) = %v, want 422", err)
	}
}
