package domain

import (
	"scaleapi/shared/api"
	"scaleapi/shared/resource"
)

// project: a project's name is one line, trimmed, never blank (API.md: 1–200 characters; the
// schema bounds the length).
func project() resource.Hooks {
	return resource.Hooks{Check: func(w *resource.Write, v *api.Validator) {
		resource.TrimRequired(w, v, "name")
	}}
}
