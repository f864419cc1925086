// Package domain holds the rules of the root .apsorc's entities that a schema cannot say, as
// resource engine hooks, one file per entity. Everything else about projects and tasks (their
// fields, routes, validation, tenancy, caching, cascade) comes from the schema.
package domain

import "scaleapi/shared/resource"

// Hooks returns the hooks of the root schema's entities, by entity name.
func Hooks() map[string]resource.Hooks {
	return map[string]resource.Hooks{"Project": project(), "Task": task()}
}
