package user

import (
	"net/http"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Guards are the middleware main wires around the auth routes.
type Guards struct {
	// Authn authenticates /auth/logout and /auth/me. Required.
	Authn *auth.Authenticator
	// Public wraps the public routes (register, login, refresh): the per-IP rate limit. Optional.
	Public Middleware
	// Private wraps the authenticated routes after authentication: the per-user rate limit.
	// Optional.
	Private Middleware
	// Idempotency wraps every POST, innermost, so that a request turned away by the rate limit
	// or authentication never claims a key. Optional. These answers carry credentials, so main
	// gives the auth function's store a short retention (see functions/auth).
	Idempotency Middleware
}

// Routes registers the auth function's routes on rt.
func Routes(rt *api.Router, svc *Service, g Guards) {
	h := handlers{svc: svc}
	idem := chain(g.Idempotency)
	public := func(next http.Handler) http.Handler { return chain(g.Public)(idem(next)) }
	private := func(next http.Handler) http.Handler { return g.Authn.Require(chain(g.Private)(idem(next))) }

	rt.Handle("POST /auth/register", public(http.HandlerFunc(h.register)))
	rt.Handle("POST /auth/login", public(http.HandlerFunc(h.login)))
	rt.Handle("POST /auth/refresh", public(http.HandlerFunc(h.refresh)))
	rt.Handle("POST /auth/logout", private(http.HandlerFunc(h.logout)))
	rt.Handle("GET /auth/me", g.Authn.Require(chain(g.Private)(http.HandlerFunc(h.me))))
}

func chain(m Middleware) Middleware {
	if m == nil {
		return func(next http.Handler) http.Handler { return next }
	}
	return m
}

type handlers struct{ svc *Service }

func (h handlers) register(w http.ResponseWriter, r *http.Request) {
	var in Registration
	if err := api.Decode(w, r, &in); err != nil {
		api.WriteError(w, r, err)
		return
	}
	s, err := h.svc.Register(r.Context(), in)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	writeTokens(w, http.StatusCreated, s)
}

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func (h handlers) login(w http.ResponseWriter, r *http.Request) {
	var in credentials
	if err := api.Decode(w, r, &in); err != nil {
		api.WriteError(w, r, err)
		return
	}
	s, err := h.svc.Login(r.Context(), in.Email, in.Password)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	writeTokens(w, http.StatusOK, s)
}

type refreshRequest struct {
	RefreshToken string `json:"refreshToken"`
}

func (h handlers) refresh(w http.ResponseWriter, r *http.Request) {
	var in refreshRequest
	if err := api.Decode(w, r, &in); err != nil {
		api.WriteError(w, r, err)
		return
	}
	s, err := h.svc.Refresh(r.Context(), in.RefreshToken)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	writeTokens(w, http.StatusOK, s)
}

func (h handlers) logout(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.PrincipalFrom(r.Context())
	if err := h.svc.Logout(r.Context(), p); err != nil {
		api.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h handlers) me(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.PrincipalFrom(r.Context())
	prof, err := h.svc.Me(r.Context(), p)
	if err != nil {
		api.WriteError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	api.WriteJSON(w, http.StatusOK, prof)
}

// writeTokens answers with a token pair; no-store keeps it out of every cache (RFC 6749 §5.1).
func writeTokens(w http.ResponseWriter, status int, s Session) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	api.WriteJSON(w, status, s)
}
