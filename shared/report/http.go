package report

import (
	"net/http"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/fault"
	"scaleapi/shared/guard"
)

// Routes registers the reports function's routes on r, authenticated and rate-limited by g. svc
// may be nil when only the route list is wanted (the route consistency test).
func Routes(r *api.Router, svc *Service, g guard.Guards) {
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		p, ok := auth.PrincipalFrom(req.Context())
		if !ok {
			api.WriteError(w, req, auth.ErrNoToken)
			return
		}
		// uuid.Parse also reads {…}, urn:uuid:… and 32 bare hex digits; only the canonical
		// 36-character form is the id the document declares (format uuid) and the
		// organizations function answers, so that one summary has one URL. A malformed id
		// names nothing that exists: 404, like an id of another tenant.
		s := req.PathValue("id")
		id, err := uuid.Parse(s)
		if err != nil || len(s) != 36 {
			api.WriteError(w, req, fault.E(fault.NotFound, "organization not found"))
			return
		}
		sum, err := svc.Summary(req.Context(), p.UserID, id)
		if err != nil {
			api.WriteError(w, req, err)
			return
		}
		w.Header().Set("Cache-Control", "private, max-age=60")
		api.WriteJSON(w, http.StatusOK, sum)
	})
	if svc != nil {
		h = guard.Prefetching(svc.cache, svc.summaryReads, h)
	}
	r.Handle("GET /reports/organizations/{id}/summary", g.Wrap(h, false))
}
