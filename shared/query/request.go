package query

import (
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// DialectHeader is the request header that names the dialect of a list query ("postgrest" or
// "nestjsx"), as APSO's crud package reads it; the response echoes the dialect that ran.
const DialectHeader = "X-Crud-Dialect"

// maxQueryBytes bounds the names and values of a request's query parameters together. A real
// query is far smaller (500 UUIDs in one $in are 18.5 KiB); API Gateway refuses longer URLs
// before they reach a function, but the local gateway and tests don't.
const maxQueryBytes = 32 << 10

// ParseRequest parses and validates the list query of r against s: the only way to build a
// Query. It reads r's query parameters in the dialect that the X-Crud-Dialect header names or,
// without it, that the parameters show (see the package comment), and PostgREST's Prefer
// header. Every error is a *fault.Error with Code fault.BadRequest whose message names the
// offending parameter and field, operator, relation or value. Limits are checked before any
// value is parsed, so a hostile query is refused at the cost of counting.
func ParseRequest(r *http.Request, s *Schema) (*Query, error) {
	values := r.URL.Query()
	d, err := chooseDialect(values, r.Header.Get(DialectHeader), s)
	if err != nil {
		return nil, err
	}
	if d == postgrest {
		return parsePostgREST(values, r.Header.Values("Prefer"), s)
	}
	params, err := gather(values)
	if err != nil {
		return nil, err
	}
	return parseNestjsx(params, s)
}

// checkSize refuses a query whose parameters hold more than maxQueryBytes. The dialects call it
// after counting the values, whose limits say more precisely what is wrong.
func checkSize(values url.Values) error {
	n := 0
	for k, vs := range values {
		n += len(k) * len(vs)
		for _, v := range vs {
			n += len(v)
		}
	}
	if n > maxQueryBytes {
		return bad("query: the parameters hold more than %d bytes", maxQueryBytes)
	}
	return nil
}

// The parameters that show a dialect, as APSO's crud package tells them apart: limit, offset,
// page and cache mean the same in both, and other unknown parameters show nothing, so that a
// stray parameter can't flip a request into the other dialect.
var (
	nestjsxSignals   = map[string]bool{"fields": true, "filter": true, "join": true, "sort": true, "s": true, "per_page": true, "cursor": true}
	postgrestSignals = map[string]bool{"order": true, "and": true, "not.or": true, "not.and": true}
)

// postgrestOpRE matches a PostgREST filter value, op.value or not.op.value, with any of
// PostgREST's operators: an operator it has and we don't is a 400 in the PostgREST parser,
// not a silently ignored parameter.
var postgrestOpRE = regexp.MustCompile(`^(not\.)?(eq|neq|gt|gte|lt|lte|like|ilike|match|imatch|in|is|isdistinct|fts|plfts|phfts|wfts|cs|cd|ov|sl|sr|nxr|nxl|adj)\.`)

// chooseDialect returns the dialect header names, or the one the parameters show: nestjsx
// when they show none. Parameters of both families are a 400 naming them, header or not (with
// a header, the other family's parameters would otherwise be silently ignored).
func chooseDialect(values url.Values, header string, s *Schema) (dialect, error) {
	header = strings.ToLower(strings.TrimSpace(header))
	var nest, pg []string
	for _, k := range slices.Sorted(maps.Keys(values)) {
		base, _, _ := strings.Cut(k, "[") // filter[0] is filter, per_page is per_page
		vs := values[k]
		if base != "cursor" { // an empty cursor asks for the first keyset page
			vs = slices.DeleteFunc(slices.Clone(vs), func(v string) bool { return v == "" })
		}
		if len(vs) == 0 {
			continue // an empty slot is "not given" in both dialects
		}
		switch {
		case k == "or":
			// or=(a.eq.1,…) is PostgREST's, or=field||$op||value nestjsx's; a header says which.
			if header == "postgrest" || header == "" && strings.HasPrefix(vs[0], "(") {
				pg = append(pg, k)
			} else {
				nest = append(nest, k)
			}
		case k == "select":
			// PostgREST's; nestjsx reads it as fields only when X-Crud-Dialect says nestjsx.
			if header != "nestjsx" {
				pg = append(pg, k)
			}
		case postgrestSignals[k] || postgrestFilter(k, vs, s):
			// Before the nestjsx parameters: a field may be named like one (sort, per_page), and
			// a nestjsx value reads as op.value only through a relation named like an operator.
			pg = append(pg, k)
		case nestjsxSignals[base]:
			if !slices.Contains(nest, base) {
				nest = append(nest, base)
			}
		}
	}
	switch header {
	case "":
		if len(nest) > 0 && len(pg) > 0 {
			return 0, bad("query: nestjsx parameters (%s) and PostgREST parameters (%s) can't be mixed; send one dialect, or name it in %s",
				strings.Join(nest, ", "), strings.Join(pg, ", "), DialectHeader)
		}
		if len(pg) > 0 {
			return postgrest, nil
		}
		return nestjsx, nil
	case "nestjsx":
		if len(pg) > 0 {
			return 0, bad("query: %s: PostgREST parameters, but %s is nestjsx", strings.Join(pg, ", "), DialectHeader)
		}
		return nestjsx, nil
	case "postgrest":
		if len(nest) > 0 {
			return 0, bad("query: %s: nestjsx parameters, but %s is postgrest", strings.Join(nest, ", "), DialectHeader)
		}
		return postgrest, nil
	}
	return 0, bad("%s: %s is not postgrest or nestjsx", DialectHeader, quote(header))
}

// postgrestFilter reports whether parameter k with values vs reads as a PostgREST filter on s:
// k names a field (or path.field, or path.or/and, through s's relations) and a value is
// op.value (or a tree).
func postgrestFilter(k string, vs []string, s *Schema) bool {
	if _, ok := s.byName[k]; !ok {
		rels, rest := cutRelations(s, k)
		if len(rels) == 0 {
			return false
		}
		if isLogic(rest) {
			return strings.HasPrefix(vs[0], "(")
		}
	}
	return slices.ContainsFunc(vs, postgrestOpRE.MatchString)
}

// isLogic reports whether a parameter name is one of PostgREST's logic trees.
func isLogic(k string) bool {
	switch k {
	case "or", "and", "not.or", "not.and":
		return true
	}
	return false
}
