package domain

import (
	"scaleapi/shared/api"
	"scaleapi/shared/resource"
)

// task: a task's title is one line, trimmed, never blank. That its assignee is a member of its
// organization, and its project one of that organization's, the engine checks for every
// reference to the user entity and to a scoped entity.
func task() resource.Hooks {
	return resource.Hooks{Check: func(w *resource.Write, v *api.Validator) {
		resource.TrimRequired(w, v, "title")
	}}
}
