package api

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"scaleapi/shared/fault"
)

func TestDecodeRefusesWhatIsNotText(t *testing.T) {
	for _, tc := range []struct {
		name, body, field string
	}{
		{"InvalidUTF8", "{\"name\":\"Acme \xff\xfe\"}", "name"},
		{"TruncatedSequence", "{\"name\":\"caf\xc3\"}", "name"},
		{"OverlongEncoding", "{\"name\":\"\xc0\xaf\"}", "name"},
		{"EncodedSurrogate", "{\"name\":\"\xed\xa0\x80\"}", "name"},
		{"LoneHighSurrogate", `{"password":"abc\ud800defgh"}`, "password"},
		{"LoneHighSurrogateAtTheEnd", `{"password":"abcdefgh\ud83d"}`, "password"},
		{"LoneLowSurrogate", `{"name":"\udc00"}`, "name"},
		{"HighThenNotLow", `{"name":"\ud800\u0041"}`, "name"},
		{"NUL", `{"name":"a\u0000b"}`, "name"},
		{"Nested", `{"bulk":[{"name":"ok"},{"name":"bad\udfff"}]}`, "bulk[1].name"},
		{"AfterOtherFields", `{"a":1,"b":[true,null],"name":"x\ud800"}`, "name"},
		{"InAKey", `{"outer":{"k\ud800":1}}`, "outer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v map[string]any
			err := DecodeBytes([]byte(tc.body), &v)
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Code != fault.BadRequest {
				t.Fatalf("DecodeBytes(%q) = %v, want a 400", tc.body, err)
			}
			if len(fe.Fields) != 1 || fe.Fields[0].Field != tc.field {
				t.Fatalf("fields %+v (%s), want one naming %s", fe.Fields, fe.Message, tc.field)
			}
			if v != nil {
				t.Errorf("decoded %v although the body was refused", v)
			}
		})
	}
}

func TestDecodeKeepsText(t *testing.T) {
	for _, body := range []string{
		`{"name":"Übermensch École Ωmega 日本 🚀"}`,
		`{"name":"\u00dc\ud83d\ude80 paired surrogates are one character"}`,
		`{"name":"escaped backslash then u: \\ud800 is six characters"}`,
		`{"name":"\ufffd a replacement character the client sent"}`,
		"{\"name\":\"\uFFFD raw\"}",
		`{"list":["a","b",{"c":"d"}],"n":null}`,
	} {
		var v map[string]any
		if err := DecodeBytes([]byte(body), &v); err != nil {
			t.Errorf("DecodeBytes(%s): %v", body, err)
		}
	}
}

func TestDecodeRefusesNull(t *testing.T) {
	v := map[string]any{"kept": true}
	var fe *fault.Error
	if err := DecodeBytes([]byte(" null\n"), &v); !errors.As(err, &fe) || fe.Code != fault.BadRequest {
		t.Fatalf("DecodeBytes(null) = %v, want a 400: a PATCH would read it as {}", err)
	}
}

func TestDecodeTopLevelString(t *testing.T) {
	var s string
	err := DecodeBytes([]byte(`"\ud800"`), &s)
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Code != fault.BadRequest || len(fe.Fields) != 0 {
		t.Fatalf("DecodeBytes of a lone surrogate string = %v, want a 400 about the body", err)
	}
}

// FuzzCheckText: the scanner never panics, and a body it lets through that is valid JSON is valid
// UTF-8 (bytes outside strings that are not UTF-8 are syntax errors, so only strings can carry
// them, and those are the scanner's).
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{`{"a":"b"}`, `{"a":"\ud800"}`, "{\"a\":\"\xff\"}", `[1,"\\u",{"x":[]}]`, `"`, `{"a":"\u12`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkText(b) == nil && json.Valid(b) && !utf8.Valid(b) {
			t.Fatalf("%q passed although it is not UTF-8", b)
		}
	})
}
