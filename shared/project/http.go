package project

import (
	"scaleapi/shared/api"
	"scaleapi/shared/resource"
	"scaleapi/shared/schema"
)

// Routes registers the projects function's routes on rt: GET and POST /projects, POST
// /projects/bulk, GET, PATCH, PUT and DELETE /projects/{id} and PATCH /projects/{id}/recover.
func Routes(rt *api.Router, svc *Service, g resource.Guards) {
	resource.Mount[Project, Input, Input](rt, "/projects", schema.Projects, svc, g)
}
