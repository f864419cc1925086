package user

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"scaleapi/shared/auth"
)

type answer struct {
	*httptest.ResponseRecorder
}

func (a answer) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %s: %v", a.Body, err)
	}
}

type problemDoc struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

func (a answer) problem(t *testing.T, status int) problemDoc {
	t.Helper()
	if a.Code != status {
		t.Fatalf("status %d, want %d; body %s", a.Code, status, a.Body)
	}
	if ct := a.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p problemDoc
	a.json(t, &p)
	return p
}

func (e *env) do(method, path, token string, body any) answer {
	var rd *bytes.Reader
	switch b := body.(type) {
	case nil:
		rd = bytes.NewReader(nil)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return answer{rec}
}

type sessionDoc struct {
	User *struct {
		ID        uuid.UUID `json:"id"`
		Email     string    `json:"email"`
		Name      string    `json:"name"`
		CreatedAt time.Time `json:"createdAt"`
	} `json:"user"`
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	ExpiresIn    int    `json:"expiresIn"`
}

func (e *env) register(t *testing.T, email, password string) sessionDoc {
	t.Helper()
	a := e.do("POST", "/auth/register", "", map[string]string{"email": email, "password": password, "name": "Ada Lovelace"})
	if a.Code != http.StatusCreated {
		t.Fatalf("register: %d %s", a.Code, a.Body)
	}
	var s sessionDoc
	a.json(t, &s)
	return s
}

func TestRegister(t *testing.T) {
	e := newEnv(t)

	t.Run("Created", func(t *testing.T) {
		a := e.do("POST", "/auth/register", "", map[string]string{"email": "  Ada@Example.COM ", "password": "correct horse", "name": " Ada Lovelace "})
		if a.Code != http.StatusCreated {
			t.Fatalf("status %d: %s", a.Code, a.Body)
		}
		if a.Header().Get("Cache-Control") != "no-store" {
			t.Error("token answer without Cache-Control: no-store")
		}
		var raw map[string]json.RawMessage
		a.json(t, &raw)
		keys := slices.Sorted(maps.Keys(raw))
		if !slices.Equal(keys, []string{"accessToken", "expiresIn", "refreshToken", "user"}) {
			t.Fatalf("answer keys %v, want {user, accessToken, refreshToken, expiresIn}", keys)
		}
		if strings.Contains(a.Body.String(), "argon2") || strings.Contains(strings.ToLower(a.Body.String()), "password") {
			t.Fatalf("answer leaks the password hash: %s", a.Body)
		}
		var s sessionDoc
		a.json(t, &s)
		if s.User.Email != "ada@example.com" || s.User.Name != "Ada Lovelace" || s.ExpiresIn != 900 {
			t.Fatalf("user %+v, expiresIn %d", s.User, s.ExpiresIn)
		}
		if me := e.do("GET", "/auth/me", s.AccessToken, nil); me.Code != http.StatusOK {
			t.Fatalf("the new access token does not work: %d", me.Code)
		}
	})

	t.Run("ErrConflict", func(t *testing.T) {
		p := e.do("POST", "/auth/register", "", map[string]string{"email": "ADA@example.com", "password": "another one", "name": "Ada"}).problem(t, http.StatusConflict)
		if p.Detail == "" {
			t.Fatal("409 without a detail")
		}
	})

	t.Run("Invalid", func(t *testing.T) {
		p := e.do("POST", "/auth/register", "", map[string]string{"email": "not-an-email", "password": "short", "name": ""}).problem(t, http.StatusUnprocessableEntity)
		var fields []string
		for _, f := range p.Errors {
			fields = append(fields, f.Field)
		}
		slices.Sort(fields)
		if !slices.Equal(fields, []string{"email", "name", "password"}) {
			t.Fatalf("field errors %v, want email, name, password", p.Errors)
		}
	})

	t.Run("PasswordTooLong", func(t *testing.T) {
		p := e.do("POST", "/auth/register", "", map[string]string{"email": "long@example.com", "password": strings.Repeat("p", 1025), "name": "L"}).problem(t, http.StatusUnprocessableEntity)
		if len(p.Errors) != 1 || p.Errors[0].Field != "password" {
			t.Fatalf("errors %v", p.Errors)
		}
	})

	t.Run("TextThatIsNotText400", func(t *testing.T) {
		// encoding/json alone would store U+FFFD in place of each: a password that is not the
		// one the client sent.
		for _, body := range []string{
			`{"email":"surrogate@example.com","password":"secret-\ud800-pass","name":"S"}`,
			"{\"email\":\"bytes@example.com\",\"password\":\"secret-\xff-pass\",\"name\":\"B\"}",
		} {
			p := e.do("POST", "/auth/register", "", body).problem(t, http.StatusBadRequest)
			if len(p.Errors) != 1 || p.Errors[0].Field != "password" {
				t.Fatalf("errors %v, want password named", p.Errors)
			}
		}
		for _, email := range []string{"surrogate@example.com", "bytes@example.com"} {
			e.do("POST", "/auth/login", "", map[string]string{"email": email, "password": "secret-\ufffd-pass"}).problem(t, http.StatusUnauthorized)
		}
	})

	t.Run("UnknownField400", func(t *testing.T) {
		e.do("POST", "/auth/register", "", `{"email":"x@example.com","password":"12345678","name":"x","admin":true}`).problem(t, http.StatusBadRequest)
	})

	t.Run("NotJSON415", func(t *testing.T) {
		req := httptest.NewRequest("POST", "/auth/register", strings.NewReader("email=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		answer{rec}.problem(t, http.StatusUnsupportedMediaType)
	})
}

func TestRegisterIdempotent(t *testing.T) {
	e := newEnv(t)
	body := `{"email":"retry@example.com","password":"lost-answer","name":"Retry"}`
	send := func() answer {
		req := httptest.NewRequest("POST", "/auth/register", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "register-1")
		req.RemoteAddr = "192.0.2.7:5555"
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		return answer{rec}
	}
	first, second := send(), send()
	if first.Code != http.StatusCreated || second.Code != http.StatusCreated {
		t.Fatalf("statuses %d, %d; want the retry to get the first 201, not a 409", first.Code, second.Code)
	}
	if second.Header().Get("Idempotent-Replayed") != "true" || second.Body.String() != first.Body.String() {
		t.Fatal("the retry was not a replay of the first answer")
	}
}

func TestValidEmail(t *testing.T) {
	for email, want := range map[string]bool{
		"ada@example.com":                  true,
		"a.b+tag@sub.example.io":           true,
		"ada@localhost":                    false,
		"ada":                              false,
		"@example.com":                     false,
		"ada@":                             false,
		"Ada <ada@example.com>":            false,
		"ada@example.com.":                 false,
		"ada @example.com":                 false,
		strings.Repeat("a", 250) + "@x.io": false,
	} {
		if got := validEmail(NormalizeEmail(email)); got != want {
			t.Errorf("validEmail(%q) = %v, want %v", email, got, want)
		}
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	reg := e.register(t, "grace@example.com", "hopper-1906")

	t.Run("OK", func(t *testing.T) {
		a := e.do("POST", "/auth/login", "", map[string]string{"email": "Grace@Example.com", "password": "hopper-1906"})
		if a.Code != http.StatusOK {
			t.Fatalf("status %d: %s", a.Code, a.Body)
		}
		var s sessionDoc
		a.json(t, &s)
		if s.User == nil || s.User.ID != reg.User.ID || s.AccessToken == "" || s.RefreshToken == "" || s.ExpiresIn != 900 {
			t.Fatalf("login answer %+v", s)
		}
	})

	t.Run("UnknownEmailLikeWrongPassword", func(t *testing.T) {
		wrong := e.do("POST", "/auth/login", "", map[string]string{"email": "grace@example.com", "password": "wrong-password"})
		unknown := e.do("POST", "/auth/login", "", map[string]string{"email": "nobody@example.com", "password": "wrong-password"})
		wrong.problem(t, http.StatusUnauthorized)
		unknown.problem(t, http.StatusUnauthorized)
		if wrong.Body.String() != unknown.Body.String() {
			t.Fatalf("answers differ: %s vs %s", wrong.Body, unknown.Body)
		}
	})

	t.Run("UnknownEmailTakesArgon2Time", func(t *testing.T) {
		// Not a performance assertion: it catches a login that skips the dummy hash for an
		// unknown email, which answers ~20x faster than one that checks a real hash.
		// Each the best of five, taken alternately, so that a burst of load from the tests
		// running beside this one slows both alike.
		time1 := func(email string) time.Duration {
			start := time.Now()
			e.do("POST", "/auth/login", "", map[string]string{"email": email, "password": "wrong-password"})
			return time.Since(start)
		}
		known, unknown := time.Hour, time.Hour
		for range 5 {
			known = min(known, time1("grace@example.com"))
			unknown = min(unknown, time1("nobody@example.com"))
		}
		if unknown < known/2 {
			t.Fatalf("unknown email answered in %v, wrong password in %v: timing reveals which emails exist", unknown, known)
		}
	})

	t.Run("MissingFields422", func(t *testing.T) {
		p := e.do("POST", "/auth/login", "", map[string]string{"email": ""}).problem(t, http.StatusUnprocessableEntity)
		if len(p.Errors) != 2 {
			t.Fatalf("errors %v, want email and password", p.Errors)
		}
	})

	t.Run("RehashOnLogin", func(t *testing.T) {
		// A hash made with older, weaker parameters is replaced at the next successful login.
		weak := auth.DefaultParams
		weak.Time = 1
		old, err := auth.NewPasswords(weak)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := old.Hash("hopper-1906")
		if err := e.store.SetPasswordHash(context.Background(), reg.User.ID, h); err != nil {
			t.Fatal(err)
		}
		if a := e.do("POST", "/auth/login", "", map[string]string{"email": "grace@example.com", "password": "hopper-1906"}); a.Code != http.StatusOK {
			t.Fatalf("login with an old-parameter hash: %d", a.Code)
		}
		u, _ := e.store.ByID(context.Background(), reg.User.ID)
		if !strings.HasPrefix(u.PasswordHash, "$argon2id$v=19$m=19456,t=2,p=1$") {
			t.Fatalf("hash not upgraded: %s", u.PasswordHash)
		}
	})
}

func TestRefreshAndLogout(t *testing.T) {
	e := newEnv(t)
	s0 := e.register(t, "linus@example.com", "penguins!")

	refresh := func(token string) answer {
		return e.do("POST", "/auth/refresh", "", map[string]string{"refreshToken": token})
	}

	t.Run("Rotation", func(t *testing.T) {
		a := refresh(s0.RefreshToken)
		if a.Code != http.StatusOK {
			t.Fatalf("refresh: %d %s", a.Code, a.Body)
		}
		var s1 sessionDoc
		a.json(t, &s1)
		if s1.User == nil || s1.User.ID != s0.User.ID || s1.RefreshToken == s0.RefreshToken || s1.AccessToken == "" || s1.ExpiresIn != 900 {
			t.Fatalf("refresh answer %+v", s1)
		}
		if me := e.do("GET", "/auth/me", s1.AccessToken, nil); me.Code != http.StatusOK {
			t.Fatalf("new access token: %d", me.Code)
		}

		// Replaying the dead token revokes the session: then even the newest refresh token
		// and the newest access token fail.
		p := refresh(s0.RefreshToken).problem(t, http.StatusUnauthorized)
		if !strings.Contains(p.Detail, "revoked") {
			t.Fatalf("reuse detail %q", p.Detail)
		}
		refresh(s1.RefreshToken).problem(t, http.StatusUnauthorized)
		e.do("GET", "/auth/me", s1.AccessToken, nil).problem(t, http.StatusUnauthorized)
		e.do("GET", "/auth/me", s0.AccessToken, nil).problem(t, http.StatusUnauthorized)
	})

	t.Run("UserDeleted401", func(t *testing.T) {
		s := e.register(t, "gone@example.com", "soon-deleted")
		if _, err := e.pool.Exec(context.Background(), `DELETE FROM users WHERE id = $1`, s.User.ID); err != nil {
			t.Fatal(err)
		}
		refresh(s.RefreshToken).problem(t, http.StatusUnauthorized)
	})

	t.Run("Garbage401", func(t *testing.T) {
		refresh("not a token").problem(t, http.StatusUnauthorized)
	})

	t.Run("Missing422", func(t *testing.T) {
		e.do("POST", "/auth/refresh", "", `{}`).problem(t, http.StatusUnprocessableEntity)
	})

	t.Run("Logout", func(t *testing.T) {
		a := e.do("POST", "/auth/login", "", map[string]string{"email": "linus@example.com", "password": "penguins!"})
		var s sessionDoc
		a.json(t, &s)
		// A second execution environment: its own Redis client, Authenticator and router.
		other := newEnvOn(t, e.pool)
		if me := other.do("GET", "/auth/me", s.AccessToken, nil); me.Code != http.StatusOK {
			t.Fatalf("other environment before logout: %d", me.Code)
		}
		if lo := e.do("POST", "/auth/logout", s.AccessToken, nil); lo.Code != http.StatusNoContent || lo.Body.Len() != 0 {
			t.Fatalf("logout: %d %q", lo.Code, lo.Body)
		}
		e.do("GET", "/auth/me", s.AccessToken, nil).problem(t, http.StatusUnauthorized)
		other.do("GET", "/auth/me", s.AccessToken, nil).problem(t, http.StatusUnauthorized)
		refresh(s.RefreshToken).problem(t, http.StatusUnauthorized)
		e.do("POST", "/auth/logout", s.AccessToken, nil).problem(t, http.StatusUnauthorized)
	})

	t.Run("LogoutNeedsToken", func(t *testing.T) {
		a := e.do("POST", "/auth/logout", "", nil)
		a.problem(t, http.StatusUnauthorized)
		if !strings.HasPrefix(a.Header().Get("WWW-Authenticate"), "Bearer") {
			t.Fatalf("WWW-Authenticate %q", a.Header().Get("WWW-Authenticate"))
		}
	})
}

func TestMe(t *testing.T) {
	e := newEnv(t)
	s := e.register(t, "barbara@example.com", "liskov-substitution")
	org := insertOrg(t, e, s.User.ID, auth.RoleAdmin)

	a := e.do("GET", "/auth/me", s.AccessToken, nil)
	if a.Code != http.StatusOK {
		t.Fatalf("me: %d %s", a.Code, a.Body)
	}
	var got struct {
		User struct {
			ID    uuid.UUID `json:"id"`
			Email string    `json:"email"`
		} `json:"user"`
		Memberships []struct {
			OrganizationID uuid.UUID `json:"organizationId"`
			Role           string    `json:"role"`
		} `json:"memberships"`
	}
	a.json(t, &got)
	if got.User.ID != s.User.ID || got.User.Email != "barbara@example.com" {
		t.Fatalf("user %+v", got.User)
	}
	if len(got.Memberships) != 1 || got.Memberships[0].OrganizationID != org || got.Memberships[0].Role != "admin" {
		t.Fatalf("memberships %+v", got.Memberships)
	}

	t.Run("UserDeleted401", func(t *testing.T) {
		if _, err := e.pool.Exec(context.Background(), `DELETE FROM users WHERE id = $1`, s.User.ID); err != nil {
			t.Fatal(err)
		}
		e.do("GET", "/auth/me", s.AccessToken, nil).problem(t, http.StatusUnauthorized)
	})
}
