// Package schema declares the list-query allow-lists (query.Schema) of projects and tasks and the
// relations between them: which fields a client may select, filter and sort on, and which
// relations join=… may load.
//
// The two live together because their relations name each other (a project joins its tasks, a
// task joins its project), and two Go packages can't import each other. Everything else about
// projects and tasks lives in packages project and task.
//
// Sortable fields are the ones an index (or the tenant scope's small row set) serves: id and
// createdAt ride the (organization_id, created_at, id) keyset indexes; the others sort the rows
// that the tenant scope has already narrowed down.
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
// the order of project.Project's JSON, so that a list item and a single GET read alike. version
// can be selected (an item then has every field of GET /projects/{id}) but not filtered or
// sorted on: nobody needs it, and every sortable field is an index to think about.
var Projects = query.NewSchema("projects",
	query.Field{Name: "id", Column: "id", Type: query.UUID, Sort: true, Filter: true},
	query.Field{Name: "organizationId", Column: "organization_id", Type: query.UUID, Filter: true},
	query.Field{Name: "name", Column: "name", Type: query.Text, Sort: true, Filter: true},
	query.Field{Name: "description", Column: "description", Type: query.Text, Nullable: true, Filter: true},
	query.Field{Name: "status", Column: "status", Type: query.Enum, Values: ProjectStatuses, Sort: true, Filter: true},
	query.Field{Name: "createdAt", Column: "created_at", Type: query.Timestamptz, Sort: true, Filter: true},
	query.Field{Name: "updatedAt", Column: "updated_at", Type: query.Timestamptz, Sort: true, Filter: true},
	query.Field{Name: "version", Column: "version", Type: query.Int},
)

// Tasks is the allow-list of GET /tasks, GET /tasks/{id} and GET /projects/{id}/tasks, in the
// order of task.Task's JSON.
var Tasks = query.NewSchema("tasks",
	query.Field{Name: "id", Column: "id", Type: query.UUID, Sort: true, Filter: true},
	query.Field{Name: "projectId", Column: "project_id", Type: query.UUID, Filter: true},
	query.Field{Name: "organizationId", Column: "organization_id", Type: query.UUID, Filter: true},
	query.Field{Name: "title", Column: "title", Type: query.Text, Sort: true, Filter: true},
	query.Field{Name: "description", Column: "description", Type: query.Text, Nullable: true, Filter: true},
	query.Field{Name: "status", Column: "status", Type: query.Enum, Values: TaskStatuses, Sort: true, Filter: true},
	query.Field{Name: "priority", Column: "priority", Type: query.Enum, Values: TaskPriorities, Sort: true, Filter: true},
	query.Field{Name: "assigneeId", Column: "assignee_id", Type: query.UUID, Nullable: true, Filter: true},
	query.Field{Name: "dueDate", Column: "due_date", Type: query.Date, Nullable: true, Sort: true, Filter: true},
	query.Field{Name: "createdAt", Column: "created_at", Type: query.Timestamptz, Sort: true, Filter: true},
	query.Field{Name: "updatedAt", Column: "updated_at", Type: query.Timestamptz, Sort: true, Filter: true},
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
