package functions_test

// The list query parameters of the OpenAPI document (filter, or, s, fields, join, sort of each
// list) are generated from the allow-lists package query parses them against: a schema-driven
// fuzzer (scripts/schemathesis.sh) sends every value the document allows and expects it
// accepted, and values it forbids and expects them refused, so the document has to say exactly
// which fields, operators and values each list takes. TestOpenAPIListQueries fails when the
// document and the allow-lists disagree; rewrite the generated parts with
//
//	go test ./functions -run TestOpenAPIListQueries -update-openapi
//
// It also checks the grammar the patterns encode against the parser itself: an example of
// every field and operator group must match its pattern and be accepted by query.ParseRequest,
// so a change of the query syntax shows here, not only in the fuzzer.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"scaleapi/shared/organization"
	"scaleapi/shared/query"
)

var updateOpenAPI = flag.Bool("update-openapi", false, "rewrite the generated list query parts of shared/openapi/openapi.json")

const openAPIPath = "../shared/openapi/openapi.json"

// listResource is one list's allow-list as the document describes it.
type listResource struct {
	prefix    string // of the components: "projects" -> projectsFilter, projectsSearch
	schema    *query.Schema
	relations []listRelation
	ops       []string // operations that take the whole list query
	byID      []string // operations that take fields, join and cache (GET …/{id})
}

type listRelation struct {
	name   string
	fields []query.Field
}

// ownFields returns every field of s: a query without fields= selects them all.
func ownFields(t *testing.T, s *query.Schema) []query.Field {
	t.Helper()
	q, err := query.ParseRequest(httptest.NewRequest("GET", "/", nil), s)
	if err != nil {
		t.Fatal(err)
	}
	return q.Fields()
}

// assigneeFields are what join=assignee shows of a user. package schema keeps that allow-list
// unexported, so they are listed here and probed against the parser (checkRelation).
var assigneeFields = []query.Field{{Name: "id", Type: query.UUID}, {Name: "name", Type: query.Text}, {Name: "email", Type: query.Text}}

func listResources(t *testing.T) []listResource {
	t.Helper()
	orgs := ownFields(t, organization.Schema)
	projects := ownFields(t, projectsSchema)
	tasks := ownFields(t, tasksSchema)
	return []listResource{
		{prefix: "organizations", schema: organization.Schema, ops: []string{"getOrganizations"}},
		{prefix: "projects", schema: projectsSchema,
			relations: []listRelation{{"tasks", tasks}, {"organization", orgs}},
			ops:       []string{"getProjects"}, byID: []string{"getProjectsId"}},
		{prefix: "tasks", schema: tasksSchema,
			relations: []listRelation{{"project", projects}, {"organization", orgs}, {"assignee", assigneeFields}},
			ops:       []string{"getTasks", "getProjectsIdTasks"}, byID: []string{"getTasksId"}},
	}
}

// --- the grammar --------------------------------------------------------------------------

// Values as the parser takes them (query's canonical), each a subset where the exact set is
// not a regular language: dates up to the 28th (every month has one), years from 1000 (year 0
// does not exist in PostgreSQL), integers that fit in 63 bits, the hyphenated UUID.
const (
	reUUID  = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
	reDay   = `[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])`
	reClock = `T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])`
	reInt   = `-?[0-9]{1,18}`
	reText  = `[^\x00]` // one character of text: PostgreSQL text can't hold a NUL
	// maxListed bounds the values of a $in in a pattern (the parser takes 500; a pattern
	// repeating 500 times is only slower to match).
	maxListed = 50
)

// valueRE is one value of type t, for an operator that takes any value of the type.
func valueRE(f query.Field) string {
	switch f.Type {
	case query.UUID:
		return reUUID
	case query.Int:
		return reInt
	case query.Date:
		return `(?:` + reDay + `|-?infinity)`
	case query.Timestamptz:
		return `(?:` + reDay + `(?:` + reClock + `)?|-?infinity)`
	case query.Bool:
		return `(?:true|false)`
	}
	return reText + `+`
}

// eqRE is one value of an exact-match operator: an Enum's must be in its set, in any case for
// the L forms.
func eqRE(f query.Field, fold bool) string {
	if f.Type != query.Enum {
		return valueRE(f)
	}
	alts := make([]string, len(f.Values))
	for i, v := range f.Values {
		alts[i] = regexp.QuoteMeta(v)
		if fold {
			alts[i] = foldRE(v)
		}
	}
	return `(?:` + strings.Join(alts, "|") + `)`
}

// foldRE matches s in any case, spelled with character classes: not every regex dialect a
// validator uses has (?i).
func foldRE(s string) string {
	var b strings.Builder
	for _, r := range s {
		lo, up := strings.ToLower(string(r)), strings.ToUpper(string(r))
		if lo == up {
			b.WriteString(regexp.QuoteMeta(string(r)))
		} else {
			b.WriteString("[" + lo + up + "]")
		}
	}
	return b.String()
}

// listRE is a comma-separated list of one to maxListed values matching v; text values may
// themselves be anything but a NUL, commas included (they split into more values).
func listRE(f query.Field, v string) string {
	if f.Type == query.Text {
		return reText + `+`
	}
	return v + `(?:,` + v + `){0,` + strconv.Itoa(maxListed-1) + `}`
}

// pairRE is $between's two values: a text value can't hold the comma that separates them.
func pairRE(f query.Field) string {
	if textual(f) {
		return `[^\x00,]*,[^\x00,]*`
	}
	return valueRE(f) + `,` + valueRE(f)
}

func textual(f query.Field) bool { return f.Type == query.Text || f.Type == query.Enum }

// conditionAlternatives are the field||$op||value forms of the fields named by names (all of
// one type and value set, as f), one per operator group.
func conditionAlternatives(f query.Field, names string) []string {
	c := names + `\|\|`
	alts := []string{
		c + `\$?(?:eq|ne)\|\|` + eqRE(f, false),
		c + `\$?(?:gt|gte|lt|lte)\|\|` + valueRE(f),
		c + `\$?(?:in|notin)\|\|` + listRE(f, eqRE(f, false)),
		c + `\$?between\|\|` + pairRE(f),
		c + `\$?(?:isnull|notnull)(?:\|\|` + reText + `*)?`,
	}
	if textual(f) {
		alts = append(alts,
			c+`(?:\$?(?:starts|ends|cont|excl)|\$(?:startsL|endsL|contL|exclL))\|\|`+reText+`+`,
			c+`\$(?:eqL|neL)\|\|`+eqRE(f, true),
			c+`\$(?:inL|notinL)\|\|`+listRE(f, eqRE(f, true)),
		)
	}
	return alts
}

// typeKey groups fields that take the same values.
func typeKey(f query.Field) string { return f.Type.String() + ":" + strings.Join(f.Values, ",") }

// groups returns the fields grouped by typeKey, in the order of their first field.
func groups(fields []query.Field) [][]query.Field {
	var out [][]query.Field
	index := map[string]int{}
	for _, f := range fields {
		k := typeKey(f)
		if i, ok := index[k]; ok {
			out[i] = append(out[i], f)
			continue
		}
		index[k] = len(out)
		out = append(out, []query.Field{f})
	}
	return out
}

func namesRE(prefix string, fields []query.Field) string {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = regexp.QuoteMeta(prefix + f.Name)
	}
	return `(?:` + strings.Join(names, "|") + `)`
}

// conditionRE is the pattern of one filter= or or= value of r.
func conditionRE(r listResource, own []query.Field) string {
	var alts []string
	for _, g := range groups(own) {
		alts = append(alts, conditionAlternatives(g[0], namesRE("", g))...)
	}
	for _, rel := range r.relations {
		for _, g := range groups(rel.fields) {
			alts = append(alts, conditionAlternatives(g[0], namesRE(rel.name+".", g))...)
		}
	}
	return `^(?:` + strings.Join(alts, "|") + `)$`
}

// fieldListRE is a fields= list: names separated by commas, blanks around them and empty
// names ignored.
func fieldListRE(fields []query.Field) string {
	n := namesRE("", fields)
	return ` *` + n + `? *(?:, *` + n + `? *)*`
}

// --- the generated components ---------------------------------------------------------------

// ordered is a JSON object that keeps its keys' order, as the document is written.
type ordered struct {
	keys []string
	vals map[string]any
}

func obj(kv ...any) *ordered {
	o := &ordered{vals: map[string]any{}}
	for i := 0; i < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

func (o *ordered) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func num(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

func ref(kind, name string) *ordered { return obj("$ref", "#/components/"+kind+"/"+name) }

func patternString(re string) *ordered { return obj("type", "string", "pattern", re) }

// scalarSchema is an s value of f for an operator that compares it as a whole: a string, or
// for text and integers also a JSON number (and for text a boolean), which the parser reads
// as its text.
func scalarSchema(f query.Field, eq, fold bool) any {
	switch {
	case f.Type == query.Enum && eq && !fold:
		return obj("enum", slices.Clone(f.Values))
	case f.Type == query.Enum && eq:
		return patternString(`^` + eqRE(f, true) + `$`)
	case textual(f):
		return obj("anyOf", []any{patternString(`^` + reText + `*$`), obj("type", "number"), obj("type", "boolean")})
	case f.Type == query.Int:
		return obj("anyOf", []any{obj("type", "integer", "minimum", json.Number("-9223372036854775808"), "maximum", json.Number("9223372036854775807")),
			patternString(`^` + reInt + `$`)})
	}
	return patternString(`^` + valueRE(f) + `$`)
}

func orNull(s any) *ordered { return obj("anyOf", []any{s, obj("type", "null")}) }

// operatorsSchema is the object of operators an s field may take: {"$gte": …, "$lt": …}. The
// operators are keyed by pattern, one per group that takes the same values, so that a fuzzer
// explores a group once rather than each of its spellings.
func operatorsSchema(f query.Field) *ordered {
	props := &ordered{vals: map[string]any{}}
	list := func(fold bool) any {
		// A string is split at its commas, as in filter.
		asString := `^` + reText + `*$`
		if f.Type != query.Text {
			asString = `^` + listRE(f, eqRE(f, fold)) + `$`
		}
		return obj("anyOf", []any{
			obj("type", "array", "minItems", num(1), "maxItems", num(500), "items", scalarSchema(f, true, fold)),
			patternString(asString),
			obj("type", "null"),
		})
	}
	props.set(`^\$?(?:eq|ne)$`, orNull(scalarSchema(f, true, false)))
	props.set(`^\$?(?:gt|gte|lt|lte)$`, orNull(scalarSchema(f, false, false)))
	props.set(`^\$?(?:in|notin)$`, list(false))
	props.set(`^\$?(?:isnull|notnull)$`, obj("description", "Takes no value; whatever is given is ignored."))
	props.set(`^\$?between$`, obj("anyOf", []any{
		obj("type", "array", "minItems", num(2), "maxItems", num(2), "items", scalarSchema(f, false, false)),
		patternString(`^` + pairRE(f) + `$`),
		obj("type", "null"),
	}))
	if textual(f) {
		props.set(`^(?:\$?(?:starts|ends|cont|excl)|\$(?:startsL|endsL|contL|exclL))$`, orNull(scalarSchema(f, false, false)))
		props.set(`^\$(?:eqL|neL)$`, orNull(scalarSchema(f, true, true)))
		props.set(`^\$(?:inL|notinL)$`, list(true))
	}
	return obj("type", "object", "additionalProperties", false, "patternProperties", props)
}

// conditionSchemaName names the s condition schema of fields like f: one per type (and, for an
// enum, per value set), shared by every list.
func conditionSchemaName(f query.Field) string {
	name := map[query.Type]string{query.UUID: "Uuid", query.Text: "Text", query.Int: "Integer", query.Timestamptz: "Timestamp",
		query.Date: "Date", query.Bool: "Boolean", query.Enum: "Enum"}[f.Type]
	for _, v := range f.Values {
		for _, w := range strings.Split(v, "_") {
			name += strings.ToUpper(w[:1]) + w[1:]
		}
	}
	return "searchCondition" + name
}

// conditionSchema is what an s field of f's type takes: a value ($eq), null (IS NULL) or an
// object of operators.
func conditionSchema(f query.Field) *ordered {
	return obj("anyOf", []any{scalarSchema(f, true, false), obj("type", "null"), operatorsSchema(f)})
}

// searchSchemas returns r's s document: {R}Search, whose $and and $or hold {R}SearchTerm
// objects (the same fields, one level: the parser nests deeper, the document does not need to).
// Fields are keyed by pattern, one per type, each referring to its type's condition schema,
// which it adds to conditions.
func searchSchemas(r listResource, own []query.Field, conditions *ordered) (search, term *ordered) {
	all := slices.Clone(own)
	names := make([]string, len(own))
	for i, f := range own {
		names[i] = f.Name
	}
	for _, rel := range r.relations {
		for _, f := range rel.fields {
			all = append(all, f)
			names = append(names, rel.name+"."+f.Name)
		}
	}
	byType := &ordered{vals: map[string]any{}}
	keyOf := map[string][]string{} // condition schema -> field names
	for i, f := range all {
		n := conditionSchemaName(f)
		conditions.set(n, conditionSchema(f))
		if _, ok := keyOf[n]; !ok {
			byType.set(n, nil)
		}
		keyOf[n] = append(keyOf[n], regexp.QuoteMeta(names[i]))
	}
	fieldProps := &ordered{vals: map[string]any{}}
	for _, n := range byType.keys {
		fieldProps.set(`^(?:`+strings.Join(keyOf[n], "|")+`)$`, ref("schemas", n))
	}
	term = obj("type", "object", "additionalProperties", false, "patternProperties", fieldProps)
	termList := obj("type", "array", "items", ref("schemas", r.prefix+"SearchTerm"))
	search = obj("type", "object",
		"description", "The s parameter of "+r.prefix+": {\"field\": value} is $eq, {\"field\": null} IS NULL, {\"field\": {\"$op\": value}} any operator (several are AND-ed; a null value is IS NULL), $and and $or arrays of such objects. A joined relation's fields are named relation.field and need join=relation.",
		"additionalProperties", false,
		"properties", obj("$and", termList, "$or", termList),
		"patternProperties", fieldProps)
	return search, term
}

func queryParam(name, in, desc string, schema any) *ordered {
	return obj("name", name, "in", in, "required", false, "description", desc, "schema", schema)
}

func array(item any) *ordered { return obj("type", "array", "maxItems", num(100), "items", item) }

// generated returns the components the generator owns, by section and name.
func generated(t *testing.T) map[string]*ordered {
	t.Helper()
	params, schemas := &ordered{vals: map[string]any{}}, &ordered{vals: map[string]any{}}
	conditions := &ordered{vals: map[string]any{}}
	for _, r := range listResources(t) {
		own := ownFields(t, r.schema)
		var rels []string
		for _, rel := range r.relations {
			rels = append(rels, rel.name)
		}
		relNote := ""
		if len(rels) > 0 {
			relNote = " A joined relation's fields are named relation.field (" + strings.Join(rels, ", ") + ") and need join=relation; the condition then keeps the rows with a matching related row, whose joined list holds only the matching ones."
		}
		schemas.set(r.prefix+"Condition", obj("type", "string",
			"description", "One filter or or condition of "+r.prefix+", field||$op||value; generated from its allow-list (functions/openapi_query_test.go).",
			"pattern", conditionRE(r, own)))
		cond := array(ref("schemas", r.prefix+"Condition"))
		p := queryParam("filter", "query", "field||$op||value, repeatable, AND-ed; filter and or together hold at most 100 conditions, and a query's parameters at most 32 KiB. Operators: $eq $ne $gt $gte $lt $lte $in $notin $between $isnull $notnull on every field, and on text $starts $ends $cont $excl and the case-insensitive $eqL $neL $startsL $endsL $contL $exclL $inL $notinL (also without $, as old clients send them). $in, $notin and $between take comma-separated values; $between includes both ends. Values are the field's type (a UUID, an RFC 3339 time or YYYY-MM-DD date, an integer; an enum's $eq/$ne/$in/$notin value one of its values). Differences from the reference (nestjsx/crud), where it is buggy: the L operators lower-case both sides; % and _ are literal in $cont/$starts/$ends/$excl; an unknown field or operator, or a malformed value, is a 400 naming it."+relNote, cond)
		p.set("allowEmptyValue", true)
		params.set(r.prefix+"Filter", p)
		p = queryParam("or", "query", "field||$op||value as in filter, repeatable: (all filters AND-ed) OR (all ors AND-ed).", cond)
		p.set("allowEmptyValue", true)
		params.set(r.prefix+"Or", p)
		params.set(r.prefix+"S", obj("name", "s", "in", "query", "required", false,
			"description", "JSON search, which replaces filter and or; see "+r.prefix+"Search. At most 100 conditions and 16 levels deep. Not JSON, or not an object, is a 400.",
			"content", obj("application/json", obj("schema", ref("schemas", r.prefix+"Search")))))
		p = queryParam("fields", "query", "Comma-separated fields to return; id is always included. An unknown field is a 400 (the reference drops it silently).",
			array(patternString(`^`+fieldListRE(own)+`$`)))
		p.set("allowEmptyValue", true)
		params.set(r.prefix+"Fields", p)
		if len(r.relations) > 0 {
			var alts []string
			for _, rel := range r.relations {
				alts = append(alts, regexp.QuoteMeta(rel.name)+`(?:\|\|`+fieldListRE(rel.fields)+`)?`)
			}
			p = queryParam("join", "query", "A relation to load in the same query ("+strings.Join(rels, ", ")+"), optionally with the fields to load: relation||a,b. Repeatable. An unknown relation or field is a 400 (the reference drops it silently).",
				array(patternString(`^(?:`+strings.Join(alts, "|")+`)$`)))
			p.set("allowEmptyValue", true)
			params.set(r.prefix+"Join", p)
		}
		p = queryParam("sort", "query", "field,ASC|DESC (any case; ASC when left out), repeatable; every field sorts. NULLs last with ASC, first with DESC; id breaks ties.",
			array(patternString(`^`+namesRE("", own)+`(?:, *(?:[aA][sS][cC]|[dD][eE][sS][cC])? *)?$`)))
		p.set("allowEmptyValue", true)
		params.set(r.prefix+"Sort", p)
		search, term := searchSchemas(r, own, conditions)
		schemas.set(r.prefix+"Search", search)
		schemas.set(r.prefix+"SearchTerm", term)
	}
	for _, k := range conditions.keys {
		schemas.set(k, conditions.vals[k])
	}
	return map[string]*ordered{"parameters": params, "schemas": schemas}
}

// listParams are the parameters each list operation takes, in order.
func listParams(r listResource, byID bool) []string {
	names := []string{r.prefix + "Fields"}
	if len(r.relations) > 0 {
		names = append(names, r.prefix+"Join")
	}
	if byID {
		return append(names, "cache")
	}
	names = append([]string{r.prefix + "Filter", r.prefix + "Or", r.prefix + "S"}, names...)
	return append(names, r.prefix+"Sort", "limit", "page", "offset", "cursor", "cache", "XCrudDialect", "Prefer")
}

func TestOpenAPIListQueries(t *testing.T) {
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := decodeOrdered(raw)
	if err != nil {
		t.Fatal(err)
	}
	components := doc.(*ordered).vals["components"].(*ordered)
	gen := generated(t)
	changed := false
	for _, section := range []string{"parameters", "schemas"} {
		have := components.vals[section].(*ordered)
		for _, name := range gen[section].keys {
			want := gen[section].vals[name]
			if got, ok := have.vals[name]; !ok || encodeOrdered(got, 0) != encodeOrdered(want, 0) {
				changed = true
				if !*updateOpenAPI {
					t.Errorf("components.%s.%s is not what the allow-lists generate; run go test ./functions -run TestOpenAPIListQueries -update-openapi", section, name)
				}
				have.set(name, want)
			}
		}
	}
	if changed && *updateOpenAPI {
		if err := os.WriteFile(openAPIPath, []byte(encodeOrdered(doc, 0)), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", openAPIPath)
	}

	// Every list operation takes exactly its list's parameters.
	ops := map[string]*ordered{}
	for _, path := range doc.(*ordered).vals["paths"].(*ordered).keys {
		item := doc.(*ordered).vals["paths"].(*ordered).vals[path].(*ordered)
		for _, m := range item.keys {
			o := item.vals[m].(*ordered)
			ops[o.vals["operationId"].(string)] = o
		}
	}
	for _, r := range listResources(t) {
		for _, byID := range []bool{false, true} {
			list := r.ops
			if byID {
				list = r.byID
			}
			for _, id := range list {
				var got []string
				params, _ := ops[id].vals["parameters"].([]any)
				for _, p := range params {
					if ref, ok := p.(*ordered).vals["$ref"].(string); ok {
						got = append(got, strings.TrimPrefix(ref, "#/components/parameters/"))
					}
				}
				got = slices.DeleteFunc(got, func(n string) bool { return n == "IfNoneMatch" })
				if want := listParams(r, byID); !slices.Equal(got, want) {
					t.Errorf("%s takes %v, want %v", id, got, want)
				}
			}
		}
		checkGrammar(t, r)
	}
}

// checkGrammar tries an example of every field and operator group of r: each must match the
// document's pattern and be accepted by the parser; and a few near misses must be refused.
func checkGrammar(t *testing.T, r listResource) {
	t.Helper()
	own := ownFields(t, r.schema)
	re := regexp.MustCompile(conditionRE(r, own))
	example := func(f query.Field) string {
		switch f.Type {
		case query.UUID:
			return "3b241101-e2bb-4255-8caf-4136c566a962"
		case query.Int:
			return "-42"
		case query.Date:
			return "2024-02-28"
		case query.Timestamptz:
			return "2024-02-28T10:11:12.5+01:00"
		case query.Bool:
			return "true"
		case query.Enum:
			return f.Values[len(f.Values)-1]
		}
		return "50% of, it"
	}
	try := func(values url.Values, accept bool) {
		t.Helper()
		_, err := query.ParseRequest(httptest.NewRequest("GET", "/?"+values.Encode(), nil), r.schema)
		if accept && err != nil {
			t.Errorf("%s: %s is refused: %v", r.prefix, values.Encode(), err)
		} else if !accept && err == nil {
			t.Errorf("%s: %s is accepted", r.prefix, values.Encode())
		}
	}
	cases := func(prefix string, f query.Field) (ok, bad []string) {
		v, n := example(f), prefix+f.Name
		pv := strings.ReplaceAll(v, ",", "") // a comma would split it into a third value
		ok = []string{n + "||$eq||" + v, n + "||ne||" + v, n + "||$lte||" + v, n + "||$in||" + v + "," + v,
			n + "||$between||" + pv + "," + pv, n + "||$isnull", n + "||notnull||ignored"}
		bad = []string{n + "||$nope||" + v, n + "||$eq", "nope" + n + "||$eq||" + v}
		if textual(f) {
			ok = append(ok, n+"||$contL||"+v, n+"||$eqL||"+strings.ToUpper(v), n+"||$notinL||"+strings.ToUpper(v))
		} else {
			bad = append(bad, n+"||$starts||"+v, n+"||$eqL||"+v)
		}
		switch f.Type {
		case query.Enum:
			bad = append(bad, n+"||$eq||"+v+"x", n+"||$in||"+v+",x")
		case query.UUID, query.Int, query.Date, query.Timestamptz:
			bad = append(bad, n+"||$eq||x", n+"||$between||"+v)
		}
		return ok, bad
	}
	check := func(join string, prefix string, f query.Field) {
		ok, bad := cases(prefix, f)
		for _, c := range ok {
			if !re.MatchString(c) {
				t.Errorf("%s: the filter pattern does not match %q", r.prefix, c)
			}
			vals := url.Values{"filter": {c}}
			if join != "" {
				vals.Set("join", join)
			}
			try(vals, true)
		}
		for _, c := range bad {
			if re.MatchString(c) {
				t.Errorf("%s: the filter pattern matches %q", r.prefix, c)
			}
			vals := url.Values{"filter": {c}}
			if join != "" {
				vals.Set("join", join)
			}
			try(vals, false)
		}
	}
	for _, f := range own {
		check("", "", f)
		try(url.Values{"sort": {f.Name + ",desc"}, "fields": {f.Name}}, true)
		try(url.Values{"s": {`{"` + f.Name + `":null}`}}, true)
	}
	try(url.Values{"sort": {"nope"}}, false)
	try(url.Values{"fields": {"id,nope"}}, false)
	for _, rel := range r.relations {
		names := make([]string, len(rel.fields))
		for i, f := range rel.fields {
			names[i] = f.Name
			check(rel.name, rel.name+".", f)
		}
		try(url.Values{"join": {rel.name + "||" + strings.Join(names, ",")}}, true)
		try(url.Values{"join": {rel.name + "||nope"}}, false)
		// A relation's field without its join is refused (the hooks add the join).
		try(url.Values{"filter": {rel.name + "." + rel.fields[0].Name + "||$isnull"}}, false)
	}
	try(url.Values{"join": {"nope"}}, false)
}

// --- the document's own JSON formatting ------------------------------------------------------

// decodeOrdered decodes JSON keeping the order of object keys (and numbers as written).
func decodeOrdered(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := decodeValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the document")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		o := &ordered{vals: map[string]any{}}
		for dec.More() {
			k, err := dec.Token()
			if err != nil {
				return nil, err
			}
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			o.set(k.(string), v)
		}
		_, err := dec.Token()
		return o, err
	case json.Delim('['):
		a := []any{}
		for dec.More() {
			v, err := decodeValue(dec)
			if err != nil {
				return nil, err
			}
			a = append(a, v)
		}
		_, err := dec.Token()
		return a, err
	}
	return tok, nil
}

// encodeOrdered writes v as the document is written (Python's json.dumps(indent=1), ASCII
// only), so that a rewrite changes only what the generator changed.
func encodeOrdered(v any, depth int) string {
	pad := strings.Repeat(" ", depth+1)
	end := strings.Repeat(" ", depth)
	switch x := v.(type) {
	case *ordered:
		if len(x.keys) == 0 {
			return "{}"
		}
		parts := make([]string, len(x.keys))
		for i, k := range x.keys {
			parts[i] = pad + quoteJSON(k) + ": " + encodeOrdered(x.vals[k], depth+1)
		}
		return "{\n" + strings.Join(parts, ",\n") + "\n" + end + "}"
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = pad + encodeOrdered(e, depth+1)
		}
		return "[\n" + strings.Join(parts, ",\n") + "\n" + end + "]"
	case []string:
		a := make([]any, len(x))
		for i, s := range x {
			a[i] = s
		}
		return encodeOrdered(a, depth)
	case string:
		return quoteJSON(x)
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return "null"
	}
	panic(fmt.Sprintf("encodeOrdered: %T", v))
}

// quoteJSON quotes s as Python's json module does with ensure_ascii.
func quoteJSON(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r >= 0x20 && r <= 0x7e:
			b.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			if r == utf8.RuneError {
				r = 0xfffd
			}
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// projectsSchema and tasksSchema are the root schema's allow-lists, as the engine derives them.
var projectsSchema, tasksSchema = func() (*query.Schema, *query.Schema) {
	eng := rootEngine()
	p, _ := eng.QuerySchema("Project")
	t, _ := eng.QuerySchema("Task")
	return p, t
}()
