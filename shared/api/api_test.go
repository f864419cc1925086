package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"scaleapi/shared/fault"
	"scaleapi/shared/metrics"
)

type input struct {
	Name  string  `json:"name"`
	Count int     `json:"count"`
	Note  *string `json:"note"`
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name, body, ctype string
		status            int
		detail            string
	}{
		{"OK", `{"name":"a","count":2}`, "application/json", 0, ""},
		{"OKCharset", `{"name":"a"}`, "application/json; charset=utf-8", 0, ""},
		{"OKNoContentType", `{"name":"a"}`, "", 0, ""},
		{"MalformedJSON", `{"name":`, "application/json", 400, "malformed JSON"},
		{"SyntaxError", `{"name" "a"}`, "application/json", 400, "malformed JSON at byte"},
		{"UnknownField", `{"name":"a","admin":true}`, "application/json", 400, `unknown field "admin"`},
		{"WrongType", `{"count":"many"}`, "application/json", 400, "wrong type for field count"},
		{"NotAnObject", `[1,2]`, "application/json", 400, "must be a JSON an object"},
		{"TrailingData", `{"name":"a"} {"name":"b"}`, "application/json", 400, "data after the JSON value"},
		{"Empty", ``, "application/json", 400, "empty"},
		{"NotJSON", `name=a`, "application/x-www-form-urlencoded", 415, "application/json"},
		{"BadContentType", `{}`, "text/plain; x", 415, "application/json"},
		{"TooLarge", `{"name":"` + strings.Repeat("a", MaxBody) + `"}`, "application/json", 413, "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/x", strings.NewReader(tc.body))
			if tc.ctype != "" {
				r.Header.Set("Content-Type", tc.ctype)
			}
			w := httptest.NewRecorder()
			var v input
			err := Decode(w, r, &v)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if got := StatusOf(err); got != tc.status {
				t.Fatalf("status %d, want %d (%v)", got, tc.status, err)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Fatalf("error %q does not mention %q", err, tc.detail)
			}
		})
	}
	t.Run("TooLargeWithoutContentLength", func(t *testing.T) {
		body := io.MultiReader(strings.NewReader(`{"name":"`), strings.NewReader(strings.Repeat("a", 2*MaxBody)))
		r := httptest.NewRequest("POST", "/x", body)
		r.ContentLength = -1
		var v input
		if got := StatusOf(Decode(httptest.NewRecorder(), r, &v)); got != 413 {
			t.Fatalf("status %d, want 413", got)
		}
	})
}

func TestWriteError(t *testing.T) {
	cases := []struct {
		err        error
		status     int
		detail     string
		retryAfter string
	}{
		{fault.E(fault.NotFound, "project not found"), 404, "project not found", ""},
		{fault.Invalidf("name", "must be 1 to 200 characters"), 422, "validation failed", ""},
		{&fault.Error{Code: fault.RateLimited, Message: "slow down", RetryAfter: 1500 * time.Millisecond}, 429, "slow down", "2"},
		{fault.Wrap(fault.Unavailable, errors.New("dial tcp 10.0.0.1:5432: refused"), "database down"), 503, "a dependency is unavailable; retry shortly", "1"},
		{errors.New("pq: secret table users_secret is broken"), 500, "internal error", ""},
	}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			w := httptest.NewRecorder()
			WriteError(w, httptest.NewRequest("GET", "/", nil), tc.err)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("content type %q", ct)
			}
			var p Problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Status != tc.status || p.Detail != tc.detail || p.Title == "" || p.Type == "" {
				t.Fatalf("problem %+v", p)
			}
			if got := w.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Fatalf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if tc.status >= 500 && (strings.Contains(w.Body.String(), "10.0.0.1") || strings.Contains(w.Body.String(), "secret")) {
				t.Fatalf("5xx leaks its cause: %s", w.Body)
			}
			if tc.status == 422 && (len(p.Errors) != 1 || p.Errors[0].Field != "name") {
				t.Fatalf("field errors %+v", p.Errors)
			}
		})
	}
}

func TestRouterAndObserver(t *testing.T) {
	rt := NewRouter()
	rt.HandleFunc("GET /things/{id}", func(w http.ResponseWriter, r *http.Request) {
		WriteJSON(w, 200, map[string]string{"id": r.PathValue("id")})
	})
	rt.HandleFunc("POST /boom", func(w http.ResponseWriter, r *http.Request) { panic("kaboom") })
	rt.HandleFunc("GET /fail", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, r, fault.Wrap(fault.Internal, errors.New("disk on fire"), "internal error"))
	})
	var out bytes.Buffer
	o := NewObserver(metrics.NewEmitter(&out, "Test", "things"), slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	h := o.Wrap(rt)

	do := func(method, path string) (*httptest.ResponseRecorder, map[string]any) {
		out.Reset()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, path, nil))
		var line map[string]any
		if err := json.Unmarshal(out.Bytes(), &line); err != nil {
			t.Fatalf("log line %q: %v", out.String(), err)
		}
		return w, line
	}

	w, line := do("GET", "/things/42")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"42"`) {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	if line["route"] != "GET /things/{id}" || line["status"] != 200.0 || line["cold_start"] != true || line["_aws"] == nil {
		t.Fatalf("line %v", line)
	}
	if w.Header().Get("X-Request-Id") == "" || line["requestId"] != w.Header().Get("X-Request-Id") {
		t.Fatalf("request id missing or different: %v / %q", line["requestId"], w.Header().Get("X-Request-Id"))
	}

	t.Run("SecondRequestIsWarm", func(t *testing.T) {
		_, line := do("GET", "/things/1")
		if line["cold_start"] != false {
			t.Fatalf("line %v", line)
		}
	})
	t.Run("NotFoundIsAProblem", func(t *testing.T) {
		w, line := do("GET", "/nope")
		if w.Code != 404 || w.Header().Get("Content-Type") != "application/problem+json" || line["route"] != "unmatched" {
			t.Fatalf("%d %q %v", w.Code, w.Header().Get("Content-Type"), line)
		}
	})
	t.Run("MethodNotAllowedIsAProblem", func(t *testing.T) {
		w, _ := do("DELETE", "/things/1")
		if w.Code != 405 || w.Header().Get("Allow") == "" || w.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%d %v", w.Code, w.Header())
		}
	})
	t.Run("PanicIs500WithCauseOnlyInLog", func(t *testing.T) {
		w, line := do("POST", "/boom")
		if w.Code != 500 || strings.Contains(w.Body.String(), "kaboom") {
			t.Fatalf("%d %s", w.Code, w.Body)
		}
		if !strings.Contains(line["error"].(string), "kaboom") || line["Errors"] != 1.0 {
			t.Fatalf("line %v", line)
		}
	})
	t.Run("InternalErrorCauseLogged", func(t *testing.T) {
		w, line := do("GET", "/fail")
		if w.Code != 500 || strings.Contains(w.Body.String(), "disk") || !strings.Contains(line["error"].(string), "disk on fire") {
			t.Fatalf("%d %s %v", w.Code, w.Body, line)
		}
	})
	t.Run("RoutesListed", func(t *testing.T) {
		got := rt.Routes()
		if len(got) != 3 || got[0] != (Route{"POST", "/boom"}) {
			t.Fatalf("%v", got)
		}
	})
}

func TestValidator(t *testing.T) {
	var v Validator
	if v.Err() != nil {
		t.Fatal("empty validator must pass")
	}
	v.Check(false, "name", "required")
	v.Check(true, "status", "bad")
	v.Add("dueDate", "must be a date")
	e := fault.As(v.Err())
	if e.Code != fault.Invalid || len(e.Fields) != 2 {
		t.Fatalf("%+v", e)
	}
}
