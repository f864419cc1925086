package query

import (
	"fmt"
	"maps"
	"math"
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
	// maxConditions bounds the conditions of a query (filter, or and s together; every PostgREST
	// filter), and maxValues the values of one $in/$notin: both keep a hostile query from
	// building a huge statement.
	maxConditions = 100
	maxValues     = 500
	// maxJoinDepth bounds how deep joins nest (join=a.b.c, select=a(b(c(…)))), and maxJoins
	// how many a query loads in all: each is a subquery run for every row of its parent.
	maxJoinDepth = 3
	maxJoins     = 100
)

// dialect is a query syntax: both parse into the same Query.
type dialect uint8

const (
	nestjsx   dialect = iota // nestjsx-crud's RequestQueryBuilder (parse.go, search.go)
	postgrest                // PostgREST's (postgrest.go)
)

// String returns the dialect's name, as X-Crud-Dialect spells it.
func (d dialect) String() string {
	if d == postgrest {
		return "postgrest"
	}
	return "nestjsx"
}

// Query is a parsed, validated list query for one Schema, whichever dialect it was written in.
// It is immutable; its methods render the SQL (Where, OrderBy, Item, Build) and the response
// (ReadPage, Respond).
type Query struct {
	schema   *Schema
	dialect  dialect
	where    *node     // conditions on the schema's own fields, AND-ed at the top of the WHERE
	related  *node     // conditions that name a joined relation's fields; see writeRelated
	fields   []*Field  // selected fields in schema order; id unless a PostgREST select left it out
	joins    []*join   // the first level, in schema order
	sort     []sortKey // ends with id
	limit    int64
	offset   int64
	paged    bool      // page or offset given
	cursor   bool      // keyset mode
	count    bool      // the total is counted and reported
	after    []*string // the cursor's sort key values (nil entries are NULLs); nil on a first page
	noCache  bool
	sortSpec string
	key      string // Key's digest, once asked for
}

// join is one relation to load in the rows of its parent (the query's own rows at the first
// level), with its selected fields and the joins nested in it.
type join struct {
	rel    *Relation
	parent *join // nil at the first level
	n      int   // its number in pre-order (see Query.each), which names its aliases in the SQL
	fields []*Field
	joins  []*join // nested in its rows, in rel.Schema's relation order
	// where narrows the loaded rows only, never the parent's: PostgREST embedded filters
	// (tasks.status=eq.done with select=…,tasks(…)), on rel's fields and on those of joins
	// nested in it with !inner (with the semantics of writeRelated below this join).
	where *node
	inner bool // PostgREST's !inner: a filter on it narrows its parent's rows too (see scopeOf)
}

// path is the join's name as a client writes it: the relation names from the first level,
// dot-separated (tasks.project).
func (j *join) path() string {
	if j.parent == nil {
		return j.rel.Name
	}
	return j.parent.path() + "." + j.rel.Name
}

// prefix is what a name in j's rows is prefixed with in messages: "" for the query's own rows.
func prefix(j *join) string {
	if j == nil {
		return ""
	}
	return j.path() + "."
}

// each yields q's joins in pre-order: each join before those nested in it, in schema order.
func (q *Query) each(yield func(*join) bool) { eachOf(q.joins, yield) }

func eachOf(js []*join, yield func(*join) bool) bool {
	for _, j := range js {
		if !yield(j) || !eachOf(j.joins, yield) {
			return false
		}
	}
	return true
}

// nested returns the joins nested in the rows of j, or q's first level when j is nil.
func (q *Query) nested(j *join) *[]*join {
	if j == nil {
		return &q.joins
	}
	return &j.joins
}

// schemaOf returns the schema of j's rows, or q's when j is nil.
func (q *Query) schemaOf(j *join) *Schema {
	if j == nil {
		return q.schema
	}
	return j.rel.Schema
}

// child returns the join of the relation name nested in j (nil: at the first level), or nil
// when q doesn't load it.
func (q *Query) child(j *join, name string) *join {
	for _, c := range *q.nested(j) {
		if c.rel.Name == name {
			return c
		}
	}
	return nil
}

// sortKey is one ORDER BY term.
type sortKey struct {
	field      *Field
	desc       bool
	nullsFirst bool // NULLS FIRST; by default with DESC, as the API promises
}

// parser carries what parsing needs besides the input: the schema, the query being built (its
// joins decide which relation fields conditions may name) and the running condition count.
type parser struct {
	s       *Schema
	q       *Query
	nconds  int
	dialect dialect
}

func newQuery(s *Schema, d dialect) (*Query, *parser) {
	q := &Query{schema: s, dialect: d, limit: DefaultLimit}
	return q, &parser{s: s, q: q, dialect: d}
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

// parseNestjsx parses the nestjsx dialect from gathered parameters (see gather).
func parseNestjsx(params map[string][]string, s *Schema) (*Query, error) {
	q, p := newQuery(s, nestjsx)
	// Joins first: a condition may name a joined relation's fields.
	if err := q.parseFields(params["fields"]); err != nil {
		return nil, err
	}
	if err := q.parseJoins(params["join"]); err != nil {
		return nil, err
	}
	if raw, ok := first(params, "s"); ok {
		n, err := p.search(raw)
		if err != nil {
			return nil, err
		}
		q.setWhere(n)
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
			q.setWhere(group(true, []*node{group(false, filters), group(false, ors)}))
		case len(filters) > 0:
			q.setWhere(group(false, filters))
		default:
			q.setWhere(group(true, ors))
		}
	}
	if err := q.parseSort(params["sort"]); err != nil {
		return nil, err
	}
	if err := q.parsePaging(params); err != nil {
		return nil, err
	}
	if err := q.parseCache(params); err != nil {
		return nil, err
	}
	q.count = !q.cursor
	return q, nil
}

// setWhere installs the query's condition, split for the SQL (see split).
func (q *Query) setWhere(n *node) { q.where, q.related = split(n) }

// paramAliases maps the reference's alternative parameter names to ours.
var paramAliases = map[string]string{"select": "fields", "per_page": "limit"}

// nestjsxParams lists the parameters the nestjsx dialect reads; others are left to the caller.
var nestjsxParams = map[string]bool{"s": true, "filter": true, "or": true, "fields": true, "join": true,
	"sort": true, "limit": true, "offset": true, "page": true, "cursor": true, "cache": true}

// paramBase returns the parameter a name stands for, accepting the bracketed names that
// query-string libraries produce (filter[]=, filter[0]=, which the reference's qs parser folds
// into one array) and the reference's aliases, with its rank in the order of values: plain
// names first, then name[], then name[i] by index, then the aliases. ok is false for a name the
// dialect doesn't read.
func paramBase(k string) (base string, rank, idx int, ok bool) {
	base = k
	if i := strings.IndexByte(k, '['); i > 0 && strings.HasSuffix(k, "]") {
		inner := k[i+1 : len(k)-1]
		base = k[:i]
		switch n, err := strconv.Atoi(inner); {
		case inner == "":
			rank = 1
		case err == nil && n >= 0:
			rank, idx = 2, n
		default:
			return "", 0, 0, false
		}
	}
	if a, ok := paramAliases[base]; ok {
		base = a
		rank += 3 // after the canonical name
	}
	return base, rank, idx, nestjsxParams[base]
}

// gather groups the values of every parameter the nestjsx dialect reads under its base name
// (see paramBase), in a deterministic order, after checking the limits and the text of every
// value (checkNestjsx): a hostile query is refused before any of it is parsed.
func gather(values map[string][]string) (map[string][]string, error) {
	type part struct {
		base      string
		rank, idx int
		vals      []string
	}
	var buf [16]part
	parts := buf[:0]
	counts := map[string]int{}
	for k, vs := range values {
		base, rank, idx, ok := paramBase(k)
		if !ok {
			continue
		}
		if base != "s" && base != "cursor" && slices.Contains(vs, "") {
			// The reference skips empty values (fields=, join=, filter=, limit=), so clients
			// that build query strings with empty slots get "not given", not a 400. An empty s
			// is still invalid JSON, and an empty cursor asks for the first keyset page.
			vs = slices.DeleteFunc(slices.Clone(vs), func(v string) bool { return v == "" })
		}
		counts[base] += len(vs)
		parts = append(parts, part{base, rank, idx, vs})
	}
	if err := checkCounts(counts); err != nil {
		return nil, err
	}
	if err := checkSize(values); err != nil {
		return nil, err
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
	out := make(map[string][]string, len(counts))
	for _, p := range parts {
		if counts[p.base] == len(p.vals) {
			out[p.base] = p.vals // the only part: no copy
			continue
		}
		if out[p.base] == nil {
			out[p.base] = make([]string, 0, counts[p.base])
		}
		out[p.base] = append(out[p.base], p.vals...)
	}
	for base, vs := range out {
		for _, v := range vs {
			if err := checkNestjsxText(base, v); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// checkCounts refuses more values than a query can use, from the counts alone: filter and or
// hold one condition each, and no other parameter is worth repeating a hundred times.
func checkCounts(counts map[string]int) error {
	if n := counts["filter"] + counts["or"]; n > maxConditions {
		names := "filter"
		switch {
		case counts["filter"] == 0:
			names = "or"
		case counts["or"] > 0:
			names = "filter, or"
		}
		return bad("%s: more than %d conditions (%d given)", names, maxConditions, n)
	}
	for _, base := range slices.Sorted(maps.Keys(counts)) {
		if n := counts[base]; n > maxConditions && base != "filter" && base != "or" {
			return bad("%s: more than %d values (%d given)", base, maxConditions, n)
		}
	}
	return nil
}

// checkNestjsxText refuses a value that is not text (see isText), naming the parameter and,
// where the value's syntax has one, the field. s is checked by its decoder, which knows where
// in the document a string is (see decodeJSON).
func checkNestjsxText(param, v string) error {
	if isText(v) || param == "s" && !strings.Contains(v, "\uFFFD") {
		return nil
	}
	var field string
	switch param {
	case "filter", "or", "join":
		field, _, _ = strings.Cut(v, "||")
	case "sort":
		field, _, _ = strings.Cut(v, ",")
	}
	return notTextError(param, field, v)
}

// notTextError is the 400 for a value that is not text, naming the field when it is text.
func notTextError(param, field, v string) error {
	if field != "" && isText(field) {
		return bad("%s: field %s: %s is not %s", param, quote(field), quote(v), notText)
	}
	return bad("%s: %s is not %s", param, quote(v), notText)
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

// cond validates one nestjsx condition: a field (own, or path.field of a joined relation),
// an operator by its nestjsx name, and the values.
func (p *parser) cond(param, fieldName, opName string, raw []string) (*node, error) {
	at, f, err := p.field(param, nil, fieldName)
	if err != nil {
		return nil, err
	}
	op, ok := operators[opName]
	if !ok {
		return nil, bad("%s: field %s: unknown operator %s", param, quote(fieldName), quote(opName))
	}
	return p.condition(param, fieldName, at, f, op, opName, raw)
}

// field resolves a field name in a condition, over the rows of scope (nil: the query's own):
// a field of their schema, or path.field for a field of a join the query loads nested in them
// (relation.field, relation.relation.field, …). It returns the join whose field it is (scope
// for their own).
func (p *parser) field(param string, scope *join, name string) (*join, *Field, error) {
	at, rest := scope, name
	for {
		s := p.q.schemaOf(at)
		if f, ok := s.byName[rest]; ok {
			return at, f, nil
		}
		relName, tail, ok := strings.Cut(rest, ".")
		if !ok || s.relByName[relName] == nil {
			return nil, nil, bad("%s: unknown field %s", param, quote(prefix(scope)+name))
		}
		j := p.q.child(at, relName)
		if j == nil {
			return nil, nil, p.notLoaded(param, prefix(scope)+name, prefix(at)+relName)
		}
		at, rest = j, tail
	}
}

// notLoaded is the 400 for a condition on the fields of the relation at path (field, when
// not "", names the field) that the query doesn't load.
func (p *parser) notLoaded(param, field, path string) error {
	what := ""
	if field != "" {
		what = "field " + quote(field) + ": "
	}
	if p.dialect == postgrest {
		names := strings.Split(path, ".")
		return bad("%s: %srelation %s is not embedded (add %s(…%s to select)", param, what, quote(path), strings.Join(names, "("), strings.Repeat(")", len(names)))
	}
	return bad("%s: %srelation %s is not joined (add join=%s)", param, what, quote(path), path)
}

// condition validates one condition of either dialect on field f (of the join at, or of the
// query's own rows when at is nil) and converts its values: the operator must apply to the
// field's type, the values must be the field's type (and, for an exact match on an Enum, in
// its set), and the query must stay within maxConditions. name and label are the field and the
// operator as the client wrote them, for messages.
func (p *parser) condition(param, name string, at *join, f *Field, op *operator, label string, raw []string) (*node, error) {
	if f.Type == JSON && op.arity != arityNone {
		return nil, bad("%s: field %s: json fields filter only on null, not with %s", param, quote(name), label)
	}
	if op.textOnly() && !f.Type.textual() {
		return nil, bad("%s: field %s: %s applies to text fields, not to a %s", param, quote(name), label, f.Type)
	}
	if p.nconds++; p.nconds > maxConditions {
		return nil, bad("%s: more than %d conditions", param, maxConditions)
	}
	switch op.arity {
	case arityNone:
		raw = nil
	case arityOne:
		if len(raw) != 1 {
			return nil, bad("%s: field %s: %s takes one value", param, quote(name), label)
		}
	case arityPair:
		if len(raw) != 2 {
			return nil, bad("%s: field %s: %s takes two values", param, quote(name), label)
		}
	case arityList:
		if len(raw) == 0 || len(raw) > maxValues {
			return nil, bad("%s: field %s: %s takes 1 to %d values", param, quote(name), label, maxValues)
		}
	}
	vals := make([]string, len(raw))
	for i, r := range raw {
		v, want := canonical(f.Type, r)
		if want != "" {
			return nil, bad("%s: field %s: %s is not %s", param, quote(name), quote(r), want)
		}
		if f.Type == Enum && op.enum && !inEnum(f.Values, v, op.lower) {
			return nil, bad("%s: field %s: %s is not one of %s", param, quote(name), quote(r), strings.Join(f.Values, ", "))
		}
		if op.like != likeNone {
			v = likePattern(op.like, v)
		}
		vals[i] = v
	}
	return &node{cond: &cond{at: at, field: f, op: op, vals: vals}}, nil
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
	pick, err := pickFields(q.schema, "fields", "", raws, true)
	if err != nil {
		return err
	}
	q.fields = pick
	return nil
}

// pickFields resolves comma-separated names against s, in schema order, with id included when
// withID is set.
func pickFields(s *Schema, param, prefix string, raws []string, withID bool) ([]*Field, error) {
	want := map[string]bool{"id": withID}
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

// parseJoins reads join=relation and join=relation||a,b, and nested joins, join=a.b||c,d,
// which load relation b in the rows of a's join: as in the reference, the query must join
// their parent too (join=a), but in any order.
func (q *Query) parseJoins(raws []string) error {
	dots := func(raw string) int {
		path, _, _ := strings.Cut(raw, "||")
		return strings.Count(path, ".")
	}
	raws = slices.Clone(raws)
	slices.SortStableFunc(raws, func(a, b string) int { return dots(a) - dots(b) }) // parents first
	for _, raw := range raws {
		path, list, hasList := strings.Cut(raw, "||")
		names := strings.Split(path, ".")
		if len(names) > maxJoinDepth {
			return bad("join: %s nests joins %d levels deep, more than %d", quote(path), len(names), maxJoinDepth)
		}
		var parent *join
		for i, name := range names {
			rel, ok := q.schemaOf(parent).relByName[name]
			if !ok {
				return bad("join: unknown relation %s", quote(strings.Join(names[:i+1], ".")))
			}
			if i == len(names)-1 {
				fields := rel.Schema.fields
				if hasList && list != "" {
					var err error
					if fields, err = pickFields(rel.Schema, "join", path+".", []string{list}, true); err != nil {
						return err
					}
				}
				q.addJoin(parent, rel, fields)
				break
			}
			if parent = q.child(parent, name); parent == nil {
				return bad("join: %s needs join=%s too (a nested join needs its parent's)", quote(path), strings.Join(names[:i+1], "."))
			}
		}
	}
	return q.numberJoins("join")
}

// addJoin loads rel with fields in the rows of parent (nil: the query's own) and returns its
// join. Joining one relation twice merges the selections (a join without a list selects
// everything); joins keep schema order, like fields, so that the statement doesn't depend on
// parameter order.
func (q *Query) addJoin(parent *join, rel *Relation, fields []*Field) *join {
	if j := q.child(parent, rel.Name); j != nil {
		j.fields = unionFields(rel.Schema, j.fields, fields)
		return j
	}
	j := &join{rel: rel, parent: parent, fields: fields}
	js, rels := q.nested(parent), q.schemaOf(parent).relations
	*js = append(*js, j)
	slices.SortFunc(*js, func(a, b *join) int { return slices.Index(rels, a.rel) - slices.Index(rels, b.rel) })
	return j
}

// numberJoins numbers q's joins in pre-order, once they are all parsed, and refuses more than
// maxJoins.
func (q *Query) numberJoins(param string) error {
	n := 0
	for j := range q.each {
		j.n = n
		n++
	}
	if n > maxJoins {
		return bad("%s: more than %d joins (%d given)", param, maxJoins, n)
	}
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

// parseSort reads sort=field,ASC|DESC (repeatable).
func (q *Query) parseSort(raws []string) error {
	for _, raw := range raws {
		name, dir, _ := strings.Cut(raw, ",")
		f, ok := q.schema.byName[name]
		if !ok {
			return bad("sort: unknown field %s", quote(name))
		}
		if err := sortable("sort", f); err != nil {
			return err
		}
		var desc bool
		switch strings.ToUpper(strings.TrimSpace(dir)) {
		case "", "ASC":
		case "DESC":
			desc = true
		default:
			return bad("sort: field %s: order %s is not ASC or DESC", quote(name), quote(dir))
		}
		q.addSort(f, desc, desc)
	}
	q.endSort()
	return nil
}

// sortable refuses a sort on a JSON field: jsonb's order is no order a client means.
func sortable(param string, f *Field) error {
	if f.Type == JSON {
		return bad("%s: field %s: json fields don't sort", param, quote(f.Name))
	}
	return nil
}

// addSort appends a sort term. A repeated field keeps its first direction, and terms after id
// are dropped: id is unique, so nothing after it can change the order, and the keyset stays
// minimal.
func (q *Query) addSort(f *Field, desc, nullsFirst bool) {
	for _, k := range q.sort {
		if k.field == f || k.field == q.schema.id {
			return
		}
	}
	q.sort = append(q.sort, sortKey{field: f, desc: desc, nullsFirst: nullsFirst})
}

// endSort appends the id tiebreak, in the direction of the last term, and records the sort a
// cursor is made for.
func (q *Query) endSort() {
	if !slices.ContainsFunc(q.sort, func(k sortKey) bool { return k.field == q.schema.id }) {
		desc := len(q.sort) > 0 && q.sort[len(q.sort)-1].desc
		q.sort = append(q.sort, sortKey{field: q.schema.id, desc: desc, nullsFirst: desc})
	}
	var b strings.Builder
	b.WriteString(q.schema.name)
	for _, k := range q.sort {
		b.WriteString("," + k.field.Name)
		if k.desc {
			b.WriteString(":d")
		}
		if k.nullsFirst != k.desc {
			b.WriteString(":n") // only a non-default NULL placement, so older cursors stay valid
		}
	}
	q.sortSpec = b.String()
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

// parseCache reads cache=0.
func (q *Query) parseCache(params map[string][]string) error {
	if v, ok := first(params, "cache"); ok {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return bad("cache: %s is not an integer", quote(v))
		}
		q.noCache = n == 0
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

// Joins returns the paths of the joins q loads (join=…, or embedded in a PostgREST select):
// the relation names from the first level, dot-separated (tasks, tasks.assignee), each join
// before those nested in it, in schema order.
func (q *Query) Joins() []string {
	var paths []string
	for j := range q.each {
		paths = append(paths, j.path())
	}
	return paths
}

// Fields returns the selected fields in schema order, for a store that scans typed columns
// instead of the JSON of Item.
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
	return fmt.Sprintf("%s %s WHERE %s ORDER BY %s LIMIT %d OFFSET %d", q.dialect, q.schema.name, q.Where("t", &a), q.OrderBy("t"), q.limit, q.offset)
}
