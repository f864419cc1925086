package apsorc

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"

	"github.com/gertd/go-pluralize"
)

// maxIdent is PostgreSQL's identifier limit (NAMEDATALEN - 1), in bytes.
const maxIdent = 63

var (
	// plurals is the port of the JS pluralize library that APSO names its routes and
	// collections with. Its rules are only read after NewClient, so it is shared.
	plurals = pluralize.NewClient()

	nameRE     = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
	identRE    = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	camelSplit = regexp.MustCompile(`([0-9a-z])([A-Z])`)
	camelSeps  = regexp.MustCompile(`[ _-]+`)
	camelWord  = regexp.MustCompile(` \w`)
)

// plural is pluralize(word), keeping word's case as the JS library does ("WorkspaceUser" →
// "WorkspaceUsers", "Person" → "People").
func plural(word string) string { return plurals.Plural(word) }

// camelCase is APSO's camelCase: words split at a lower-to-upper change and at spaces,
// underscores and hyphens, lowered, and joined with every word but the first capitalised
// ("WorkspaceUser" → "workspaceUser", "network_stack" → "networkStack").
func camelCase(s string) string {
	s = camelSplit.ReplaceAllString(s, "$1 $2")
	s = strings.ToLower(camelSeps.ReplaceAllString(s, " "))
	s = camelWord.ReplaceAllStringFunc(s, func(m string) string { return strings.ToUpper(m[1:]) })
	return strings.ReplaceAll(s, " ", "")
}

// snakeCase lowers s and puts an underscore before each word that starts with a capital:
// after a lower-case letter or digit, or at the last capital of an acronym ("fullName" →
// "full_name", "logoURL" → "logo_url", "HTTPServer" → "http_server", "cognito_id" unchanged).
func snakeCase(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUpper(c) {
			if i > 0 && (isLower(s[i-1]) || isDigit(s[i-1]) || isUpper(s[i-1]) && i+1 < len(s) && isLower(s[i+1])) {
				b.WriteByte('_')
			}
			c += 'a' - 'A'
		}
		b.WriteByte(c)
	}
	return b.String()
}

func isUpper(c byte) bool { return 'A' <= c && c <= 'Z' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// pluralLast pluralizes the last word of a snake_case name ("bandwidth_usage" →
// "bandwidth_usages").
func pluralLast(snake string) string {
	i := strings.LastIndexByte(snake, '_') + 1
	return snake[:i] + plural(snake[i:])
}

// tableName is an entity's default table: snake_case(name) with its last word pluralized.
func tableName(entity string) string { return pluralLast(snakeCase(entity)) }

// objectName is the name of an index or constraint: parts and suffix joined with "_". A name
// longer than PostgreSQL keeps keeps its start and gets a hash of the whole, so that two long
// names that share a beginning stay distinct.
func objectName(suffix string, parts ...string) string {
	n := strings.Join(parts, "_") + "_" + suffix
	if len(n) <= maxIdent {
		return n
	}
	sum := sha256.Sum256([]byte(n))
	h := hex.EncodeToString(sum[:4])
	keep := maxIdent - len(h) - len(suffix) - 2
	return strings.TrimRight(n[:keep], "_") + "_" + h + "_" + suffix
}

// identProblem says what makes s unusable as an unquoted PostgreSQL identifier, or "".
func identProblem(s string) string {
	switch {
	case len(s) > maxIdent:
		return "is longer than 63 bytes"
	case !identRE.MatchString(s):
		return "is not a lower-case snake_case identifier"
	case reserved[s]:
		return "is a PostgreSQL reserved word"
	}
	return ""
}

// reserved are PostgreSQL's reserved key words (both "reserved" and "reserved, can be function
// or type" in the documentation's key word table): none can name a table or a column unquoted.
var reserved = setOf(
	"all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "authorization",
	"binary", "both", "case", "cast", "check", "collate", "collation", "column", "concurrently",
	"constraint", "create", "cross", "current_catalog", "current_date", "current_role",
	"current_schema", "current_time", "current_timestamp", "current_user", "default", "deferrable",
	"desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "freeze",
	"from", "full", "grant", "group", "having", "ilike", "in", "initially", "inner", "intersect",
	"into", "is", "isnull", "join", "lateral", "leading", "left", "like", "limit", "localtime",
	"localtimestamp", "natural", "not", "notnull", "null", "offset", "on", "only", "or", "order",
	"outer", "overlaps", "placing", "primary", "references", "returning", "right", "select",
	"session_user", "similar", "some", "symmetric", "system_user", "table", "tablesample", "then",
	"to", "trailing", "true", "union", "unique", "user", "using", "variadic", "verbose", "when",
	"where", "window", "with",
)

func setOf(vs ...string) map[string]bool {
	m := make(map[string]bool, len(vs))
	for _, v := range vs {
		m[v] = true
	}
	return m
}
