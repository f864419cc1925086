package function_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"scaleapi/functions/internal/function"
	"scaleapi/shared/lambdahttp/lambdatest"
)

// TestAuth builds the auth function as main does, from environment variables, and walks a
// session's whole life through API Gateway events: register, login, me, refresh, reuse of the
// spent refresh token (which revokes the session), logout.
func TestAuth(t *testing.T) {
	_, d, h := build(t, function.Auth)
	h = d.Handler(h)
	call := func(method, path, token, body string) lambdatest.Response {
		hdr := map[string]string{"Content-Type": "application/json"}
		if token != "" {
			hdr["Authorization"] = "Bearer " + token
		}
		return lambdatest.Invoke(t, h, lambdatest.Request{Method: method, Path: path, Resource: path, Headers: hdr, Body: body})
	}
	type pair struct {
		AccessToken  string `json:"accessToken"`
		RefreshToken string `json:"refreshToken"`
		ExpiresIn    int    `json:"expiresIn"`
		User         struct {
			Email string `json:"email"`
		} `json:"user"`
	}
	decode := func(r lambdatest.Response) pair {
		t.Helper()
		var p pair
		if err := json.Unmarshal([]byte(r.Body), &p); err != nil || p.AccessToken == "" || p.RefreshToken == "" {
			t.Fatalf("%d %s (%v)", r.Status, r.Body, err)
		}
		return p
	}

	reg := call("POST", "/auth/register", "", `{"email":"Ada@Example.com","password":"correct horse","name":"Ada"}`)
	if reg.Status != http.StatusCreated {
		t.Fatalf("register: %d %s", reg.Status, reg.Body)
	}
	if p := decode(reg); p.User.Email != "ada@example.com" || p.ExpiresIn != 900 {
		t.Fatalf("register answer %s", reg.Body)
	}
	if r := call("POST", "/auth/register", "", `{"email":"ada@example.com","password":"another one","name":"Ada"}`); r.Status != http.StatusConflict {
		t.Fatalf("duplicate email: %d %s", r.Status, r.Body)
	}
	if r := call("POST", "/auth/login", "", `{"email":"ada@example.com","password":"wrong password"}`); r.Status != http.StatusUnauthorized {
		t.Fatalf("bad password: %d", r.Status)
	}
	login := call("POST", "/auth/login", "", `{"email":"ada@example.com","password":"correct horse"}`)
	if login.Status != http.StatusOK {
		t.Fatalf("login: %d %s", login.Status, login.Body)
	}
	first := decode(login)
	if r := call("GET", "/auth/me", first.AccessToken, ""); r.Status != http.StatusOK || !strings.Contains(r.Body, `"memberships":[]`) {
		t.Fatalf("me: %d %s", r.Status, r.Body)
	}
	refreshed := call("POST", "/auth/refresh", "", `{"refreshToken":"`+first.RefreshToken+`"}`)
	if refreshed.Status != http.StatusOK {
		t.Fatalf("refresh: %d %s", refreshed.Status, refreshed.Body)
	}
	second := decode(refreshed)
	if r := call("GET", "/auth/me", second.AccessToken, ""); r.Status != http.StatusOK {
		t.Fatalf("me with the new token: %d", r.Status)
	}
	// The first refresh token is spent: presenting it again revokes the session, so even the
	// newest tokens stop working.
	if r := call("POST", "/auth/refresh", "", `{"refreshToken":"`+first.RefreshToken+`"}`); r.Status != http.StatusUnauthorized {
		t.Fatalf("reused refresh token: %d %s", r.Status, r.Body)
	}
	if r := call("GET", "/auth/me", second.AccessToken, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("access token of a revoked session: %d", r.Status)
	}
	if r := call("POST", "/auth/refresh", "", `{"refreshToken":"`+second.RefreshToken+`"}`); r.Status != http.StatusUnauthorized {
		t.Fatalf("newest refresh token of a revoked session: %d", r.Status)
	}

	third := decode(call("POST", "/auth/login", "", `{"email":"ada@example.com","password":"correct horse"}`))
	if r := call("POST", "/auth/logout", third.AccessToken, ""); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	if r := call("GET", "/auth/me", third.AccessToken, ""); r.Status != http.StatusUnauthorized {
		t.Fatalf("access token after logout: %d", r.Status)
	}

	for name, tc := range map[string]struct {
		body, ctype string
		status      int
	}{
		"MalformedJSON": {`{"email":`, "application/json", http.StatusBadRequest},
		"UnknownField":  {`{"email":"a@b.co","password":"12345678","name":"A","admin":true}`, "application/json", http.StatusBadRequest},
		"NotJSON":       {`email=a`, "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		"ShortPassword": {`{"email":"b@example.com","password":"short","name":"B"}`, "application/json", http.StatusUnprocessableEntity},
		"TooLarge":      {`{"name":"` + strings.Repeat("x", 1<<20) + `"}`, "application/json", http.StatusRequestEntityTooLarge},
	} {
		t.Run(name, func(t *testing.T) {
			r := lambdatest.Invoke(t, h, lambdatest.Request{Method: "POST", Path: "/auth/register", Resource: "/auth/register",
				Headers: map[string]string{"Content-Type": tc.ctype}, Body: tc.body})
			if r.Status != tc.status || r.Header.Get("Content-Type") != "application/problem+json" {
				t.Fatalf("%d %q %.200s", r.Status, r.Header.Get("Content-Type"), r.Body)
			}
		})
	}
}
