package lambdahttp

import "strings"

// payloadVersion returns the string value of the top-level "version" key of a JSON object, or ""
// if there is none (payload 1.0 from a REST API has none) or the input is not a JSON object.
//
// It scans instead of decoding because the event is decoded right after into the struct its
// version calls for, and a substring search is not enough: a header or query parameter named
// "version" puts the same bytes one level down.
func payloadVersion(b []byte) string {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ""
	}
	i++
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return ""
		}
		keyStart := i + 1
		i = skipString(b, i)
		if i < 0 {
			return ""
		}
		key := b[keyStart : i-1]
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return ""
		}
		i = skipSpace(b, i+1)
		if string(key) == "version" {
			if i >= len(b) || b[i] != '"' {
				return ""
			}
			end := skipString(b, i)
			if end < 0 {
				return ""
			}
			return string(b[i+1 : end-1])
		}
		i = skipValue(b, i)
		if i < 0 {
			return ""
		}
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ',' {
			return ""
		}
		i++
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just past the string starting at b[i] == '"', or -1.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// skipValue returns the index just past the JSON value starting at b[i], or -1. It trusts the
// input to be valid JSON: the decoder that runs next rejects what is not.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for ; i < len(b); i++ {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				i--
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		for ; i < len(b); i++ {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
		}
		return i
	}
}

// escapePath makes a request path safe to paste into a URL whether API Gateway delivered it
// percent-encoded (REST APIs) or decoded (HTTP APIs). It escapes only what never appears
// literally in an encoded path — '?', '#', spaces, control and non-ASCII bytes, and a '%' that
// does not start an escape — so an encoded path passes through unchanged, and a decoded '?' no
// longer cuts the path short and turns the rest into a query string.
func escapePath(p string) string {
	i := 0
	for i < len(p) && !mustEscape(p, i) {
		i++
	}
	if i == len(p) {
		return p
	}
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(len(p) + 8)
	sb.WriteString(p[:i])
	for ; i < len(p); i++ {
		if c := p[i]; mustEscape(p, i) {
			sb.WriteByte('%')
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&0xf])
		} else {
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

func mustEscape(p string, i int) bool {
	switch c := p[i]; {
	case c == '?' || c == '#' || c <= ' ' || c >= 0x7f:
		return true
	case c == '%':
		return i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2])
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
