package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"scaleapi/shared/fault"
	"scaleapi/shared/jsontext"
)

// fuzzBody has a field of each kind the API's request bodies decode into (a registration, an
// organization, a membership change): strings, an optional one, numbers, a boolean, a list, a
// map and a nested object.
type fuzzBody struct {
	Email    string            `json:"email"`
	Name     *string           `json:"name"`
	Count    int64             `json:"count"`
	Ratio    float64           `json:"ratio"`
	Active   bool              `json:"active"`
	Tags     []string          `json:"tags"`
	Settings map[string]int    `json:"settings"`
	Owner    *struct{ ID int } `json:"owner"`
}

// fuzzBulk is the shape of the resource engine's bulk create.
type fuzzBulk struct {
	Bulk []map[string]json.RawMessage `json:"bulk"`
}

// FuzzDecode feeds Decode arbitrary bodies under arbitrary Content-Types, into the three kinds
// of value the handlers decode into (a struct, the engine's map of raw values, a bulk), and
// checks that:
//
//   - every error is a *fault.Error with a 4xx code (400, 413 or 415) and a message, never a
//     500, and a field error always says what is wrong;
//   - a Content-Type that is not JSON is a 415, and only such a Content-Type is;
//   - what is accepted is one valid JSON value, UTF-8, not null, and decodes to exactly what
//     encoding/json reads from it; its own encoding is accepted again and decodes to the same
//     value (what the API answers, a client may send back);
//   - a valid JSON object is refused by the map target only for strings that are not text.
//
// Run it with: go test ./shared/api -run '^$' -fuzz FuzzDecode
func FuzzDecode(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/json", `{"email":"a@example.com","name":"Ada","count":3,"ratio":0.5,"active":true,"tags":["x"],"settings":{"a":1},"owner":{"ID":2}}`},
		{"", `{"bulk":[{"name":"a"},{"name":"b","status":"active"}]}`},
		{"application/merge-patch+json; charset=utf-8", `{"name":null}`},
		{"application/json", `{"name":"a"} {"name":"b"}`},
		{"application/json", `{"email":1}`},
		{"application/json", `{"unknown":true}`},
		{"application/json", " null "},
		{"application/json", ""},
		{"application/json", `[1,2]`},
		{"application/json", `{"name":"\u0000"}`},
		{"application/json", `{"name":"\ud800"}`},
		{"application/json", "{\"name\":\"\xff\"}"},
		{"application/json", `{"count":1e400}`},
		{"application/json", `{"bulk":[null,{"a":"\udc00"}]}`},
		{"text/plain", `{"name":"a"}`},
		{"application/json;;", `{}`},
		{"APPLICATION/JSON", `{"tags":[]}`},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		checkDecode(t, ct, body, func() any { return new(fuzzBody) })
		checkDecode(t, ct, body, func() any { return new(map[string]json.RawMessage) })
		checkDecode(t, ct, body, func() any { return new(fuzzBulk) })
	})
}

// checkDecode checks FuzzDecode's properties for one target; fresh returns a new pointer to a
// zero value of it.
func checkDecode(t *testing.T, ct string, body []byte, fresh func() any) {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	v := fresh()
	err := Decode(httptest.NewRecorder(), r, v)

	jsonType := ct == ""
	if mt, _, perr := mime.ParseMediaType(ct); ct != "" && perr == nil {
		jsonType = mt == "application/json" || strings.HasSuffix(mt, "+json")
	}
	if err != nil {
		var fe *fault.Error
		if !errors.As(err, &fe) {
			t.Fatalf("%T %q: error %v is not a *fault.Error", v, body, err)
		}
		switch fe.Code {
		case fault.BadRequest, fault.TooLarge, fault.UnsupportedType:
		default:
			t.Fatalf("%T %q: error %v has code %s (status %d), want a 4xx", v, body, err, fe.Code, StatusOf(err))
		}
		if fe.Message == "" {
			t.Fatalf("%T %q: error without a message", v, body)
		}
		for _, fld := range fe.Fields {
			// The field may be "": an unknown key "" is named as the client spelled it.
			if fld.Message == "" {
				t.Fatalf("%T %q: field error %+v says nothing", v, body, fld)
			}
		}
		if (fe.Code == fault.UnsupportedType) == jsonType {
			t.Fatalf("Content-Type %q: got %v", ct, err)
		}
		if _, isMap := v.(*map[string]json.RawMessage); isMap && fe.Code == fault.BadRequest && jsonType &&
			json.Valid(body) && bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) && !notText(fe.Message) {
			t.Fatalf("valid JSON object %q refused for another reason than text: %v", body, err)
		}
		return
	}
	if !jsonType {
		t.Fatalf("Content-Type %q accepted", ct)
	}
	if !json.Valid(body) || !utf8.Valid(body) || string(bytes.TrimSpace(body)) == "null" {
		t.Fatalf("%T: accepted %q", v, body)
	}
	std := fresh()
	if err := json.Unmarshal(body, std); err != nil || !reflect.DeepEqual(std, v) {
		t.Fatalf("%T %q: decoded %#v, encoding/json reads %#v (%v)", v, body, v, std, err)
	}
	again, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("%T: re-encode %#v: %v", v, v, err)
	}
	back := fresh()
	if err := DecodeBytes(again, back); err != nil || !reflect.DeepEqual(normalized(t, back), normalized(t, v)) {
		t.Fatalf("%T: %s (from %q) decodes to %#v (%v), want %#v", v, again, body, back, err, v)
	}
}

// notText reports whether a 400's message is one of checkText's.
func notText(msg string) bool {
	return strings.HasSuffix(msg, jsontext.NotUTF8) || strings.HasSuffix(msg, jsontext.LoneSurrogate) ||
		strings.HasSuffix(msg, jsontext.NUL)
}

// normalized compacts the raw JSON a value holds, which json.Marshal re-indents: the round trip
// keeps the values, not the spacing inside them.
func normalized(t *testing.T, v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // a raw value may hold a number no float64 holds (1e400)
	var out any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}
