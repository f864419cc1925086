package organization

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/cache"
	"scaleapi/shared/fault"
	"scaleapi/shared/guard"
	"scaleapi/shared/query"
)

// Routes registers the organizations function's routes on rt, every one authenticated and
// rate-limited by g, the POSTs also behind Idempotency.
func Routes(rt *api.Router, svc *Service, g guard.Guards) {
	h := handlers{svc: svc}
	read := func(f http.HandlerFunc) http.Handler { return g.Wrap(f, false) }
	post := func(f http.HandlerFunc) http.Handler { return g.Wrap(f, true) }

	rt.Handle("POST /organizations", post(h.create))
	rt.Handle("GET /organizations", read(h.list))
	get := http.Handler(http.HandlerFunc(h.get))
	if svc != nil {
		get = guard.Prefetching(svc.cache, svc.getReads, get)
	}
	rt.Handle("GET /organizations/{id}", g.Wrap(get, false))
	rt.Handle("PATCH /organizations/{id}", read(h.update))
	rt.Handle("DELETE /organizations/{id}", read(h.remove))
	rt.Handle("GET /organizations/{id}/members", read(h.members))
	rt.Handle("POST /organizations/{id}/members", post(h.addMember))
	rt.Handle("DELETE /organizations/{id}/members/{userId}", read(h.removeMember))
}

type handlers struct{ svc *Service }

// getReads is what Get reads first, the caller's memberships and the organization, which ride
// the session check (guard.Prefetching). r carries the principal and the path's id.
func (s *Service) getReads(r *http.Request) ([]string, []string, any, bool) {
	p, ok := auth.PrincipalFrom(r.Context())
	id, err := uuid.Parse(r.PathValue("id"))
	if !ok || err != nil {
		return nil, nil, nil, false // the handler answers it
	}
	return []string{s.access.MembershipsKey(p.UserID), cache.OrganizationKey(id)}, nil, nil, true
}

func (h handlers) create(w http.ResponseWriter, r *http.Request) {
	var in Creation
	if err := api.Decode(w, r, &in); err != nil {
		api.WriteError(w, r, err)
		return
	}
	o, err := h.svc.Create(r.Context(), caller(r), in)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	w.Header().Set("Location", "/organizations/"+o.ID.String())
	w.Header().Set("ETag", etag(o.Version))
	api.WriteJSON(w, http.StatusCreated, o)
}

func (h handlers) list(w http.ResponseWriter, r *http.Request) {
	q, err := query.ParseRequest(r, Schema)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	page, err := h.svc.List(r.Context(), caller(r), q)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	b, err := page.MarshalJSON()
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	status, body, err := q.Respond(w.Header(), b) // the dialect's shape
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	api.WriteRaw(w, status, body)
}

func (h handlers) get(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", errNotFound)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	o, err := h.svc.Get(r.Context(), caller(r), id)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	tag := etag(o.Version)
	w.Header().Set("ETag", tag)
	if noneMatch(r.Header.Get("If-None-Match"), tag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	api.WriteJSON(w, http.StatusOK, o)
}

func (h handlers) update(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", errNotFound)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	var in patchRequest
	if err := api.Decode(w, r, &in); err != nil {
		api.WriteError(w, r, err)
		return
	}
	p, err := in.patch()
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	o, err := h.svc.Update(r.Context(), caller(r), id, p, ifMatch(r.Header.Values("If-Match")))
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	w.Header().Set("ETag", etag(o.Version))
	api.WriteJSON(w, http.StatusOK, o)
}

func (h handlers) remove(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", errNotFound)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	if err := h.svc.Delete(r.Context(), caller(r), id); err != nil {
		api.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h handlers) members(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", errNotFound)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	ms, err := h.svc.Members(r.Context(), caller(r), id)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusOK, ms)
}

func (h handlers) addMember(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", errNotFound)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	var in NewMember
	if err := api.Decode(w, r, &in); err != nil {
		api.WriteError(w, r, err)
		return
	}
	m, err := h.svc.AddMember(r.Context(), caller(r), id, in)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	api.WriteJSON(w, http.StatusCreated, m)
}

func (h handlers) removeMember(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "id", errNotFound)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	userID, err := pathID(r, "userId", errMemberNotFound)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	if err := h.svc.RemoveMember(r.Context(), caller(r), id, userID); err != nil {
		api.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// caller is the authenticated user; Require has put the Principal in the context before any of
// these handlers runs.
func caller(r *http.Request) uuid.UUID {
	p, _ := auth.PrincipalFrom(r.Context())
	return p.UserID
}

var errMemberNotFound = fault.E(fault.NotFound, "member not found")

// pathID parses the path parameter name as a UUID in its canonical 36-character form. Anything
// else names nothing that can exist, so it is the same 404 as an id that doesn't exist (a 400
// would only tell a client which ids are well-formed).
func pathID(r *http.Request, name string, notFound error) (uuid.UUID, error) {
	s := r.PathValue(name)
	if len(s) != 36 {
		return uuid.Nil, notFound
	}
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, notFound
	}
	return id, nil
}

// etag renders a version as a strong entity tag.
func etag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// ifMatch reads the If-Match header into the versions it accepts: nil for no header or "*"
// (any current version). If-Match compares strongly (RFC 9110 §13.1.1), so weak tags and
// anything that isn't one of our tags are dropped; a header left with none yields an empty,
// non-nil list that no version matches, and the service answers 412 once it has established
// that the caller may see the organization at all (a stranger still gets 404).
func ifMatch(values []string) Versions {
	if len(values) == 0 {
		return nil
	}
	out := Versions{}
	for _, v := range values {
		for _, tag := range strings.Split(v, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" {
				return nil
			}
			if len(tag) >= 3 && tag[0] == '"' && tag[len(tag)-1] == '"' {
				if n, err := strconv.ParseInt(tag[1:len(tag)-1], 10, 32); err == nil && n >= 1 {
					out = append(out, int32(n))
				}
			}
		}
	}
	return out
}

// noneMatch reports whether If-None-Match (header) matches tag, by weak comparison (RFC 9110
// §13.1.2): then a GET answers 304.
func noneMatch(header, tag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == tag {
			return true
		}
	}
	return false
}
