// Package project is the projects function's domain: the Project type and its rules (Service),
// its SQL (PG) and its routes (Routes). What projects share with tasks (tenancy, ETags, caching,
// the HTTP shape) is package resource's; the list query allow-list is schema.Projects.
//
// # Rules
//
//   - Any member of an organization may create, change and replace its projects; deleting or
//     recovering one needs an admin or owner (403 for a member), because it deletes or brings
//     back every task of the project with it.
//   - A project never moves to another organization: organizationId in PUT or PATCH (a client
//     sending back what it read) must be the project's own, else 422.
//   - DELETE is a soft delete: the project and its live tasks get the same deleted_at, in one
//     transaction. Recover clears it on the project and on exactly the tasks that carry that
//     timestamp, so a task deleted on its own before the project stays deleted.
//   - PUT replaces every writable field: an absent description becomes null and an absent status
//     becomes planning, as on create.
package project

import (
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/resource"
	"scaleapi/shared/schema"
)

// Limits of a project's fields, as the projects table's CHECK constraints enforce them.
const (
	MaxName        = 200
	MaxDescription = 5000
)

// Status is where a project stands.
type Status string

// The statuses (schema.ProjectStatuses).
const (
	StatusPlanning  Status = "planning"
	StatusActive    Status = "active"
	StatusOnHold    Status = "on_hold"
	StatusCompleted Status = "completed"
	StatusArchived  Status = "archived"
)

// Project is a project as the API shows it. Its field order is schema.Projects', so a list item
// with every field reads like a single GET.
type Project struct {
	ID             uuid.UUID `json:"id"`
	OrganizationID uuid.UUID `json:"organizationId"`
	Name           string    `json:"name"`
	Description    *string   `json:"description"`
	Status         Status    `json:"status"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
	// Version increments on every change; it is the ETag.
	Version int `json:"version"`
}

// Meta implements resource.Entity.
func (p Project) Meta() resource.Meta {
	return resource.Meta{ID: p.ID, OrganizationID: p.OrganizationID, Version: p.Version}
}

// Fields are a project's writable fields.
type Fields struct {
	Name        string  `json:"name"`
	Description *string `json:"description"`
	Status      Status  `json:"status"`
}

// Input is the body of POST /projects, of each item of POST /projects/bulk and of PUT
// /projects/{id}, where organizationId may be left out and, if given, must be the project's
// own: a project never moves to another organization.
type Input struct {
	OrganizationID string `json:"organizationId"`
	Fields
	// org is OrganizationID parsed, by check.
	org uuid.UUID
}

// Patch is the body of PATCH /projects/{id}: absent fields stay as they are, and a null
// description clears it. organizationId is accepted so that a client may send back what it
// read, but it can't change.
type Patch struct {
	OrganizationID resource.Optional[string] `json:"organizationId"`
	Name           resource.Optional[string] `json:"name"`
	Description    resource.Optional[string] `json:"description"`
	Status         resource.Optional[Status] `json:"status"`

	// org is OrganizationID parsed, by check.
	org *uuid.UUID
}

// check records what is wrong with f on v, under field names prefixed with prefix ("bulk[3]."),
// and normalises it: the name trimmed, an absent status the default.
func (f *Fields) check(v *api.Validator, prefix string) {
	f.Name = resource.Name(v, prefix+"name", f.Name, MaxName)
	if f.Description != nil {
		resource.Text(v, prefix+"description", *f.Description, MaxDescription)
	}
	if f.Status == "" {
		f.Status = StatusPlanning
	}
	resource.OneOf(v, prefix+"status", string(f.Status), schema.ProjectStatuses)
}

// check validates and normalises p.
func (p *Patch) check() error {
	var v api.Validator
	p.org = resource.OptionalID(&v, "organizationId", p.OrganizationID, false)
	resource.OptionalName(&v, "name", &p.Name, MaxName)
	resource.OptionalText(&v, "description", p.Description, MaxDescription)
	resource.OptionalOneOf(&v, "status", p.Status, schema.ProjectStatuses)
	return v.Err()
}

// Patch implements resource.Replacement: the Patch that sets every field to in's, an absent
// status to the default (a PUT replaces the whole project), checked.
func (in Input) Patch() (Patch, error) {
	if in.Status == "" {
		in.Status = StatusPlanning
	}
	p := Patch{Name: resource.Value(&in.Name), Description: resource.Value(in.Description), Status: resource.Value(&in.Status)}
	if in.OrganizationID != "" {
		p.OrganizationID = resource.Value(&in.OrganizationID)
	}
	return p, p.check()
}
