package query

import (
	"maps"
	"net/url"
	"slices"
	"strings"
)

// The PostgREST dialect (https://docs.postgrest.org/en/latest/references/api/tables_views.html),
// as APSO's crud package accepts it beside nestjsx's: it parses into the same Query, so the
// allow-list, the validation of every condition and the SQL are the nestjsx dialect's. See the
// package comment for what is supported and where it differs from PostgREST.

// postgrestParams are the PostgREST dialect's parameters that are not column filters.
var postgrestParams = map[string]bool{"select": true, "order": true, "limit": true, "offset": true,
	"page": true, "cache": true, "or": true, "and": true, "not.or": true, "not.and": true}

// postgrestOps maps PostgREST's comparison operators to the internal ones, plain and under
// not.: a negation is pushed down to the operator that means it (NOT (a > 1) is a <= 1, NULL
// included, in SQL's three-valued logic), so that the query is the one its nestjsx spelling
// gives, with the same SQL and the same cache entry.
var postgrestOps = map[string][2]*operator{
	"eq":    {operators["$eq"], operators["$ne"]},
	"neq":   {operators["$ne"], operators["$eq"]},
	"gt":    {operators["$gt"], operators["$lte"]},
	"gte":   {operators["$gte"], operators["$lt"]},
	"lt":    {operators["$lt"], operators["$gte"]},
	"lte":   {operators["$lte"], operators["$gt"]},
	"like":  {opLike, opNotLike},
	"ilike": {opILike, opNotILike},
	"in":    {operators["$in"], operators["$notin"]},
}

// parsePostgREST parses the PostgREST dialect; prefer are the request's Prefer headers.
func parsePostgREST(values url.Values, prefer []string, s *Schema) (*Query, error) {
	q, p := newQuery(s, postgrest)
	params, err := postgrestValues(values, s)
	if err != nil {
		return nil, err
	}
	if err := q.parseSelect(params["select"]); err != nil {
		return nil, err
	}

	// Filters, in parameter-name order so that equal queries give equal SQL. A filter on an
	// embedded relation's field narrows only the embedded rows, as in PostgREST, unless the
	// relation is embedded with !inner: then it also keeps only the parents with a matching row
	// (see scopeOf).
	var top []*node
	embedded := map[*join][]*node{}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if postgrestParams[k] {
			continue
		}
		for _, v := range params[k] {
			scope, n, err := p.filterParam(k, v)
			if err != nil {
				return nil, err
			}
			switch {
			case n == nil:
			case scope == nil:
				top = append(top, n)
			default:
				embedded[scope] = append(embedded[scope], n)
			}
		}
	}
	for _, k := range []string{"and", "or", "not.and", "not.or"} {
		for _, v := range params[k] {
			n, err := p.tree(k, nil, v, strings.HasSuffix(k, "or"), strings.HasPrefix(k, "not."), 0)
			if err != nil {
				return nil, err
			}
			top = append(top, n)
		}
	}
	q.setWhere(group(false, top))
	for j, ns := range embedded {
		j.where = group(false, ns)
	}

	if err := q.parseOrder(params["order"]); err != nil {
		return nil, err
	}
	if err := q.parsePaging(params); err != nil {
		return nil, err
	}
	if n, ok, _ := count(params, "limit"); ok && n == 0 {
		q.limit = 0 // PostgREST's way to ask for the count alone
	}
	if err := q.parseCache(params); err != nil {
		return nil, err
	}
	q.count = prefersCount(prefer)
	return q, nil
}

// postgrestValues returns the non-empty values of the parameters the dialect reads, after
// checking the limits and the text of every one: a hostile query is refused before any of it
// is parsed. An empty value is "not given", as in the nestjsx dialect.
func postgrestValues(values url.Values, s *Schema) (map[string][]string, error) {
	params := make(map[string][]string, len(values))
	filters := 0
	for k, vs := range values {
		vs = slices.DeleteFunc(slices.Clone(vs), func(v string) bool { return v == "" })
		if len(vs) == 0 {
			continue
		}
		if postgrestParams[k] {
			if len(vs) > maxConditions {
				return nil, bad("%s: more than %d values (%d given)", k, maxConditions, len(vs))
			}
		} else {
			filters += len(vs)
		}
		params[k] = vs
	}
	if filters > maxConditions {
		return nil, bad("query: more than %d filters (%d given)", maxConditions, filters)
	}
	if err := checkSize(values); err != nil {
		return nil, err
	}
	for k, vs := range params {
		field := ""
		if !postgrestParams[k] {
			field = k
		}
		for _, v := range vs {
			if !isText(v) {
				return nil, notTextError(k, field, v)
			}
		}
	}
	return params, nil
}

// filterParam parses one column filter, k=op.value: k is a field, path.field or path.or (or
// .and, .not.or, .not.and), where path names embedded relations (tasks, tasks.project). It
// returns the scope of the condition (see scopeOf), or a nil node for a parameter that is no
// filter of ours (an unknown name whose value isn't op.value: a cache buster, a tracking
// parameter).
func (p *parser) filterParam(k, v string) (*join, *node, error) {
	rels, rest := cutRelations(p.s, k)
	if len(rels) == 0 {
		if f, ok := p.s.byName[k]; ok {
			n, err := p.filter(k, k, nil, f, v, false, false)
			return nil, n, err
		}
		if postgrestOpRE.MatchString(v) {
			return nil, nil, bad("%s: unknown field %s", k, quote(k))
		}
		return nil, nil, nil
	}
	if isLogic(rest) {
		var j *join
		for i, r := range rels {
			if j = p.q.child(j, r.Name); j == nil {
				return nil, nil, p.notLoaded(k, "", strings.Join(strings.Split(k, ".")[:i+1], "."))
			}
		}
		n, err := p.tree(k, j, v, strings.HasSuffix(rest, "or"), strings.HasPrefix(rest, "not."), 0)
		return scopeOf(j), n, err
	}
	switch rest {
	case "order", "limit", "offset", "select":
		return nil, nil, bad("%s: ordering or paging an embedded relation is not supported", k)
	}
	at, f, err := p.field(k, nil, k)
	if err != nil {
		return nil, nil, err
	}
	n, err := p.filter(k, k, at, f, v, false, false)
	return scopeOf(at), n, err
}

// cutRelations splits a PostgREST filter key into the relations it walks from s (tasks,
// project in tasks.project.name) and the rest: a field's name, a logic tree's or anything
// else.
func cutRelations(s *Schema, k string) (rels []*Relation, rest string) {
	rest = k
	for {
		head, tail, ok := strings.Cut(rest, ".")
		r := s.relByName[head]
		if !ok || r == nil {
			return rels, rest
		}
		rels, rest, s = append(rels, r), tail, r.Schema
	}
}

// scopeOf returns the rows a filter on j's rows narrows: j's (the filter goes in its where),
// or, when j is embedded with !inner, also its parent's, which keep the rows with a matching
// row of j, and so on up through !inner embeds, to the query's own rows (nil).
func scopeOf(j *join) *join {
	for j != nil && j.inner {
		j = j.parent
	}
	return j
}

// filter parses spec, [not.]op.value, as a condition on field f (of the join at, or the
// schema's own when at is nil); neg negates it (it is under a not.or or not.and). In a logic
// tree (inTree) a value may be double-quoted, to hold the tree's , ( and ).
func (p *parser) filter(param, name string, at *join, f *Field, spec string, neg, inTree bool) (*node, error) {
	opName, rest, ok := strings.Cut(spec, ".")
	label := opName
	if ok && opName == "not" {
		neg = !neg
		opName, rest, ok = strings.Cut(rest, ".")
		label = "not." + opName
	}
	if !ok {
		return nil, bad("%s: field %s: %s is not operator.value, such as eq.x", param, quote(name), quote(spec))
	}
	switch opName {
	case "is":
		return p.is(param, name, at, f, label, rest, neg)
	case "in":
		vals, err := inList(param, name, rest)
		if err != nil {
			return nil, err
		}
		return p.condition(param, name, at, f, postgrestOps["in"][b2i(neg)], label, vals)
	}
	ops, ok := postgrestOps[opName]
	if !ok {
		return nil, bad("%s: field %s: unknown operator %s", param, quote(name), quote(opName))
	}
	if inTree {
		rest = unquote(rest)
	}
	return p.condition(param, name, at, f, ops[b2i(neg)], label, []string{rest})
}

// is parses is.null, is.true and is.false (PostgreSQL's IS, which never yields NULL: so
// not.is.true holds for false and for NULL).
func (p *parser) is(param, name string, at *join, f *Field, label, v string, neg bool) (*node, error) {
	switch v = strings.ToLower(v); v {
	case "null":
		op := opIsNull
		if neg {
			op = operators["$notnull"]
		}
		return p.condition(param, name, at, f, op, label+".null", nil)
	case "true", "false":
		if f.Type != Bool {
			return nil, bad("%s: field %s: %s.%s applies to boolean fields, not to a %s", param, quote(name), label, v, f.Type)
		}
		if !neg {
			return p.condition(param, name, at, f, operators["$eq"], label, []string{v})
		}
		other := "true"
		if v == "true" {
			other = "false"
		}
		eq, err := p.condition(param, name, at, f, operators["$eq"], label, []string{other})
		if err != nil {
			return nil, err
		}
		null, err := p.condition(param, name, at, f, opIsNull, label, nil)
		if err != nil {
			return nil, err
		}
		return group(true, []*node{eq, null}), nil
	}
	return nil, bad("%s: field %s: is takes null, true or false, not %s", param, quote(name), quote(v))
}

// tree parses a logic tree, (item,item,…), whose items are conditions field.op.value and nested
// [not.]or(…) and [not.]and(…): an OR of them when or is set, else an AND; neg negates the
// whole (De Morgan: a negated OR is the AND of the negated items). Fields are those of the rows
// of scope (relation.or=…; nil: the query's own), or path.field for a relation embedded in them
// with !inner, where the tree filters scope's rows by it.
func (p *parser) tree(param string, scope *join, body string, or, neg bool, depth int) (*node, error) {
	if depth > maxDepth {
		return nil, bad("%s: nested more than %d levels deep", param, maxDepth)
	}
	if len(body) < 2 || body[0] != '(' || body[len(body)-1] != ')' {
		return nil, bad("%s: %s is not (condition,…)", param, quote(body))
	}
	items, ok := splitTop(body[1 : len(body)-1])
	if !ok {
		return nil, bad("%s: %s has unbalanced parentheses or quotes", param, quote(body))
	}
	kids := make([]*node, 0, len(items))
	for _, it := range items {
		itNeg, head := neg, it
		if rest, ok := strings.CutPrefix(head, "not."); ok && (strings.HasPrefix(rest, "or(") || strings.HasPrefix(rest, "and(")) {
			itNeg, head = !neg, rest
		}
		var n *node
		var err error
		switch {
		case strings.HasPrefix(head, "or("):
			n, err = p.tree(param, scope, head[2:], true, itNeg, depth+1)
		case strings.HasPrefix(head, "and("):
			n, err = p.tree(param, scope, head[3:], false, itNeg, depth+1)
		default:
			n, err = p.treeLeaf(param, scope, it, neg)
		}
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	return group(or != neg, kids), nil
}

// treeLeaf parses one condition of a logic tree, field.op.value or path.field.op.value.
func (p *parser) treeLeaf(param string, scope *join, it string, neg bool) (*node, error) {
	name, spec, _ := strings.Cut(it, ".")
	for s, seg := p.q.schemaOf(scope), name; s.relByName[seg] != nil; {
		s = s.relByName[seg].Schema
		seg, spec, _ = strings.Cut(spec, ".")
		name += "." + seg
	}
	at, f, err := p.field(param, scope, name)
	if err != nil {
		return nil, err
	}
	for j := at; j != scope; j = j.parent {
		if !j.inner {
			return nil, bad("%s: field %s: a relation's field in %s needs %s!inner(…) in select, to filter the parents", param, quote(name), param, j.rel.Name)
		}
	}
	return p.filter(param, name, at, f, spec, neg, true)
}

// inList reads in's (a,b,…): comma-separated values, double-quoted when they hold , ( ) or ".
func inList(param, name, v string) ([]string, error) {
	if len(v) < 2 || v[0] != '(' || v[len(v)-1] != ')' {
		return nil, bad("%s: field %s: in takes (a,b,…), not %s", param, quote(name), quote(v))
	}
	if v == "()" {
		return nil, nil // no value: a 400 from condition
	}
	items, ok := splitTop(v[1 : len(v)-1])
	if !ok {
		return nil, bad("%s: field %s: %s has unbalanced parentheses or quotes", param, quote(name), quote(v))
	}
	for i, it := range items {
		items[i] = unquote(it)
	}
	return items, nil
}

// splitTop splits s at the commas outside parentheses and double quotes (in which \ escapes the
// next character). ok is false when they don't balance.
func splitTop(s string) (items []string, ok bool) {
	depth, start, quoted := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case quoted:
		case c == '(':
			depth++
		case c == ')':
			if depth--; depth < 0 {
				return nil, false
			}
		case c == ',' && depth == 0:
			items = append(items, s[start:i])
			start = i + 1
		}
	}
	if quoted || depth != 0 {
		return nil, false
	}
	return append(items, s[start:]), true
}

// unquote removes the double quotes around a value and its backslash escapes.
func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	var b strings.Builder
	for i := 1; i < len(v)-1; i++ {
		if v[i] == '\\' && i+1 < len(v)-1 {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// parseSelect reads select=a,b,rel(c,d),rel!inner(*,rel2(e)): the fields (exactly those
// named, in schema order; * for all) and the embedded relations, at any depth up to
// maxJoinDepth, which it joins.
func (q *Query) parseSelect(raws []string) error {
	if len(raws) == 0 {
		q.fields = q.schema.fields
	}
	for _, raw := range raws {
		fields, err := q.selectList(nil, raw, 1)
		if err != nil {
			return err
		}
		q.fields = unionFields(q.schema, q.fields, fields)
	}
	return q.numberJoins("select")
}

// selectList reads one select list over the rows of j (nil: the query's own): fields, * and
// relations embedded at depth, rel(…), which it joins in j's rows. It returns the fields it
// selects: all with *, or when it names neither a field nor a relation (select=,), else those
// named (select=tasks(title) selects no field of the parent).
func (q *Query) selectList(j *join, list string, depth int) ([]*Field, error) {
	items, ok := splitTop(list)
	if !ok {
		return nil, bad("select: %s has unbalanced parentheses or quotes", quote(list))
	}
	s := q.schemaOf(j)
	want := map[*Field]bool{}
	star, named := false, false
	for _, it := range items {
		it = strings.TrimSpace(it)
		open := strings.IndexByte(it, '(')
		switch {
		case it == "":
			continue
		case it == "*":
			star = true
		case open >= 0:
			if err := q.embed(j, it[:open], it[open:], depth); err != nil {
				return nil, err
			}
		case strings.Contains(it, ":"):
			return nil, bad("select: %s: renaming and casts (alias:field, field::type) are not supported", quote(it))
		default:
			f, ok := s.byName[it]
			if !ok {
				return nil, bad("select: unknown field %s", quote(prefix(j)+it))
			}
			want[f] = true
		}
		named = true
	}
	if star || !named {
		return s.fields, nil
	}
	return slices.DeleteFunc(slices.Clone(s.fields), func(f *Field) bool { return !want[f] }), nil
}

// embed joins the relation of a select item in the rows of parent, head(body): head is
// relation, relation!inner or relation!left, body its select list, in parentheses.
func (q *Query) embed(parent *join, head, body string, depth int) error {
	name, hint, hinted := strings.Cut(head, "!")
	if strings.Contains(name, ":") {
		return bad("select: %s: renaming (alias:relation) is not supported", quote(head))
	}
	rel, ok := q.schemaOf(parent).relByName[name]
	if !ok {
		return bad("select: unknown relation %s", quote(prefix(parent)+name))
	}
	if depth > maxJoinDepth {
		return bad("select: %s nests embedded relations %d levels deep, more than %d", quote(prefix(parent)+name), depth, maxJoinDepth)
	}
	if hinted && hint != "inner" && hint != "left" {
		return bad("select: %s: unknown embedding hint %s (inner or left)", quote(name), quote("!"+hint))
	}
	if body[len(body)-1] != ')' {
		return bad("select: %s is not relation(fields)", quote(head+body))
	}
	list := strings.TrimSpace(body[1 : len(body)-1])
	if list == "" {
		return bad("select: %s(): name the fields, or *", name)
	}
	j := q.addJoin(parent, rel, nil)
	j.inner = j.inner || hint == "inner"
	fields, err := q.selectList(j, list, depth+1)
	if err != nil {
		return err
	}
	j.fields = unionFields(rel.Schema, j.fields, fields)
	return nil
}

// parseOrder reads order=field[.asc|.desc][.nullsfirst|.nullslast],…: NULL placement
// defaults to the nestjsx dialect's (last with asc, first with desc) and can be overridden,
// as in PostgREST; the keyset handles either.
func (q *Query) parseOrder(raws []string) error {
	for _, raw := range raws {
		for _, term := range strings.Split(raw, ",") {
			if term = strings.TrimSpace(term); term == "" {
				continue
			}
			if strings.ContainsAny(term, "()") {
				return bad("order: %s: ordering by an embedded relation's field is not supported", quote(term))
			}
			segs := strings.Split(term, ".")
			f, ok := q.schema.byName[segs[0]]
			if !ok {
				return bad("order: unknown field %s", quote(segs[0]))
			}
			if err := sortable("order", f); err != nil {
				return err
			}
			desc, nulls := false, ""
			for _, m := range segs[1:] {
				switch m {
				case "asc":
					desc = false
				case "desc":
					desc = true
				case "nullsfirst", "nullslast":
					nulls = m
				default:
					return bad("order: field %s: %s is not asc, desc, nullsfirst or nullslast", quote(segs[0]), quote(m))
				}
			}
			nullsFirst := desc
			if nulls != "" {
				nullsFirst = nulls == "nullsfirst"
			}
			q.addSort(f, desc, nullsFirst)
		}
	}
	q.endSort()
	return nil
}

// prefersCount reports whether the Prefer headers ask for the total: count=exact, or planned
// or estimated, which are answered exactly (a tenant's rows are few enough to count).
func prefersCount(prefer []string) bool {
	for _, h := range prefer {
		for _, pref := range strings.Split(h, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(pref), "=")
			if strings.EqualFold(strings.TrimSpace(k), "count") {
				switch strings.ToLower(strings.TrimSpace(v)) {
				case "exact", "planned", "estimated":
					return true
				}
			}
		}
	}
	return false
}
