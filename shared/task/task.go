// Package task is the tasks function's domain: the Task type and its rules (Service), its SQL
// (PG) and its routes (Routes), including GET /projects/{id}/tasks. What tasks share with
// projects is package resource's; the list query allow-list is schema.Tasks.
//
// # Rules
//
//   - A task belongs to a live project, and to that project's organization (organizationId is
//     derived, never sent). Creating one in a project the caller can't see is a 404.
//   - Any member of the organization may create, change, replace, delete and recover its tasks.
//   - assigneeId must be a member of the task's organization (422 otherwise).
//   - A task may move to another project of its organization (projectId in PUT or PATCH), never
//     to another organization (422); a project it can't see is a 404.
//   - A task of a deleted project can't be recovered on its own (409): recover the project,
//     which brings back the tasks deleted with it.
//   - description is at most 5000 characters, as a project's.
//   - PUT replaces every writable field: absent nullable fields become null, an absent status
//     todo and an absent priority medium, as on create.
//
// Creating a task takes a share lock on its project's row in the same statement, so it can't
// slip in while the project is being deleted (see project.PG.Delete).
package task

import (
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/resource"
	"scaleapi/shared/schema"
)

// Limits of a task's fields. The title's is the tasks table's CHECK; the description's is the
// same as a project's.
const (
	MaxTitle       = 200
	MaxDescription = 5000
)

// Status is how far a task has got.
type Status string

// The statuses (schema.TaskStatuses).
const (
	StatusTodo       Status = "todo"
	StatusInProgress Status = "in_progress"
	StatusDone       Status = "done"
)

// Priority is how urgent a task is.
type Priority string

// The priorities (schema.TaskPriorities).
const (
	PriorityLow    Priority = "low"
	PriorityMedium Priority = "medium"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Task is a task as the API shows it, in schema.Tasks' field order.
type Task struct {
	ID             uuid.UUID  `json:"id"`
	ProjectID      uuid.UUID  `json:"projectId"`
	OrganizationID uuid.UUID  `json:"organizationId"`
	Title          string     `json:"title"`
	Description    *string    `json:"description"`
	Status         Status     `json:"status"`
	Priority       Priority   `json:"priority"`
	AssigneeID     *uuid.UUID `json:"assigneeId"`
	// DueDate is a calendar date, YYYY-MM-DD, with no time zone.
	DueDate   *string   `json:"dueDate"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Version increments on every change; it is the ETag.
	Version int `json:"version"`
}

// Meta implements resource.Entity.
func (t Task) Meta() resource.Meta {
	return resource.Meta{ID: t.ID, OrganizationID: t.OrganizationID, Version: t.Version}
}

// Key returns the cache key of task id. Package project uses it to invalidate the tasks that a
// project's delete or recover changes.
func Key(id uuid.UUID) string { return resource.Key(noun, id) }

const noun = "task"

// Fields are a task's writable fields.
type Fields struct {
	Title       string   `json:"title"`
	Description *string  `json:"description"`
	Status      Status   `json:"status"`
	Priority    Priority `json:"priority"`
	AssigneeID  *string  `json:"assigneeId"`
	DueDate     *string  `json:"dueDate"`

	// assignee is AssigneeID parsed, by check.
	assignee *uuid.UUID
}

// Input is the body of POST /tasks, of each item of POST /tasks/bulk and of PUT /tasks/{id},
// where projectId may be left out (the task stays where it is) or name another project of the
// task's organization to move it there.
type Input struct {
	ProjectID string `json:"projectId"`
	Fields

	// project is ProjectID parsed, by check.
	project uuid.UUID
}

// Patch is the body of PATCH /tasks/{id}: absent fields stay as they are; null clears
// description, assigneeId and dueDate; projectId moves the task to another project of its
// organization.
type Patch struct {
	ProjectID   resource.Optional[string]   `json:"projectId"`
	Title       resource.Optional[string]   `json:"title"`
	Description resource.Optional[string]   `json:"description"`
	Status      resource.Optional[Status]   `json:"status"`
	Priority    resource.Optional[Priority] `json:"priority"`
	AssigneeID  resource.Optional[string]   `json:"assigneeId"`
	DueDate     resource.Optional[string]   `json:"dueDate"`

	// assignee is AssigneeID parsed, by check (nil for null).
	assignee *uuid.UUID
	// project is ProjectID parsed, by check (nil when absent).
	project *uuid.UUID
}

// check records what is wrong with f on v under field names prefixed with prefix, and
// normalises it: the title trimmed, absent status and priority their defaults.
func (f *Fields) check(v *api.Validator, prefix string) {
	f.Title = resource.Name(v, prefix+"title", f.Title, MaxTitle)
	if f.Description != nil {
		resource.Text(v, prefix+"description", *f.Description, MaxDescription)
	}
	if f.Status == "" {
		f.Status = StatusTodo
	}
	resource.OneOf(v, prefix+"status", string(f.Status), schema.TaskStatuses)
	if f.Priority == "" {
		f.Priority = PriorityMedium
	}
	resource.OneOf(v, prefix+"priority", string(f.Priority), schema.TaskPriorities)
	f.assignee = nil
	if f.AssigneeID != nil {
		id := resource.ID(v, prefix+"assigneeId", *f.AssigneeID)
		f.assignee = &id
	}
	if f.DueDate != nil {
		checkDate(v, prefix+"dueDate", *f.DueDate)
	}
}

// check validates and normalises p.
func (p *Patch) check() error {
	var v api.Validator
	p.project = resource.OptionalID(&v, "projectId", p.ProjectID, false)
	resource.OptionalName(&v, "title", &p.Title, MaxTitle)
	resource.OptionalText(&v, "description", p.Description, MaxDescription)
	resource.OptionalOneOf(&v, "status", p.Status, schema.TaskStatuses)
	resource.OptionalOneOf(&v, "priority", p.Priority, schema.TaskPriorities)
	p.assignee = resource.OptionalID(&v, "assigneeId", p.AssigneeID, true)
	if p.DueDate.Set && !p.DueDate.Null {
		checkDate(&v, "dueDate", p.DueDate.Value)
	}
	return v.Err()
}

// Patch implements resource.Replacement: the Patch that sets every field to in's, absent status
// and priority to their defaults (a PUT replaces the whole task), checked.
func (in Input) Patch() (Patch, error) {
	if in.Status == "" {
		in.Status = StatusTodo
	}
	if in.Priority == "" {
		in.Priority = PriorityMedium
	}
	p := Patch{
		Title:       resource.Value(&in.Title),
		Description: resource.Value(in.Description),
		Status:      resource.Value(&in.Status),
		Priority:    resource.Value(&in.Priority),
		AssigneeID:  resource.Value(in.AssigneeID),
		DueDate:     resource.Value(in.DueDate),
	}
	if in.ProjectID != "" {
		p.ProjectID = resource.Value(&in.ProjectID)
	}
	return p, p.check()
}

// checkDate checks a calendar date in the one form the API uses, YYYY-MM-DD.
func checkDate(v *api.Validator, field, s string) {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil || d.Format(time.DateOnly) != s {
		v.Add(field, "must be a date, YYYY-MM-DD")
	}
}
