package task

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/fault"
	"scaleapi/shared/query"
	"scaleapi/shared/resource"
)

// Projects tells the task service which organization a project belongs to; project.Service
// implements it from its cache.
type Projects interface {
	// Organization returns the organization of live project id, or a fault.NotFound error.
	Organization(ctx context.Context, id uuid.UUID) (uuid.UUID, error)
}

// Service is the tasks' business: rules, tenancy, caching. Its reads (Document, View, List) are
// resource.Core's; this file adds GET /projects/{id}/tasks and the writes.
type Service struct {
	resource.Core[Task]
	resource.Creator[Task, Input]
	store    Store
	projects Projects
	members  resource.Members
}

var _ resource.Service[Task, Input, Patch] = (*Service)(nil)

// NewService returns a Service over store, resolving projects with projects and checking
// memberships with members.
func NewService(store Store, projects Projects, members resource.Members, o resource.Options) *Service {
	s := &Service{Core: resource.NewCore[Task](noun, store, members, o), store: store, projects: projects, members: members}
	s.Creator = resource.NewCreator(s.create)
	// A task's write changes its project's views (join=tasks; project.ViewScope), a move both
	// projects'.
	s.RetireViews(func(t Task) []string { return []string{resource.ViewScope("project", t.ProjectID)} })
	return s
}

// project returns the organization of a live project user may read, or errProjectNotFound.
func (s *Service) project(ctx context.Context, user, id uuid.UUID) (uuid.UUID, error) {
	org, err := s.projects.Organization(ctx, id)
	if err == nil {
		_, err = s.Authorize(ctx, user, org, auth.RoleMember)
	}
	if errors.Is(err, fault.ErrNotFound) {
		return uuid.Nil, errProjectNotFound
	}
	return org, err
}

// ListProject answers GET /projects/{id}/tasks: 404 unless user may read the project. The list
// is cached under the project's organization's scope, so any write there invalidates it.
func (s *Service) ListProject(ctx context.Context, user, project uuid.UUID, q *query.Query) (json.RawMessage, error) {
	org, err := s.project(ctx, user, project)
	if err != nil {
		return nil, err
	}
	return s.ListIn(ctx, org, q, func(ctx context.Context) (*query.Page, error) {
		return s.store.ListProject(ctx, project, q)
	}, "project", project.String())
}

// create creates tasks in projects the caller can see (Create, CreateMany): 422 for invalid
// input or an assignee who is not a member, 404 for a project the caller can't see.
func (s *Service) create(ctx context.Context, user uuid.UUID, in []Input, prefix func(int) string) ([]Task, error) {
	var v api.Validator
	for i := range in {
		in[i].project = resource.ID(&v, prefix(i)+"projectId", in[i].ProjectID)
		in[i].Fields.check(&v, prefix(i))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	orgs := make(map[uuid.UUID]uuid.UUID, 1) // project -> organization
	for i, it := range in {
		if _, ok := orgs[it.project]; ok {
			continue
		}
		org, err := s.project(ctx, user, it.project)
		if err != nil {
			return nil, fieldError(err, prefix(i)+"projectId")
		}
		orgs[it.project] = org
	}
	for i, it := range in {
		if err := s.checkAssignee(ctx, &v, prefix(i), it.assignee, orgs[it.project]); err != nil {
			return nil, err
		}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	ts := make([]Task, len(in))
	for i, it := range in {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		ts[i] = Task{ID: id, ProjectID: it.project, Title: it.Title, Description: it.Description,
			Status: it.Status, Priority: it.Priority, AssigneeID: it.assignee, DueDate: it.DueDate}
	}
	if err := s.store.Insert(ctx, user, ts); err != nil {
		return nil, err
	}
	s.Created(ctx, ts)
	return ts, nil
}

// fieldError names the field of a not-found reference in the body.
func fieldError(err error, field string) error {
	var e *fault.Error
	if !errors.As(err, &e) || e.Code != fault.NotFound {
		return err
	}
	return &fault.Error{Code: e.Code, Message: e.Message, Fields: []fault.FieldError{{Field: field, Message: "not found"}}}
}

// checkAssignee records a 422 on v unless assignee (if any) is a member of org. Its error is
// the membership check's own failure (a dependency down), never a validation.
func (s *Service) checkAssignee(ctx context.Context, v *api.Validator, prefix string, assignee *uuid.UUID, org uuid.UUID) error {
	if assignee == nil {
		return nil
	}
	_, err := s.members.Role(ctx, *assignee, org)
	if errors.Is(err, fault.ErrNotFound) {
		v.Add(prefix+"assigneeId", "must be a member of the task's organization")
		return nil
	}
	return err
}

// Update applies a PATCH (or a PUT's replacement, see Fields.Patch).
func (s *Service) Update(ctx context.Context, user, id uuid.UUID, cond resource.Condition, in Patch) (Task, error) {
	if err := in.check(); err != nil {
		return Task{}, err
	}
	return s.Write(ctx, user, id, auth.RoleMember, func(cur Task) (Task, error) {
		if err := s.checkMove(ctx, user, cur, in.project); err != nil {
			return Task{}, err
		}
		var v api.Validator
		if err := s.checkAssignee(ctx, &v, "", in.assignee, cur.OrganizationID); err != nil {
			return Task{}, err
		}
		if err := v.Err(); err != nil {
			return Task{}, err
		}
		return s.store.Update(ctx, user, id, cond, in)
	})
}

// checkMove checks a move of cur to project (nil: no move): a project user can see (404), of
// cur's organization (422).
func (s *Service) checkMove(ctx context.Context, user uuid.UUID, cur Task, project *uuid.UUID) error {
	if project == nil || *project == cur.ProjectID {
		return nil
	}
	org, err := s.project(ctx, user, *project)
	if err != nil {
		return fieldError(err, "projectId")
	}
	if org != cur.OrganizationID {
		return fault.Invalidf("projectId", "must be a project of the task's organization")
	}
	return nil
}

// Delete soft-deletes a task.
func (s *Service) Delete(ctx context.Context, user, id uuid.UUID, cond resource.Condition) error {
	cur, _, err := s.Access(ctx, user, id, auth.RoleMember)
	if err != nil {
		return err
	}
	org, err := s.store.Delete(ctx, user, id, cond)
	if err != nil {
		return err
	}
	s.ChangedViews(ctx, org, s.ViewsOf(cur), s.Key(id))
	return nil
}

// Recover undeletes a task whose project is live.
func (s *Service) Recover(ctx context.Context, user, id uuid.UUID) (Task, error) {
	org, err := s.store.Owner(ctx, id)
	if err != nil {
		return Task{}, err
	}
	if _, err := s.Authorize(ctx, user, org, auth.RoleMember); err != nil {
		return Task{}, s.Hide(err)
	}
	t, err := s.store.Recover(ctx, user, id)
	if err != nil {
		return Task{}, err
	}
	s.ChangedViews(ctx, org, s.ViewsOf(t), s.Key(id))
	return t, nil
}
