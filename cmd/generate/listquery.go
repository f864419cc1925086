package main

import (
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"scaleapi/shared/query"
)

// The list query parameters of the document (filter, or, s, fields, join and sort of each
// list) are generated from the allow-lists package query parses them against, the engine's
// (resource.Engine.QuerySchema) and organizations' (organization.Schema): a schema-driven
// fuzzer (scripts/schemathesis.sh) sends every value the document allows and expects it
// accepted, and values it forbids and expects them refused, so the document has to say exactly
// which fields, operators and values each list takes. TestListGrammar checks the patterns
// against the parser itself.

// listResource is one list's allow-list as the document describes it.
type listResource struct {
	prefix    string // of the components: "projects" -> projectsFilter, projectsSearch
	own       []query.Field
	relations []listRelation
}

type listRelation struct {
	name   string
	fields []query.Field
}

// newListResource describes the lists of s under prefix.
func newListResource(prefix string, s *query.Schema) listResource {
	r := listResource{prefix: prefix, own: ownFields(s)}
	for _, rel := range s.Relations() {
		r.relations = append(r.relations, listRelation{name: rel.Name, fields: ownFields(rel.Schema)})
	}
	return r
}

// ownFields returns every field of s, in its order: what a query without fields= selects.
func ownFields(s *query.Schema) []query.Field {
	q, err := query.ParseRequest(httptest.NewRequest("GET", "/", nil), s)
	if err != nil {
		panic("generate: a query without parameters is refused: " + err.Error()) // query's own invariant
	}
	return q.Fields()
}

// --- the grammar --------------------------------------------------------------------------

// Values as the parser takes them (query's canonical), each a subset where the exact set is
// not a regular language: dates up to the 28th (every month has one), years from 1000 (year 0
// does not exist in PostgreSQL), integers that fit in 63 bits, the hyphenated UUID, numbers
// short enough to stay finite.
const (
	reUUID    = `[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`
	reDay     = `[1-9][0-9]{3}-(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])`
	reClock   = `T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])`
	reInt     = `-?[0-9]{1,18}`
	reFloat   = `-?[0-9]{1,15}(?:\.[0-9]{1,15})?(?:[eE][+-]?[0-9]{1,2})?`
	reNumeric = `-?[0-9]{1,20}(?:\.[0-9]{1,20})?`
	reText    = `[^\x00]` // one character of text: PostgreSQL text can't hold a NUL
	// maxListed bounds the values of a $in in a pattern (the parser takes 500; a pattern
	// repeating 500 times is only slower to match).
	maxListed = 50
)

// valueRE is one value of f's type, for an operator that takes any value of the type.
func valueRE(f query.Field) string {
	switch f.Type {
	case query.UUID:
		return reUUID
	case query.Int:
		return reInt
	case query.Float:
		return reFloat
	case query.Numeric:
		return reNumeric
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
// one type and value set, as f), one per operator group. A JSON field filters on null only.
func conditionAlternatives(f query.Field, names string) []string {
	c := names + `\|\|`
	null := c + `\$?(?:isnull|notnull)(?:\|\|` + reText + `*)?`
	if f.Type == query.JSON {
		return []string{null}
	}
	alts := []string{
		c + `\$?(?:eq|ne)\|\|` + eqRE(f, false),
		c + `\$?(?:gt|gte|lt|lte)\|\|` + valueRE(f),
		c + `\$?(?:in|notin)\|\|` + listRE(f, eqRE(f, false)),
		c + `\$?between\|\|` + pairRE(f),
		null,
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
func conditionRE(r listResource) string {
	var alts []string
	for _, g := range groups(r.own) {
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

// sortable are the fields a sort= may name: all but JSON ones.
func sortable(fields []query.Field) []query.Field {
	return slices.DeleteFunc(slices.Clone(fields), func(f query.Field) bool { return f.Type == query.JSON })
}

// --- the generated components ---------------------------------------------------------------

func patternString(re string) *ordered { return obj("type", "string", "pattern", re) }

// scalarSchema is an s value of f for an operator that compares it as a whole: a string, or
// what the parser reads as the same text (a JSON number for text and numbers, a boolean for
// text and booleans).
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
	case f.Type == query.Float:
		return obj("anyOf", []any{obj("type", "number"), patternString(`^` + reFloat + `$`)})
	case f.Type == query.Numeric:
		// A JSON number is read as written: in plain digits, as an integer of up to 15 of them.
		return obj("anyOf", []any{obj("type", "integer", "minimum", json.Number("-999999999999999"), "maximum", json.Number("999999999999999")),
			patternString(`^` + reNumeric + `$`)})
	case f.Type == query.Bool:
		return obj("anyOf", []any{obj("type", "boolean"), patternString(`^` + valueRE(f) + `$`)})
	}
	return patternString(`^` + valueRE(f) + `$`)
}

func orNull(s any) *ordered { return obj("anyOf", []any{s, obj("type", "null")}) }

// operatorsSchema is the object of operators an s field may take: {"$gte": …, "$lt": …}. The
// operators are keyed by pattern, one per group that takes the same values, so that a fuzzer
// explores a group once rather than each of its spellings.
func operatorsSchema(f query.Field) *ordered {
	props := &ordered{vals: map[string]any{}}
	null := obj("description", "Takes no value; whatever is given is ignored.", "$ref", "#/components/schemas/"+searchIgnored)
	if f.Type == query.JSON {
		props.set(`^\$?(?:isnull|notnull)$`, null)
		return obj("type", "object", "additionalProperties", false, "patternProperties", props)
	}
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
	props.set(`^\$?(?:isnull|notnull)$`, null)
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

// searchIgnored names the schema of a value the parser ignores ($isnull's): any JSON value, but
// one whose strings (keys too) are text, as in all of s: NUL is a 400 wherever it is.
const searchIgnored = "searchIgnoredValue"

// ignoredSchema is searchIgnored's schema.
func ignoredSchema() *ordered {
	text := `^[^\x00]*$`
	self := ref("schemas", searchIgnored)
	return obj("anyOf", []any{
		obj("type", []any{"null", "boolean", "number"}),
		patternString(text),
		obj("type", "array", "items", self),
		obj("type", "object", "propertyNames", obj("pattern", text), "additionalProperties", self),
	})
}

// conditionSchemaName names the s condition schema of fields like f: one per type (and, for an
// enum, per value set), shared by every list.
func conditionSchemaName(f query.Field) string {
	name := map[query.Type]string{query.UUID: "Uuid", query.Text: "Text", query.Int: "Integer", query.Timestamptz: "Timestamp",
		query.Date: "Date", query.Bool: "Boolean", query.Enum: "Enum", query.Float: "Float", query.Numeric: "Numeric", query.JSON: "Json"}[f.Type]
	for _, v := range f.Values {
		name += pathWords(v)
	}
	return "searchCondition" + name
}

// conditionSchema is what an s field of f's type takes: a value ($eq), null (IS NULL) or an
// object of operators; a JSON field's, null or an object of $isnull and $notnull.
func conditionSchema(f query.Field) *ordered {
	if f.Type == query.JSON {
		return obj("anyOf", []any{obj("type", "null"), operatorsSchema(f)})
	}
	return obj("anyOf", []any{scalarSchema(f, true, false), obj("type", "null"), operatorsSchema(f)})
}

// searchSchemas returns r's s document: {R}Search, whose $and and $or hold {R}SearchTerm
// objects (the same fields, one level: the parser nests deeper, the document does not need to).
// Fields are keyed by pattern, one per type, each referring to its type's condition schema,
// which it adds to conditions.
func searchSchemas(r listResource, conditions *ordered) (search, term *ordered) {
	all := slices.Clone(r.own)
	names := make([]string, len(r.own))
	for i, f := range r.own {
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
		n, c := conditionSchemaName(f), conditionSchema(f)
		// Two value sets can spell one name ("a-b" and "a_b"): the second gets a number.
		for k := 2; conditions.vals[n] != nil && string(encodeOrdered(conditions.vals[n])) != string(encodeOrdered(c)); k++ {
			n = conditionSchemaName(f) + strconv.Itoa(k)
		}
		conditions.set(n, c)
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

func queryParam(name, desc string, schema any) *ordered {
	return obj("name", name, "in", "query", "required", false, "description", desc, "schema", schema)
}

func array(item any) *ordered { return obj("type", "array", "maxItems", num(100), "items", item) }

// listComponents adds the parameters and schemas of the lists of rs to params and schemas:
// {R}Filter, {R}Or, {R}S, {R}Fields, {R}Join (a list with relations), {R}Sort, and the
// schemas they refer to.
func listComponents(rs []listResource, params, schemas *ordered) {
	conditions := &ordered{vals: map[string]any{}}
	for _, r := range rs {
		var rels []string
		for _, rel := range r.relations {
			rels = append(rels, rel.name)
		}
		relNote := ""
		if len(rels) > 0 {
			relNote = " A joined relation's fields are named relation.field (" + strings.Join(rels, ", ") + ") and need join=relation; the condition then keeps the rows with a matching related row, whose joined list holds only the matching ones."
		}
		schemas.set(r.prefix+"Condition", obj("type", "string",
			"description", "One filter or or condition of "+r.prefix+", field||$op||value; generated from its allow-list (cmd/generate).",
			"pattern", conditionRE(r)))
		cond := array(ref("schemas", r.prefix+"Condition"))
		p := queryParam("filter", "field||$op||value, repeatable, AND-ed; filter and or together hold at most 100 conditions, and a query's parameters at most 32 KiB. Operators: $eq $ne $gt $gte $lt $lte $in $notin $between $isnull $notnull on every field (on a json field only $isnull and $notnull), and on text $starts $ends $cont $excl and the case-insensitive $eqL $neL $startsL $endsL $contL $exclL $inL $notinL (also without $, as old clients send them). $in, $notin and $between take comma-separated values; $between includes both ends. Values are the field's type (a UUID, an RFC 3339 time or YYYY-MM-DD date, an integer, a number; an enum's $eq/$ne/$in/$notin value one of its values). Differences from the reference (nestjsx/crud), where it is buggy: the L operators lower-case both sides; % and _ are literal in $cont/$starts/$ends/$excl; an unknown field or operator, or a malformed value, is a 400 naming it."+relNote, cond)
		p.set("allowEmptyValue", true)
		params.set(r.prefix+"Filter", p)
		p = queryParam("or", "field||$op||value as in filter, repeatable: (all filters AND-ed) OR (all ors AND-ed).", cond)
		p.set("allowEmptyValue", true)
		params.set(r.prefix+"Or", p)
		params.set(r.prefix+"S", obj("name", "s", "in", "query", "required", false,
			"description", "JSON search, which replaces filter and or; see "+r.prefix+"Search. At most 100 conditions and 16 levels deep. Not JSON, or not an object, is a 400.",
			"content", obj("application/json", obj("schema", ref("schemas", r.prefix+"Search")))))
		p = queryParam("fields", "Comma-separated fields to return; id is always included. An unknown field is a 400 (the reference drops it silently).",
			array(patternString(`^`+fieldListRE(r.own)+`$`)))
		p.set("allowEmptyValue", true)
		params.set(r.prefix+"Fields", p)
		if len(r.relations) > 0 {
			var alts []string
			for _, rel := range r.relations {
				alts = append(alts, regexp.QuoteMeta(rel.name)+`(?:\|\|`+fieldListRE(rel.fields)+`)?`)
			}
			p = queryParam("join", "A relation to load in the same query ("+strings.Join(rels, ", ")+"), optionally with the fields to load: relation||a,b. Repeatable. An unknown relation or field is a 400 (the reference drops it silently).",
				array(patternString(`^(?:`+strings.Join(alts, "|")+`)$`)))
			p.set("allowEmptyValue", true)
			params.set(r.prefix+"Join", p)
		}
		p = queryParam("sort", "field,ASC|DESC (any case; ASC when left out), repeatable; every field but a json one sorts. NULLs last with ASC, first with DESC; id breaks ties.",
			array(patternString(`^`+namesRE("", sortable(r.own))+`(?:, *(?:[aA][sS][cC]|[dD][eE][sS][cC])? *)?$`)))
		p.set("allowEmptyValue", true)
		params.set(r.prefix+"Sort", p)
		search, term := searchSchemas(r, conditions)
		schemas.set(r.prefix+"Search", search)
		schemas.set(r.prefix+"SearchTerm", term)
	}
	for _, k := range conditions.keys {
		schemas.set(k, conditions.vals[k])
	}
	schemas.set(searchIgnored, ignoredSchema())
}

// listParams are the parameters a list operation of r takes (byID: GET …/{id}), in order.
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
