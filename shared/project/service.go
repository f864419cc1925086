package project

import (
	"context"
	"errors"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/fault"
	"scaleapi/shared/resource"
	"scaleapi/shared/task"
)

// Service is the projects' business: rules, tenancy, caching. Its reads (Document, View, List) are
// resource.Core's; this file adds the writes.
type Service struct {
	resource.Core[Project]
	resource.Creator[Project, Input]
	store Store
}

var _ resource.Service[Project, Input, Patch] = (*Service)(nil)

// NewService returns a Service over store, checking memberships with members.
func NewService(store Store, members resource.Members, o resource.Options) *Service {
	s := &Service{Core: resource.NewCore[Project]("project", store, members, o), store: store}
	s.Creator = resource.NewCreator(s.create)
	// A project's view changes only with the project and its tasks (which the tasks service
	// retires too): other writes in the organization leave it cached. join=organization keeps
	// the organization's scope.
	s.KeyViewsByEntity("tasks")
	s.RetireViews(func(p Project) []string { return []string{ViewScope(p.ID)} })
	return s
}

// ViewScope is the cache scope of project id's views (GET /projects/{id}?join=tasks): the
// project's writes and its tasks' bump it.
func ViewScope(id uuid.UUID) string { return resource.ViewScope("project", id) }

// Organization returns the organization of live project id, from the cache when it can, with no
// tenant check: the tasks service asks it before checking the caller's membership itself. It
// returns a fault.NotFound error for a missing or deleted project.
func (s *Service) Organization(ctx context.Context, id uuid.UUID) (uuid.UUID, error) {
	p, err := s.Find(ctx, id)
	if err != nil {
		return uuid.Nil, s.Hide(err)
	}
	return p.OrganizationID, nil
}

// create creates projects in the caller's organizations (Create, CreateMany): 422 for invalid
// input, 404 when the caller is not a member of an organization.
func (s *Service) create(ctx context.Context, user uuid.UUID, in []Input, prefix func(int) string) ([]Project, error) {
	var v api.Validator
	for i := range in {
		in[i].org = resource.ID(&v, prefix(i)+"organizationId", in[i].OrganizationID)
		in[i].Fields.check(&v, prefix(i))
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	ps := make([]Project, len(in))
	checked := make(map[uuid.UUID]bool, 1)
	for i, it := range in {
		if !checked[it.org] {
			if _, err := s.Authorize(ctx, user, it.org, auth.RoleMember); err != nil {
				return nil, organizationError(err, prefix(i))
			}
			checked[it.org] = true
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, err
		}
		ps[i] = Project{ID: id, OrganizationID: it.org, Name: it.Name, Description: it.Description, Status: it.Status}
	}
	if err := s.store.Insert(ctx, user, ps); err != nil {
		return nil, err
	}
	s.Created(ctx, ps)
	return ps, nil
}

// organizationError names the field of an organization the caller can't create in.
func organizationError(err error, prefix string) error {
	if !errors.Is(err, fault.ErrNotFound) {
		return err
	}
	return &fault.Error{Code: fault.NotFound, Message: "organization not found",
		Fields: []fault.FieldError{{Field: prefix + "organizationId", Message: "no such organization of yours"}}}
}

// Update applies a PATCH (or a PUT's replacement, see Fields.Patch).
func (s *Service) Update(ctx context.Context, user, id uuid.UUID, cond resource.Condition, in Patch) (Project, error) {
	if err := in.check(); err != nil {
		return Project{}, err
	}
	return s.Write(ctx, user, id, auth.RoleMember, func(cur Project) (Project, error) {
		if in.org != nil && *in.org != cur.OrganizationID {
			return Project{}, fault.Invalidf("organizationId", "a project can't move to another organization")
		}
		return s.store.Update(ctx, user, id, cond, in)
	})
}

// Delete soft-deletes a project and its tasks; it needs an admin or owner.
func (s *Service) Delete(ctx context.Context, user, id uuid.UUID, cond resource.Condition) error {
	if _, _, err := s.Access(ctx, user, id, auth.RoleAdmin); err != nil {
		return err
	}
	org, tasks, err := s.store.Delete(ctx, user, id, cond)
	if err != nil {
		return err
	}
	s.ChangedViews(ctx, org, []string{ViewScope(id)}, s.keys(id, tasks)...)
	return nil
}

// Recover undeletes a project and the tasks deleted with it; it needs an admin or owner.
func (s *Service) Recover(ctx context.Context, user, id uuid.UUID) (Project, error) {
	org, err := s.store.Owner(ctx, id)
	if err != nil {
		return Project{}, err
	}
	if _, err := s.Authorize(ctx, user, org, auth.RoleAdmin); err != nil {
		return Project{}, s.Hide(err)
	}
	p, tasks, err := s.store.Recover(ctx, user, id)
	if err != nil {
		return Project{}, err
	}
	s.ChangedViews(ctx, org, []string{ViewScope(id)}, s.keys(id, tasks)...)
	return p, nil
}

// keys are the cache keys of project id and of tasks: a project's delete or recover changes
// whether each of its tasks exists.
func (s *Service) keys(id uuid.UUID, tasks []uuid.UUID) []string {
	keys := make([]string, 0, len(tasks)+1)
	keys = append(keys, s.Key(id))
	for _, t := range tasks {
		keys = append(keys, task.Key(t))
	}
	return keys
}
