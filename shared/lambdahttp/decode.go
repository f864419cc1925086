package lambdahttp

import (
	"encoding/json"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// The event decoders below read API Gateway's proxy events in one pass over the payload into
// aws-lambda-go's event types. encoding/json is general and pays for it: it validates the whole
// payload, then walks it again through reflection, and on this path it was the function's
// largest single cost after the network (about 30 µs of a 1.7 KB REST event on a loaded 2-core
// machine, against 3 µs for the rest of the conversion).
//
// They are exact or they give up: a payload they do not fully understand — invalid JSON, a
// value of an unexpected type, a member twice, a key that matches a field only
// case-insensitively — makes them return false, and the caller decodes it with encoding/json,
// whose result or error is then the answer. Where they do succeed the result is what
// encoding/json produces: unknown members are skipped, null leaves a field alone (and stores a
// zero value inside a map), strings are unquoted the same way, invalid UTF-8 included, and the
// rarely present, loosely typed members (authorizers, client certificates) are handed to
// encoding/json on their own. TestDecodeMatchesEncodingJSON and FuzzDecode hold them to that.

// decodeV1 decodes a payload 1.0 event into ev, which must be zero.
func decodeV1(b []byte, ev *events.APIGatewayProxyRequest) error {
	r := newReader(b)
	if r.v1(ev) && r.end() {
		return nil
	}
	*ev = events.APIGatewayProxyRequest{}
	return json.Unmarshal(b, ev)
}

// decodeV2 decodes a payload 2.0 event into ev, which must be zero.
func decodeV2(b []byte, ev *events.APIGatewayV2HTTPRequest) error {
	r := newReader(b)
	if r.v2(ev) && r.end() {
		return nil
	}
	*ev = events.APIGatewayV2HTTPRequest{}
	return json.Unmarshal(b, ev)
}

// Field names, for telling a key encoding/json would match case-insensitively from one it
// would skip.
var (
	v1Fields = []string{"resource", "path", "httpMethod", "headers", "multiValueHeaders",
		"queryStringParameters", "multiValueQueryStringParameters", "pathParameters",
		"stageVariables", "requestContext", "body", "isBase64Encoded"}
	v1ContextFields = []string{"accountId", "resourceId", "operationName", "stage", "domainName",
		"domainPrefix", "requestId", "extendedRequestId", "protocol", "identity", "resourcePath",
		"path", "authorizer", "httpMethod", "requestTime", "requestTimeEpoch", "apiId"}
	identityFields = []string{"cognitoIdentityPoolId", "accountId", "cognitoIdentityId", "caller",
		"apiKey", "apiKeyId", "accessKey", "sourceIp", "cognitoAuthenticationType",
		"cognitoAuthenticationProvider", "userArn", "userAgent", "user", "clientCert"}
	v2Fields = []string{"version", "routeKey", "rawPath", "rawQueryString", "cookies", "headers",
		"queryStringParameters", "pathParameters", "requestContext", "stageVariables", "body",
		"isBase64Encoded"}
	v2ContextFields = []string{"routeKey", "accountId", "stage", "requestId", "authorizer", "apiId",
		"domainName", "domainPrefix", "time", "timeEpoch", "http", "authentication"}
	v2HTTPFields = []string{"method", "path", "protocol", "sourceIp", "userAgent"}
)

func (r *reader) v1(ev *events.APIGatewayProxyRequest) bool {
	return r.object(v1Fields, func(key string) bool {
		switch key {
		case "resource":
			return r.str(&ev.Resource)
		case "path":
			return r.str(&ev.Path)
		case "httpMethod":
			return r.str(&ev.HTTPMethod)
		case "headers":
			return r.stringMap(&ev.Headers)
		case "multiValueHeaders":
			return r.stringsMap(&ev.MultiValueHeaders)
		case "queryStringParameters":
			return r.stringMap(&ev.QueryStringParameters)
		case "multiValueQueryStringParameters":
			return r.stringsMap(&ev.MultiValueQueryStringParameters)
		case "pathParameters":
			return r.stringMap(&ev.PathParameters)
		case "stageVariables":
			return r.stringMap(&ev.StageVariables)
		case "requestContext":
			return r.v1Context(&ev.RequestContext)
		case "body":
			return r.str(&ev.Body)
		case "isBase64Encoded":
			return r.boolean(&ev.IsBase64Encoded)
		}
		return false
	})
}

func (r *reader) v1Context(c *events.APIGatewayProxyRequestContext) bool {
	return r.object(v1ContextFields, func(key string) bool {
		switch key {
		case "accountId":
			return r.str(&c.AccountID)
		case "resourceId":
			return r.str(&c.ResourceID)
		case "operationName":
			return r.str(&c.OperationName)
		case "stage":
			return r.str(&c.Stage)
		case "domainName":
			return r.str(&c.DomainName)
		case "domainPrefix":
			return r.str(&c.DomainPrefix)
		case "requestId":
			return r.str(&c.RequestID)
		case "extendedRequestId":
			return r.str(&c.ExtendedRequestID)
		case "protocol":
			return r.str(&c.Protocol)
		case "identity":
			return r.identity(&c.Identity)
		case "resourcePath":
			return r.str(&c.ResourcePath)
		case "path":
			return r.str(&c.Path)
		case "authorizer":
			return r.raw(&c.Authorizer)
		case "httpMethod":
			return r.str(&c.HTTPMethod)
		case "requestTime":
			return r.str(&c.RequestTime)
		case "requestTimeEpoch":
			return r.int64(&c.RequestTimeEpoch)
		case "apiId":
			return r.str(&c.APIID)
		}
		return false
	})
}

func (r *reader) identity(id *events.APIGatewayRequestIdentity) bool {
	return r.object(identityFields, func(key string) bool {
		switch key {
		case "cognitoIdentityPoolId":
			return r.str(&id.CognitoIdentityPoolID)
		case "accountId":
			return r.str(&id.AccountID)
		case "cognitoIdentityId":
			return r.str(&id.CognitoIdentityID)
		case "caller":
			return r.str(&id.Caller)
		case "apiKey":
			return r.str(&id.APIKey)
		case "apiKeyId":
			return r.str(&id.APIKeyID)
		case "accessKey":
			return r.str(&id.AccessKey)
		case "sourceIp":
			return r.str(&id.SourceIP)
		case "cognitoAuthenticationType":
			return r.str(&id.CognitoAuthenticationType)
		case "cognitoAuthenticationProvider":
			return r.str(&id.CognitoAuthenticationProvider)
		case "userArn":
			return r.str(&id.UserArn)
		case "userAgent":
			return r.str(&id.UserAgent)
		case "user":
			return r.str(&id.User)
		case "clientCert":
			return r.raw(&id.ClientCert)
		}
		return false
	})
}

func (r *reader) v2(ev *events.APIGatewayV2HTTPRequest) bool {
	return r.object(v2Fields, func(key string) bool {
		switch key {
		case "version":
			return r.str(&ev.Version)
		case "routeKey":
			return r.str(&ev.RouteKey)
		case "rawPath":
			return r.str(&ev.RawPath)
		case "rawQueryString":
			return r.str(&ev.RawQueryString)
		case "cookies":
			return r.stringSlice(&ev.Cookies)
		case "headers":
			return r.stringMap(&ev.Headers)
		case "queryStringParameters":
			return r.stringMap(&ev.QueryStringParameters)
		case "pathParameters":
			return r.stringMap(&ev.PathParameters)
		case "requestContext":
			return r.v2Context(&ev.RequestContext)
		case "stageVariables":
			return r.stringMap(&ev.StageVariables)
		case "body":
			return r.str(&ev.Body)
		case "isBase64Encoded":
			return r.boolean(&ev.IsBase64Encoded)
		}
		return false
	})
}

func (r *reader) v2Context(c *events.APIGatewayV2HTTPRequestContext) bool {
	return r.object(v2ContextFields, func(key string) bool {
		switch key {
		case "routeKey":
			return r.str(&c.RouteKey)
		case "accountId":
			return r.str(&c.AccountID)
		case "stage":
			return r.str(&c.Stage)
		case "requestId":
			return r.str(&c.RequestID)
		case "authorizer":
			return r.raw(&c.Authorizer)
		case "apiId":
			return r.str(&c.APIID)
		case "domainName":
			return r.str(&c.DomainName)
		case "domainPrefix":
			return r.str(&c.DomainPrefix)
		case "time":
			return r.str(&c.Time)
		case "timeEpoch":
			return r.int64(&c.TimeEpoch)
		case "http":
			return r.object(v2HTTPFields, func(key string) bool {
				h := &c.HTTP
				switch key {
				case "method":
					return r.str(&h.Method)
				case "path":
					return r.str(&h.Path)
				case "protocol":
					return r.str(&h.Protocol)
				case "sourceIp":
					return r.str(&h.SourceIP)
				case "userAgent":
					return r.str(&h.UserAgent)
				}
				return false
			})
		case "authentication":
			return r.raw(&c.Authentication)
		}
		return false
	})
}

// reader is a cursor over a JSON document. Its methods return false when the document is not
// what they can decode exactly; the position is then meaningless.
type reader struct {
	b     []byte
	s     string // b as a string: plain strings are slices of it, not copies
	i     int
	depth int // of skipped values
}

// newReader returns a reader over b. It copies b once, so that the strings it returns share one
// allocation rather than taking one each; they keep the whole copy alive, which for an event
// that lives as long as its invocation costs nothing.
func newReader(b []byte) reader { return reader{b: b, s: string(b)} }

// maxDepth bounds nesting in skipped values; encoding/json, which a deeper document falls back
// to, has its own limit.
const maxDepth = 1000

func (r *reader) space() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// end reports whether only whitespace is left.
func (r *reader) end() bool {
	r.space()
	return r.i == len(r.b)
}

// null consumes a null literal if one comes next.
func (r *reader) null() bool {
	r.space()
	if r.i+4 <= len(r.b) && string(r.b[r.i:r.i+4]) == "null" {
		r.i += 4
		return true
	}
	return false
}

// object reads an object (or null, which leaves everything alone), calling member for each
// member of fields with the cursor before its value. A member not in fields is skipped unless
// it matches one case-insensitively; a member of fields seen twice gives up (encoding/json
// would merge a repeated map rather than replace it).
func (r *reader) object(fields []string, member func(key string) bool) bool {
	if r.null() {
		return true
	}
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return false
	}
	r.i++
	var seen uint64
	r.space()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		return true
	}
	for {
		key, ok := r.key()
		if !ok {
			return false
		}
		known := -1
		for j, f := range fields {
			if f == key {
				known = j
				break
			}
		}
		switch {
		case known >= 0:
			if seen&(1<<known) != 0 || !member(key) {
				return false
			}
			seen |= 1 << known
		case foldsToAny(key, fields):
			return false
		default:
			if !r.skip() {
				return false
			}
		}
		if more, ok := r.sep('}'); !more {
			return ok
		}
	}
}

// key reads a member's name and the colon after it.
func (r *reader) key() (string, bool) {
	r.space()
	var k string
	if !r.quoted(&k) {
		return "", false
	}
	r.space()
	if r.i >= len(r.b) || r.b[r.i] != ':' {
		return "", false
	}
	r.i++
	return k, true
}

// sep consumes what follows an element: a comma (more), or the closing bracket (done, ok).
// Anything else is not JSON: not more, not ok.
func (r *reader) sep(closing byte) (more, ok bool) {
	r.space()
	if r.i < len(r.b) {
		switch r.b[r.i] {
		case ',':
			r.i++
			return true, true
		case closing:
			r.i++
			return false, true
		}
	}
	return false, false
}

// foldsToAny reports whether key matches one of fields case-insensitively, which
// encoding/json would decode into that field.
func foldsToAny(key string, fields []string) bool {
	for _, f := range fields {
		if strings.EqualFold(f, key) {
			return true
		}
	}
	return false
}

// str reads a string into dst; null leaves dst alone.
func (r *reader) str(dst *string) bool {
	if r.null() {
		return true
	}
	return r.quoted(dst)
}

// quoted reads a string, which must come next.
func (r *reader) quoted(dst *string) bool {
	if r.i >= len(r.b) || r.b[r.i] != '"' {
		return false
	}
	start := r.i + 1
	plain := true
	for i := start; i < len(r.b); i++ {
		switch c := r.b[i]; {
		case c == '"':
			if plain {
				*dst = r.s[start:i]
				r.i = i + 1
				return true
			}
			s, ok := unquote(r.b[start:i])
			if !ok {
				return false
			}
			*dst = s
			r.i = i + 1
			return true
		case c == '\\':
			plain = false
			i++ // the escaped byte can't end the string
		case c < 0x20:
			return false
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	return false
}

func (r *reader) boolean(dst *bool) bool {
	r.space()
	switch {
	case r.null():
		return true
	case r.i+4 <= len(r.b) && string(r.b[r.i:r.i+4]) == "true":
		*dst, r.i = true, r.i+4
	case r.i+5 <= len(r.b) && string(r.b[r.i:r.i+5]) == "false":
		*dst, r.i = false, r.i+5
	default:
		return false
	}
	return r.literalEnds()
}

// literalEnds reports whether the literal or number just read is not followed by more of the
// same token ("truex", "12a" are not JSON).
func (r *reader) literalEnds() bool {
	if r.i >= len(r.b) {
		return true
	}
	switch r.b[r.i] {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// int64 reads an integer; anything encoding/json might treat differently (fractions,
// exponents, overflow, leading zeros) gives up.
func (r *reader) int64(dst *int64) bool {
	if r.null() {
		return true
	}
	i, neg := r.i, false
	if i < len(r.b) && r.b[i] == '-' {
		neg = true
		i++
	}
	start := i
	var n int64
	for ; i < len(r.b) && '0' <= r.b[i] && r.b[i] <= '9'; i++ {
		n = n*10 + int64(r.b[i]-'0') // 18 digits at most, checked below: no overflow
		if i-start >= 18 {
			return false
		}
	}
	digits := i - start
	if digits == 0 || (digits > 1 && r.b[start] == '0') {
		return false
	}
	r.i = i
	if !r.literalEnds() {
		return false
	}
	if neg {
		n = -n
	}
	*dst = n
	return true
}

// stringMap reads an object of strings. As with encoding/json, null makes the map nil and a
// null value stores "".
func (r *reader) stringMap(dst *map[string]string) bool {
	if r.null() {
		*dst = nil
		return true
	}
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return false
	}
	r.i++
	m := make(map[string]string, 8)
	*dst = m
	r.space()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		return true
	}
	for {
		k, ok := r.key()
		if !ok {
			return false
		}
		var v string
		if !r.str(&v) {
			return false
		}
		m[k] = v
		if more, ok := r.sep('}'); !more {
			return ok
		}
	}
}

// stringsMap reads an object of string arrays.
func (r *reader) stringsMap(dst *map[string][]string) bool {
	if r.null() {
		*dst = nil
		return true
	}
	if r.i >= len(r.b) || r.b[r.i] != '{' {
		return false
	}
	r.i++
	m := make(map[string][]string, 8)
	*dst = m
	r.space()
	if r.i < len(r.b) && r.b[r.i] == '}' {
		r.i++
		return true
	}
	for {
		k, ok := r.key()
		if !ok {
			return false
		}
		var v []string
		if !r.stringSlice(&v) {
			return false
		}
		m[k] = v
		if more, ok := r.sep('}'); !more {
			return ok
		}
	}
}

// stringSlice reads an array of strings; null stores nil, a null element "".
func (r *reader) stringSlice(dst *[]string) bool {
	if r.null() {
		*dst = nil
		return true
	}
	if r.i >= len(r.b) || r.b[r.i] != '[' {
		return false
	}
	r.i++
	out := []string{}
	r.space()
	if r.i < len(r.b) && r.b[r.i] == ']' {
		r.i++
		*dst = out
		return true
	}
	for {
		var v string
		r.space()
		if !r.str(&v) {
			return false
		}
		out = append(out, v)
		if more, ok := r.sep(']'); !more {
			*dst = out
			return ok
		}
	}
}

// raw hands the next value to encoding/json, for the loosely typed members.
func (r *reader) raw(v any) bool {
	r.space()
	start := r.i
	if !r.skip() {
		return false
	}
	return json.Unmarshal(r.b[start:r.i], v) == nil
}

// skip validates and passes over one value.
func (r *reader) skip() bool {
	r.space()
	if r.i >= len(r.b) {
		return false
	}
	switch c := r.b[r.i]; {
	case c == '"':
		var s string
		return r.quoted(&s)
	case c == '{' || c == '[':
		r.depth++
		if r.depth > maxDepth {
			return false
		}
		defer func() { r.depth-- }()
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		r.i++
		r.space()
		if r.i < len(r.b) && r.b[r.i] == closing {
			r.i++
			return true
		}
		for {
			if closing == '}' {
				if _, ok := r.key(); !ok {
					return false
				}
			}
			if !r.skip() {
				return false
			}
			if more, ok := r.sep(closing); !more {
				return ok
			}
		}
	case c == 't':
		var b bool
		return r.boolean(&b)
	case c == 'f':
		var b bool
		return r.boolean(&b)
	case c == 'n':
		return r.null() && r.literalEnds()
	default:
		return r.number()
	}
}

// number passes over a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (r *reader) number() bool {
	b, i := r.b, r.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	}
	r.i = i
	return r.literalEnds()
}

// unquote decodes the inside of a JSON string the way encoding/json does: escapes, UTF-16
// surrogate pairs, and U+FFFD for invalid UTF-8 and unpaired surrogates. It reports false for
// an invalid escape or a control character.
func unquote(s []byte) (string, bool) {
	out := make([]byte, 0, len(s)+2*utf8.UTFMax)
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			i++
			if i >= len(s) {
				return "", false
			}
			switch s[i] {
			case '"', '\\', '/':
				out, i = append(out, s[i]), i+1
			case 'b':
				out, i = append(out, '\b'), i+1
			case 'f':
				out, i = append(out, '\f'), i+1
			case 'n':
				out, i = append(out, '\n'), i+1
			case 'r':
				out, i = append(out, '\r'), i+1
			case 't':
				out, i = append(out, '\t'), i+1
			case 'u':
				r1, ok := hex4(s[i+1:])
				if !ok {
					return "", false
				}
				i += 5
				if utf16.IsSurrogate(r1) {
					if i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if r2, ok := hex4(s[i+2:]); ok {
							if dec := utf16.DecodeRune(r1, r2); dec != utf8.RuneError {
								out = utf8.AppendRune(out, dec)
								i += 6
								continue
							}
						}
					}
					r1 = utf8.RuneError
				}
				out = utf8.AppendRune(out, r1)
			default:
				return "", false
			}
		case c < 0x20:
			return "", false
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				out = utf8.AppendRune(out, utf8.RuneError)
			} else {
				out = append(out, s[i:i+size]...)
			}
			i += size
		}
	}
	return string(out), true
}

func hex4(s []byte) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r*16 + rune(c)
	}
	return r, true
}
