package jsontext

import "testing"

func TestProblem(t *testing.T) {
	for _, tc := range []struct{ raw, want string }{
		{`"plain"`, ""},
		{`"Ünïcödé 🚀"`, ""},
		{`"\u00dc\ud83d\ude80"`, ""},
		{`"\\ud800 is an escaped backslash"`, ""},
		{`: "after a colon", `, ""},
		{`"\u12"`, ""}, // malformed: the parser's to refuse
		{"\"\xff\"", NotUTF8},
		{"\"\xed\xa0\x80\"", NotUTF8}, // a surrogate encoded in UTF-8
		{`"\ud800"`, LoneSurrogate},
		{`"\ud800x"`, LoneSurrogate},
		{`"\ud800\u0041"`, LoneSurrogate},
		{`"\udc00"`, LoneSurrogate},
		{`"a\u0000b"`, NUL},
	} {
		if got := Problem(tc.raw); got != tc.want {
			t.Errorf("Problem(%q) = %q, want %q", tc.raw, got, tc.want)
		}
	}
}
