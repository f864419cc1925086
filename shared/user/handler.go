package user

import (
	"net/http"

	"scaleapi/shared/api"
	"scaleapi/shared/auth"
	"scaleapi/shared/guard"
)

// Routes registers the auth function's routes on rt behind g: register, login and refresh are
// public (the per-IP limit), logout and me authenticated (the per-user limit). Idempotency
// covers every POST; these answers carry credentials, so main gives the auth function's records
// a short retention (see functions/auth).
func Routes(rt *api.Router, svc *Service, g guard.Guards) {
	h := handlers{svc: svc}
	rt.Handle("POST /auth/register", g.Public(http.HandlerFunc(h.register)))
	rt.Handle("POST /auth/login", g.Public(http.HandlerFunc(h.login)))
	rt.Handle("POST /auth/refresh", g.Public(http.HandlerFunc(h.refresh)))
	rt.Handle("POST /auth/logout", g.Wrap(http.HandlerFunc(h.logout), true))
	rt.Handle("GET /auth/me", g.Wrap(http.HandlerFunc(h.me), false))
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
