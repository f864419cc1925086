package resource

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/fault"
)

func TestOptional(t *testing.T) {
	var p struct {
		A Optional[string]    `json:"a"`
		B Optional[string]    `json:"b"`
		C Optional[int]       `json:"c"`
		D Optional[uuid.UUID] `json:"d"`
	}
	if err := json.Unmarshal([]byte(`{"a":null,"c":7}`), &p); err != nil {
		t.Fatal(err)
	}
	if !p.A.Set || !p.A.Null || p.A.Ptr() != nil {
		t.Errorf("null: %+v", p.A)
	}
	if p.B.Set || p.B.Ptr() != nil {
		t.Errorf("absent: %+v", p.B)
	}
	if !p.C.Set || p.C.Null || *p.C.Ptr() != 7 {
		t.Errorf("value: %+v", p.C)
	}
	err := json.Unmarshal([]byte(`{"c":"seven"}`), &p)
	if te, ok := err.(*json.UnmarshalTypeError); !ok || te.Field != "c" {
		t.Errorf("a wrong type must name its field: %v", err)
	}
	s := "x"
	if v := Value(&s); !v.Set || v.Null || v.Value != "x" {
		t.Errorf("Value(&x) = %+v", v)
	}
	if v := Value[string](nil); !v.Set || !v.Null {
		t.Errorf("Value(nil) = %+v", v)
	}
}

func TestIfMatch(t *testing.T) {
	cases := []struct {
		header []string
		set    bool
		holds  []int
		fails  []int
	}{
		{nil, false, []int{1, 9}, nil},
		{[]string{`*`}, false, []int{1}, nil},
		{[]string{`"3"`}, true, []int{3}, []int{2, 4}},
		{[]string{`"2", "3"`}, true, []int{2, 3}, []int{1}},
		{[]string{`"2"`, `"5"`}, true, []int{2, 5}, []int{3}},
		{[]string{`W/"3"`}, true, nil, []int{3}},      // weak tags never match strongly
		{[]string{`"h0a1b2c3"`}, true, nil, []int{1}}, // a digest is not a version
		{[]string{`3`}, true, nil, []int{3}},          // unquoted: not an entity tag
		{[]string{`"-1"`, `"0"`}, true, nil, []int{0}},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("PATCH", "/x", nil)
		for _, h := range tc.header {
			r.Header.Add("If-Match", h)
		}
		c := IfMatch(r)
		if c.Set() != tc.set {
			t.Errorf("%q: Set() = %v", tc.header, c.Set())
		}
		for _, v := range tc.holds {
			if !c.Holds(v) {
				t.Errorf("%q must hold for version %d", tc.header, v)
			}
		}
		for _, v := range tc.fails {
			if c.Holds(v) {
				t.Errorf("%q must not hold for version %d", tc.header, v)
			}
		}
		if arg := c.Arg(); tc.set != (arg != nil) {
			t.Errorf("%q: Arg() = %#v", tc.header, arg)
		}
	}
}

func TestNotModified(t *testing.T) {
	cases := []struct {
		header string
		want   bool
	}{
		{"", false},
		{`"3"`, true},
		{`W/"3"`, true}, // If-None-Match compares weakly
		{`"1", "3"`, true},
		{`"4"`, false},
		{`*`, true},
	}
	for _, tc := range cases {
		r := httptest.NewRequest("GET", "/x", nil)
		if tc.header != "" {
			r.Header.Set("If-None-Match", tc.header)
		}
		if got := NotModified(r, ETag(3)); got != tc.want {
			t.Errorf("If-None-Match %q: %v, want %v", tc.header, got, tc.want)
		}
	}
	if d := DigestETag([]byte("{}")); !strings.HasPrefix(d, `"h`) || d != DigestETag([]byte("{}")) || d == DigestETag([]byte("[]")) {
		t.Errorf("DigestETag %s", d)
	}
}

func TestValidation(t *testing.T) {
	var v api.Validator
	if got := Name(&v, "name", "  Apollo 11 ", 200); got != "Apollo 11" {
		t.Errorf("Name trims: %q", got)
	}
	Name(&v, "p.name", " ", 200)
	Name(&v, "p.long", strings.Repeat("é", 201), 200)
	Text(&v, "ok", strings.Repeat("é", 200), 200) // 200 characters, 400 bytes
	Text(&v, "nul", "a\x00b", 10)
	Text(&v, "utf8", "\xff", 10)
	OneOf(&v, "status", "done", []string{"todo"})
	ID(&v, "missing", "")
	ID(&v, "bad", "nope")
	if id := ID(&v, "good", "0190f3c8-0000-7000-8000-000000000000"); id == uuid.Nil {
		t.Error("ID did not parse a UUID")
	}
	e := fault.As(v.Err())
	var fields []string
	for _, f := range e.Fields {
		fields = append(fields, f.Field)
	}
	want := []string{"p.name", "p.long", "nul", "utf8", "status", "missing", "bad"}
	if e.Code != fault.Invalid || !slices.Equal(fields, want) {
		t.Errorf("fields %v, want %v", fields, want)
	}
	if Index(3) != "bulk[3]." {
		t.Errorf("Index(3) = %q", Index(3))
	}
	for n, ok := range map[int]bool{0: false, 1: true, MaxBulk: true, MaxBulk + 1: false} {
		if err := CheckBulk(n); (err == nil) != ok {
			t.Errorf("CheckBulk(%d) = %v", n, err)
		}
	}
}

func TestKey(t *testing.T) {
	id := uuid.MustParse("0190f3c8-0000-7000-8000-000000000000")
	if got := Key("task", id); got != "task:0190f3c8-0000-7000-8000-000000000000" {
		t.Errorf("Key = %q", got)
	}
	if got := Scope(id); got != "org:0190f3c8-0000-7000-8000-000000000000" {
		t.Errorf("Scope = %q", got)
	}
}
