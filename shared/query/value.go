package query

import (
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// canonical validates a client's value for a field of type t and returns the text that is bound
// for it. Every value is bound as text with an explicit cast in the SQL, so the canonical form
// must be one PostgreSQL parses back to the same value whatever the session's DateStyle or
// TimeZone: that is why times are normalised to RFC 3339 in UTC here instead of being passed
// through. The message names what was expected, for a 400.
func canonical(t Type, v string) (string, string) {
	switch t {
	case UUID:
		u, err := uuid.Parse(v)
		if err != nil {
			return "", "a UUID"
		}
		return u.String(), ""
	case Text, Enum:
		if !isText(v) {
			return "", notText
		}
		return v, ""
	case Int:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", "an integer"
		}
		return strconv.FormatInt(n, 10), ""
	case Timestamptz:
		if v == "infinity" || v == "-infinity" {
			return v, ""
		}
		// Year 0 parses in Go but not in PostgreSQL (there is no year 0 there), so it is refused
		// here rather than failing in the database.
		if tm, err := time.Parse(time.RFC3339Nano, v); err == nil && tm.UTC().Year() >= 1 {
			return tm.UTC().Format(time.RFC3339Nano), ""
		}
		if tm, err := time.Parse(time.DateOnly, v); err == nil && tm.Year() >= 1 {
			return tm.Format(time.RFC3339Nano), ""
		}
		return "", "an RFC 3339 time or a YYYY-MM-DD date"
	case Date:
		if v == "infinity" || v == "-infinity" {
			return v, ""
		}
		tm, err := time.Parse(time.DateOnly, v)
		if err != nil || tm.Year() < 1 {
			return "", "a YYYY-MM-DD date"
		}
		return tm.Format(time.DateOnly), ""
	case Bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return "", "true or false"
		}
		return strconv.FormatBool(b), ""
	case Float:
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(x, 0) || math.IsNaN(x) {
			return "", "a finite number"
		}
		return strconv.FormatFloat(x, 'g', -1, 64), "" // the shortest text that is exactly x
	case Numeric:
		if len(v) > maxNumeric || !numericRE.MatchString(v) {
			return "", "a decimal number such as -12.50"
		}
		return v, ""
	}
	return "", "a value"
}

// numericRE is the syntax of a Numeric value, and maxNumeric bounds its length in a condition
// (a sort key value may be longer: see keyValue).
var numericRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

const maxNumeric = 100

// notText is what a value that isn't text was expected to be, in a 400.
const notText = "UTF-8 text without NUL bytes"

// isText reports whether v can be PostgreSQL text: valid UTF-8 without a NUL byte. Anything else
// would turn a bad request into a 500, or be searched altered.
//
// U+FFFD (the replacement character) counts as not text too. Query values reach a function
// inside a JSON event (API Gateway's, or cmd/local's), where bytes that are not UTF-8 can only
// travel as U+FFFD: in a query value it stands for such bytes, so it is refused like them rather
// than searched for. (A body keeps its bytes: a gateway base64-encodes one that is not UTF-8.)
func isText(v string) bool {
	return utf8.ValidString(v) && strings.IndexByte(v, 0) < 0 && !strings.ContainsRune(v, utf8.RuneError)
}

// likeEscaper makes %, _ and \ literal in a LIKE pattern whose escape character is \.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// likePattern builds the bound pattern of a LIKE-family operator. In a PostgREST pattern * is
// the wildcard (its documented alias of %), and % and _ are literal, as in every other value.
func likePattern(k likeKind, v string) string {
	v = likeEscaper.Replace(v)
	switch k {
	case likeStar:
		return strings.ReplaceAll(v, "*", "%")
	case likeStarts:
		return v + "%"
	case likeEnds:
		return "%" + v
	default:
		return "%" + v + "%"
	}
}
