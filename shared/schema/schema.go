// Package schema declares the list-query allow-lists (query.Schema) of projects and tasks and the
// relations between them: which fields a client may read (and so select, filter and sort on),
// and which relations join=… may load (and filter on).
//
// The two live together because their relations name each other (a project joins its tasks, a
// task joins its project), and two Go packages can't import each other. Everything else about
// projects and tasks lives in packages project and task.
//
// Every field sorts, as API.md promises. Only id and createdAt ride an index in sort order (the
// (organization_id, created_at, id) keyset indexes); any other sort orders the rows that the
// tenant scope has already narrowed down to one tenant's, which is correct first and cheap while
// a tenant's rows are few (see package query's comment for the cost).
package schema

import (
	"scaleapi/shared/organization"
	"scaleapi/shared/query"
)

// ProjectStatuses are the values of projects.status, as the projects_status_check constraint
// allows them.
var ProjectStatuses = []string{"planning", "active", "on_hold", "completed", "archived"}

// TaskStatuses are the values of tasks.status (tasks_status_check).
var TaskStatuses = []string{"todo", "in_progress", "done"}

// TaskPriorities are the values of tasks.priority (tasks_priority_check).
var TaskPriorities = []string{"low", "medium", "high", "urgent"}

// Projects is the allow-list of GET /projects and GET /projects/{id}. Its fields are listed in
// the order of project.Project's JSON, so that a list item and a single GET read alike.
var Projects = query.NewSchema("projects",
	query.Field{Name: "id", Column: "id", Type: query.UUID},
	query.Field{Name: "organizationId", Column: "organization_id", Type: query.UUID},
	query.Field{Name: "name", Column: "name", Type: query.Text},
	query.Field{Name: "description", Column: "description", Type: query.Text, Nullable: true},
	query.Field{Name: "status", Column: "status", Type: query.Enum, Values: ProjectStatuses},
	query.Field{Name: "createdAt", Column: "created_at", Type: query.Timestamptz},
	query.Field{Name: "updatedAt", Column: "updated_at", Type: query.Timestamptz},
	query.Field{Name: "version", Column: "version", Type: query.Int},
)

// Tasks is the allow-list of GET /tasks, GET /tasks/{id} and GET /projects/{id}/tasks, in the
// order of task.Task's JSON.
var Tasks = query.NewSchema("tasks",
	query.Field{Name: "id", Column: "id", Type: query.UUID},
	query.Field{Name: "projectId", Column: "project_id", Type: query.UUID},
	query.Field{Name: "organizationId", Column: "organization_id", Type: query.UUID},
	query.Field{Name: "title", Column: "title", Type: query.Text},
	query.Field{Name: "description", Column: "description", Type: query.Text, Nullable: true},
	query.Field{Name: "status", Column: "status", Type: query.Enum, Values: TaskStatuses},
	query.Field{Name: "priority", Column: "priority", Type: query.Enum, Values: TaskPriorities},
	query.Field{Name: "assigneeId", Column: "assignee_id", Type: query.UUID, Nullable: true},
	query.Field{Name: "dueDate", Column: "due_date", Type: query.Date, Nullable: true},
	query.Field{Name: "createdAt", Column: "created_at", Type: query.Timestamptz},
	query.Field{Name: "updatedAt", Column: "updated_at", Type: query.Timestamptz},
	query.Field{Name: "version", Column: "version", Type: query.Int},
)

// assignees is what join=assignee shows of a user: who they are, never their password hash or
// anything else from the users table. The assignee is a member of the task's organization, and
// members already see each other's names and emails (GET /organizations/{id}/members).
var assignees = query.NewSchema("users",
	query.Field{Name: "id", Column: "id", Type: query.UUID},
	query.Field{Name: "name", Column: "name", Type: query.Text},
	query.Field{Name: "email", Column: "email", Type: query.Text},
)

func init() {
	Projects.Join(query.Relation{
		Name: "tasks", Many: true, Schema: Tasks,
		Local: "id", Foreign: "project_id", DeletedAt: "deleted_at",
	}).Join(query.Relation{
		Name: "organization", Schema: organization.Schema,
		Local: "organization_id", Foreign: "id", DeletedAt: "deleted_at",
	})
	Tasks.Join(query.Relation{
		Name: "project", Schema: Projects,
		Local: "project_id", Foreign: "id", DeletedAt: "deleted_at",
	}).Join(query.Relation{
		Name: "organization", Schema: organization.Schema,
		Local: "organization_id", Foreign: "id", DeletedAt: "deleted_at",
	}).Join(query.Relation{
		Name: "assignee", Schema: assignees,
		Local: "assignee_id", Foreign: "id",
	})
}
