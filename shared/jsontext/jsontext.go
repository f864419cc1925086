// Package jsontext tells whether the strings of raw JSON are text. encoding/json decodes invalid
// UTF-8 and a lone UTF-16 surrogate escape (\ud800 without its pair) to U+FFFD without a word,
// so a body or a query's s parameter would be stored or searched altered; and PostgreSQL's text
// can't hold the NUL that \u0000 decodes to. Both the request body decoder (shared/api) and the
// list query's JSON search (shared/query) check the raw text with Problem first and answer a 400
// naming the field.
package jsontext

import (
	"strconv"
	"unicode/utf8"
)

// The problems Problem reports, phrased to follow a field's name.
const (
	NotUTF8       = "is not valid UTF-8 text"
	LoneSurrogate = "has a lone UTF-16 surrogate (\\ud800-\\udfff without its pair), which is not text"
	NUL           = "contains a NUL character"
)

// Problem returns what keeps raw from decoding to text, or "" if nothing does. raw is raw JSON
// holding string literals (one literal, or a stretch of JSON between two tokens: outside strings
// JSON has no backslashes, and bytes that are not UTF-8 there are the parser's to refuse). A
// malformed escape is left to the JSON parser too.
func Problem(raw string) string {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			if i+1 < len(raw) && raw[i+1] != 'u' {
				i += 2 // \" \\ \n ...: one character, whatever follows
				continue
			}
			r, ok := hex4(raw, i+2)
			if !ok {
				return ""
			}
			i += 6
			switch {
			case r == 0:
				return NUL
			case r >= 0xDC00 && r <= 0xDFFF:
				return LoneSurrogate
			case r >= 0xD800 && r <= 0xDBFF:
				if lo, ok := hex4(raw, i+2); !ok || i+1 >= len(raw) || raw[i] != '\\' || raw[i+1] != 'u' || lo < 0xDC00 || lo > 0xDFFF {
					return LoneSurrogate
				}
				i += 6
			}
		case c < utf8.RuneSelf:
			i++
		default:
			r, size := utf8.DecodeRuneInString(raw[i:])
			if r == utf8.RuneError && size == 1 {
				return NotUTF8
			}
			i += size
		}
	}
	return ""
}

// hex4 reads the four hex digits of a \u escape at s[i:].
func hex4(s string, i int) (rune, bool) {
	if i < 0 || i+4 > len(s) {
		return 0, false
	}
	v, err := strconv.ParseUint(s[i:i+4], 16, 16) // four hex digits: 16 bits, which a rune holds
	return rune(v), err == nil
}
