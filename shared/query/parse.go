package query

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"scaleapi/shared/fault"
)

// Limits of the query syntax.
const (
	// DefaultLimit is the page size when limit is absent or 0.
	DefaultLimit = 20
	// MaxLimit caps limit (a larger one is lowered to it, as the reference does).
	MaxLimit = 100
	// maxConditions bounds the conditions of filter, or and s together, and maxValues the values
	// of one $in/$notin: both keep a hostile query from building a huge statement.
	maxConditions = 100
	maxValues     = 500
)

// Query is a parsed, validated list query for one Schema. It is immutable; its methods render
// the SQL (Where, OrderBy, Item, Build) and the response (ReadPage).
type Query struct {
	schema   *Schema
	where    *node
	fields   []*Field // selected fields in schema order; always holds id
	joins    []join
	sort     []sortKey // ends with id
	limit    int64
	offset   int64
	paged    bool      // page or offset given
	cursor   bool      // keyset mode
	after    []*string // the cursor's sort key values (nil entries are NULLs); nil on a first page
	noCache  bool
	sortSpec string
}

// join is one relation to load, with its selected fields.
type join struct {
	rel    *Relation
	fields []*Field
}

// sortKey is one ORDER BY term.
type sortKey struct {
	field *Field
	desc  bool
}

// parser carries the schema and the running condition count while parsing.
type parser struct {
	s      *Schema
	nconds int
}

// bad builds the 400 every parse error is.
func bad(format string, args ...any) *fault.Error {
	return fault.E(fault.BadRequest, format, args...)
}

// quote shows client text in an error message: quoted, control characters escaped, and cut
// short so that a hostile value can't blow up the response or the log line.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		return strconv.Quote(s[:cut]) + "…"
	}
	return strconv.Quote(s)
}

// Parse validates a list query against s. Every error is a *fault.Error with Code
// fault.BadRequest whose message names the offending parameter and field, operator, relation
// or value.
func Parse(values url.Values, s *Schema) (*Query, error) {
	params := gather(values)
	p := &parser{s: s}
	q := &Query{schema: s, limit: DefaultLimit}

	if raw, ok := first(params, "s"); ok {
		n, err := p.search(raw)
		if err != nil {
			return nil, err
		}
		q.where = n
	} else {
		filters, err := p.conditions("filter", params["filter"])
		if err != nil {
			return nil, err
		}
		ors, err := p.conditions("or", params["or"])
		if err != nil {
			return nil, err
		}
		switch {
		case len(filters) > 0 && len(ors) > 0:
			q.where = group(true, []*node{group(false, filters), group(false, ors)})
		case len(filters) > 0:
			q.where = group(false, filters)
		default:
			q.where = group(true, ors)
		}
	}

	if err := q.parseFields(params["fields"]); err != nil {
		return nil, err
	}
	if err := q.parseJoins(params["join"]); err != nil {
		return nil, err
	}
	if err := q.parseSort(params["sort"]); err != nil {
		return nil, err
	}
	if err := q.parsePaging(params); err != nil {
		return nil, err
	}
	if v, ok := first(params, "cache"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, bad("cache: %s is not an integer", quote(v))
		}
		q.noCache = n == 0
	}
	return q, nil
}

// aliases maps the reference's alternative parameter names to ours.
var aliases = map[string]string{"select": "fields", "per_page": "limit"}

// known lists the parameters Parse reads; others are left to the caller.
var known = map[string]bool{"s": true, "filter": true, "or": true, "fields": true, "join": true,
	"sort": true, "limit": true, "offset": true, "page": true, "cursor": true, "cache": true}

// gather groups the values of every known parameter under its base name, accepting the
// bracketed names that query-string libraries produce (filter[]=, filter[0]=, which the
// reference's qs parser folds into one array). Plain names come first, then name[], then
// name[i] by index, so that the order of conditions is deterministic.
func gather(values url.Values) map[string][]string {
	type part struct {
		base      string
		rank, idx int
		vals      []string
	}
	var buf [16]part
	parts := buf[:0]
	for k, vs := range values {
		base, rank, idx := k, 0, 0
		if i := strings.IndexByte(k, '['); i > 0 && strings.HasSuffix(k, "]") {
			inner := k[i+1 : len(k)-1]
			base = k[:i]
			switch n, err := strconv.Atoi(inner); {
			case inner == "":
				rank = 1
			case err == nil && n >= 0:
				rank, idx = 2, n
			default:
				continue
			}
		}
		if a, ok := aliases[base]; ok {
			base = a
			rank += 3 // after the canonical name
		}
		if !known[base] {
			continue
		}
		if base != "s" && base != "cursor" && slices.Contains(vs, "") {
			// The reference skips empty values (fields=, join=, filter=, limit=), so clients
			// that build query strings with empty slots get "not given", not a 400. An empty s
			// is still invalid JSON, and an empty cursor asks for the first keyset page.
			vs = slices.DeleteFunc(slices.Clone(vs), func(v string) bool { return v == "" })
		}
		parts = append(parts, part{base, rank, idx, vs})
	}
	slices.SortFunc(parts, func(a, b part) int {
		if c := strings.Compare(a.base, b.base); c != 0 {
			return c
		}
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		return a.idx - b.idx
	})
	out := make(map[string][]string, len(parts))
	for _, p := range parts {
		if prev, ok := out[p.base]; ok {
			out[p.base] = append(prev[:len(prev):len(prev)], p.vals...)
		} else {
			out[p.base] = p.vals
		}
	}
	return out
}

// first returns the first value of a single-valued parameter (the reference reads the first).
func first(params map[string][]string, name string) (string, bool) {
	vs := params[name]
	if len(vs) == 0 {
		return "", false
	}
	return vs[0], true
}

// conditions parses repeated field||$op||value parameters.
func (p *parser) conditions(param string, raws []string) ([]*node, error) {
	var out []*node
	for _, raw := range raws {
		parts := strings.SplitN(raw, "||", 3)
		if len(parts) < 2 {
			return nil, bad("%s: %s is not field||$operator||value", param, quote(raw))
		}
		field, opName := parts[0], parts[1]
		var vals []string
		op, ok := operators[opName]
		if ok && op.arity != arityNone {
			if len(parts) < 3 || parts[2] == "" {
				return nil, bad("%s: field %s: %s needs a value", param, quote(field), opName)
			}
			if op.arity == arityOne {
				vals = []string{parts[2]}
			} else {
				vals = strings.Split(parts[2], ",")
			}
		}
		n, err := p.cond(param, field, opName, vals)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

// cond validates one condition and converts its values.
func (p *parser) cond(param, fieldName, opName string, raw []string) (*node, error) {
	f, ok := p.s.byName[fieldName]
	if !ok {
		return nil, bad("%s: unknown field %s", param, quote(fieldName))
	}
	if !f.Filter {
		return nil, bad("%s: field %s can't be filtered on", param, quote(fieldName))
	}
	op, ok := operators[opName]
	if !ok {
		return nil, bad("%s: field %s: unknown operator %s", param, quote(fieldName), quote(opName))
	}
	if op.textOnly() && !f.Type.textual() {
		return nil, bad("%s: field %s: %s applies to text fields, not to a %s", param, quote(fieldName), op.name, f.Type)
	}
	if p.nconds++; p.nconds > maxConditions {
		return nil, bad("%s: more than %d conditions", param, maxConditions)
	}
	switch op.arity {
	case arityNone:
		raw = nil
	case arityOne:
		if len(raw) != 1 {
			return nil, bad("%s: field %s: %s takes one value", param, quote(fieldName), op.name)
		}
	case arityPair:
		if len(raw) != 2 {
			return nil, bad("%s: field %s: %s takes two values", param, quote(fieldName), op.name)
		}
	case arityList:
		if len(raw) == 0 || len(raw) > maxValues {
			return nil, bad("%s: field %s: %s takes 1 to %d values", param, quote(fieldName), op.name, maxValues)
		}
	}
	vals := make([]string, len(raw))
	for i, r := range raw {
		v, want := canonical(f.Type, r)
		if want != "" {
			return nil, bad("%s: field %s: %s is not %s", param, quote(fieldName), quote(r), want)
		}
		if f.Type == Enum && op.enum && !inEnum(f.Values, v, op.lower) {
			return nil, bad("%s: field %s: %s is not one of %s", param, quote(fieldName), quote(r), strings.Join(f.Values, ", "))
		}
		if op.like != likeNone {
			v = likePattern(op.like, v)
		}
		vals[i] = v
	}
	return &node{cond: &cond{field: f, op: op, vals: vals}}, nil
}

func inEnum(set []string, v string, fold bool) bool {
	for _, e := range set {
		if e == v || fold && strings.EqualFold(e, v) {
			return true
		}
	}
	return false
}

// parseFields reads fields=a,b; id is always selected, and the output keeps schema order so
// that equal selections give equal SQL.
func (q *Query) parseFields(raws []string) error {
	if len(raws) == 0 {
		q.fields = q.schema.fields
		return nil
	}
	pick, err := pickFields(q.schema, "fields", "", raws)
	if err != nil {
		return err
	}
	q.fields = pick
	return nil
}

// pickFields resolves comma-separated names against s, in schema order, with id included.
func pickFields(s *Schema, param, prefix string, raws []string) ([]*Field, error) {
	want := map[string]bool{"id": true}
	for _, raw := range raws {
		for _, name := range strings.Split(raw, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if _, ok := s.byName[name]; !ok {
				return nil, bad("%s: unknown field %s", param, quote(prefix+name))
			}
			want[name] = true
		}
	}
	out := make([]*Field, 0, len(want))
	for _, f := range s.fields {
		if want[f.Name] {
			out = append(out, f)
		}
	}
	return out, nil
}

// parseJoins reads join=relation and join=relation||a,b. Joining one relation twice merges
// the selections (a join without a list selects everything).
func (q *Query) parseJoins(raws []string) error {
	for _, raw := range raws {
		name, list, hasList := strings.Cut(raw, "||")
		rel, ok := q.schema.relByName[name]
		if !ok {
			return bad("join: unknown relation %s", quote(name))
		}
		var fields []*Field
		if hasList && list != "" {
			var err error
			if fields, err = pickFields(rel.Schema, "join", name+".", []string{list}); err != nil {
				return err
			}
		} else {
			fields = rel.Schema.fields
		}
		merged := false
		for i := range q.joins {
			if q.joins[i].rel == rel {
				q.joins[i].fields = unionFields(rel.Schema, q.joins[i].fields, fields)
				merged = true
			}
		}
		if !merged {
			q.joins = append(q.joins, join{rel: rel, fields: fields})
		}
	}
	// Schema order, like fields, so that the statement doesn't depend on parameter order.
	slices.SortFunc(q.joins, func(a, b join) int {
		return slices.Index(q.schema.relations, a.rel) - slices.Index(q.schema.relations, b.rel)
	})
	return nil
}

func unionFields(s *Schema, a, b []*Field) []*Field {
	out := make([]*Field, 0, len(s.fields))
	for _, f := range s.fields {
		if slices.Contains(a, f) || slices.Contains(b, f) {
			out = append(out, f)
		}
	}
	return out
}

// parseSort reads sort=field,ASC|DESC (repeatable) and appends the id tiebreak. A repeated
// field keeps its first direction, and terms after id are dropped: id is unique, so nothing
// after it can change the order, and the keyset stays minimal.
func (q *Query) parseSort(raws []string) error {
	seen := map[*Field]bool{}
	for _, raw := range raws {
		name, dir, _ := strings.Cut(raw, ",")
		f, ok := q.schema.byName[name]
		if !ok {
			return bad("sort: unknown field %s", quote(name))
		}
		if !f.Sort {
			return bad("sort: field %s can't be sorted on", quote(name))
		}
		var desc bool
		switch strings.ToUpper(strings.TrimSpace(dir)) {
		case "", "ASC":
		case "DESC":
			desc = true
		default:
			return bad("sort: field %s: order %s is not ASC or DESC", quote(name), quote(dir))
		}
		if seen[f] || seen[q.schema.id] {
			continue
		}
		seen[f] = true
		q.sort = append(q.sort, sortKey{field: f, desc: desc})
	}
	if !seen[q.schema.id] {
		desc := len(q.sort) > 0 && q.sort[len(q.sort)-1].desc
		q.sort = append(q.sort, sortKey{field: q.schema.id, desc: desc})
	}
	var b strings.Builder
	b.WriteString(q.schema.name)
	for _, k := range q.sort {
		b.WriteString("," + k.field.Name)
		if k.desc {
			b.WriteString(":d")
		}
	}
	q.sortSpec = b.String()
	return nil
}

// parsePaging reads limit, page, offset and cursor.
func (q *Query) parsePaging(params map[string][]string) error {
	limit, hasLimit, err := count(params, "limit")
	if err != nil {
		return err
	}
	if hasLimit && limit > 0 {
		q.limit = min(limit, MaxLimit)
	}
	page, hasPage, err := count(params, "page")
	if err != nil {
		return err
	}
	offset, hasOffset, err := count(params, "offset")
	if err != nil {
		return err
	}
	raw, hasCursor := first(params, "cursor")
	if hasCursor {
		if (hasPage && page > 0) || (hasOffset && offset > 0) {
			return bad("cursor: can't be combined with page or offset")
		}
		q.cursor = true
		if raw != "" {
			after, err := q.decodeCursor(raw)
			if err != nil {
				return err
			}
			q.after = after
		}
		return nil
	}
	switch {
	case hasPage && page > 0:
		if page-1 > math.MaxInt64/q.limit {
			return bad("page: %d is too large", page)
		}
		q.offset = (page - 1) * q.limit
		q.paged = true
	case hasOffset:
		q.offset = offset
		q.paged = true
	case hasPage:
		q.paged = true
	}
	return nil
}

// count reads a non-negative integer parameter.
func count(params map[string][]string, name string) (int64, bool, error) {
	v, ok := first(params, name)
	if !ok {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, true, bad("%s: %s is not an integer", name, quote(v))
	}
	if n < 0 {
		return 0, true, bad("%s: %d is negative", name, n)
	}
	return n, true, nil
}

// Limit returns the page size: the number of items a page holds at most.
func (q *Query) Limit() int64 { return q.limit }

// Offset returns the number of rows skipped (0 in cursor mode).
func (q *Query) Offset() int64 { return q.offset }

// CursorMode reports whether the client asked for keyset pagination (the cursor parameter).
func (q *Query) CursorMode() bool { return q.cursor }

// Paginated reports whether the client gave page or offset. The reference answers a bare
// array when neither is given; a handler that wants that compatibility can ask.
func (q *Query) Paginated() bool { return q.paged }

// NoCache reports cache=0: the caller asked to bypass the cache for this read.
func (q *Query) NoCache() bool { return q.noCache }

// Schema returns the schema q was parsed against.
func (q *Query) Schema() *Schema { return q.schema }

// Joins returns the names of the relations q loads (join=…), in the order given.
func (q *Query) Joins() []string {
	names := make([]string, len(q.joins))
	for i, j := range q.joins {
		names[i] = j.rel.Name
	}
	return names
}

// Fields returns the selected fields in schema order (id included), for a store that scans
// typed columns instead of the JSON of Item.
func (q *Query) Fields() []Field {
	out := make([]Field, len(q.fields))
	for i, f := range q.fields {
		out[i] = *f
	}
	return out
}

// String renders q for debugging and logs.
func (q *Query) String() string {
	var a Args
	return fmt.Sprintf("%s WHERE %s ORDER BY %s LIMIT %d OFFSET %d", q.schema.name, q.Where("t", &a), q.OrderBy("t"), q.limit, q.offset)
}
