package query

import (
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"scaleapi/shared/fault"
)

const (
	id1 = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	id2 = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c"
)

// request builds the GET request of a list query, raw a query string, with header key, value
// pairs.
func request(raw string, header ...string) *http.Request {
	r := &http.Request{Method: "GET", URL: &url.URL{Path: "/", RawQuery: raw}, Header: http.Header{}}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

// parse parses a query string against s with ParseRequest.
func parse(raw string, s *Schema, header ...string) (*Query, error) {
	return ParseRequest(request(raw, header...), s)
}

func mustParse(t *testing.T, raw string, s *Schema, header ...string) *Query {
	t.Helper()
	q, err := parse(raw, s, header...)
	if err != nil {
		t.Fatalf("ParseRequest(%q): %v", raw, err)
	}
	return q
}

// icu is how the SQL names the collation text folds and sorts under.
const icu = `"und-x-icu"`

// where renders the WHERE fragment after one scope value, as a store does, so that the tests
// also check that placeholders continue after the store's own.
func where(q *Query) (string, []any) {
	args := Args{"scope"}
	sql := q.Where("p", &args)
	return sql, args[1:]
}

func TestParseWhere(t *testing.T) {
	cases := []struct {
		name, query string
		sql         string
		args        []any
	}{
		{"None", "", "TRUE", nil},
		{"Eq", "filter=name||$eq||Apollo", "p.name = $2::text", []any{"Apollo"}},
		{"EqDeprecatedSpelling", "filter=name||eq||Apollo", "p.name = $2::text", []any{"Apollo"}},
		{"ValueKeepsDelimiter", "filter=name||$eq||a||b", "p.name = $2::text", []any{"a||b"}},
		{"Ne", "filter=version||$ne||3", "p.version <> $2::bigint", []any{"3"}},
		{"GtCanonicalInt", "filter=version||$gt||%2B007", "p.version > $2::bigint", []any{"7"}},
		{"Gte", "filter=createdAt||$gte||2024-01-02T03:04:05%2B02:00", "p.created_at >= $2::timestamptz", []any{"2024-01-02T01:04:05Z"}},
		{"LtBareDate", "filter=createdAt||$lt||2024-01-02", "p.created_at < $2::timestamptz", []any{"2024-01-02T00:00:00Z"}},
		{"Lte", "filter=id||$lte||" + strings.ToUpper(id1), "p.id <= $2::uuid", []any{id1}},
		{"Starts", "filter=name||$starts||a%25b_c\\", `p.name LIKE $2::text ESCAPE '\'`, []any{`a\%b\_c\\%`}},
		{"Ends", "filter=name||$ends||x", `p.name LIKE $2::text ESCAPE '\'`, []any{"%x"}},
		{"Cont", "filter=name||$cont||50%25", `p.name LIKE $2::text ESCAPE '\'`, []any{`%50\%%`}},
		{"Excl", "filter=description||$excl||x", `p.description NOT LIKE $2::text ESCAPE '\'`, []any{"%x%"}},
		{"In", "filter=status||$in||active,planning", "p.status = ANY($2::text[])", []any{[]string{"active", "planning"}}},
		{"NotIn", "filter=id||$notin||" + id1 + "," + id2, "p.id <> ALL($2::uuid[])", []any{[]string{id1, id2}}},
		{"IsNull", "filter=description||$isnull", "p.description IS NULL", nil},
		{"IsNullIgnoresValue", "filter=description||$isnull||whatever", "p.description IS NULL", nil},
		{"NotNull", "filter=description||$notnull", "p.description IS NOT NULL", nil},
		{"Between", "filter=version||$between||1,5", "(p.version BETWEEN $2::bigint AND $3::bigint)", []any{"1", "5"}},
		{"EqL", "filter=name||$eqL||APOLLO", "lower(p.name COLLATE " + icu + ") = lower($2::text COLLATE " + icu + ")", []any{"APOLLO"}},
		{"EqLEnumFolds", "filter=status||$eqL||Active", "lower(p.status COLLATE " + icu + ") = lower($2::text COLLATE " + icu + ")", []any{"Active"}},
		{"NeL", "filter=name||$neL||x", "lower(p.name COLLATE " + icu + ") <> lower($2::text COLLATE " + icu + ")", []any{"x"}},
		{"StartsL", "filter=name||$startsL||Ap", "lower(p.name COLLATE " + icu + ") LIKE lower($2::text COLLATE " + icu + `) ESCAPE '\'`, []any{"Ap%"}},
		{"EndsL", "filter=name||$endsL||LO", "lower(p.name COLLATE " + icu + ") LIKE lower($2::text COLLATE " + icu + `) ESCAPE '\'`, []any{"%LO"}},
		{"ContL", "filter=name||$contL||_", "lower(p.name COLLATE " + icu + ") LIKE lower($2::text COLLATE " + icu + `) ESCAPE '\'`, []any{`%\_%`}},
		{"ExclL", "filter=name||$exclL||x", "lower(p.name COLLATE " + icu + ") NOT LIKE lower($2::text COLLATE " + icu + `) ESCAPE '\'`, []any{"%x%"}},
		{"InL", "filter=name||$inL||A,b", "lower(p.name COLLATE " + icu + ") = ANY(SELECT lower(v COLLATE " + icu + ") FROM unnest($2::text[]) AS v)", []any{[]string{"A", "b"}}},
		{"NotInL", "filter=name||$notinL||A", "lower(p.name COLLATE " + icu + ") <> ALL(SELECT lower(v COLLATE " + icu + ") FROM unnest($2::text[]) AS v)", []any{[]string{"A"}}},
		{"GtTextCollated", "filter=name||$gt||M", "p.name COLLATE " + icu + " > $2::text", []any{"M"}},
		{"BetweenTextCollated", "filter=name||$between||a,m", "(p.name COLLATE " + icu + " BETWEEN $2::text AND $3::text)", []any{"a", "m"}},
		{"FiltersAnd", "filter=name||$eq||a&filter=version||$gt||1", "(p.name = $2::text AND p.version > $3::bigint)", []any{"a", "1"}},
		{"OrsAloneOr", "or=name||$eq||a&or=name||$eq||b", "(p.name = $2::text OR p.name = $3::text)", []any{"a", "b"}},
		{"OneFilterOneOr", "filter=name||$eq||a&or=version||$eq||1", "(p.name = $2::text OR p.version = $3::bigint)", []any{"a", "1"}},
		{"FiltersOrOrs",
			"filter=name||$eq||a&filter=version||$eq||1&or=name||$eq||b&or=version||$eq||2",
			"((p.name = $2::text AND p.version = $3::bigint) OR (p.name = $4::text AND p.version = $5::bigint))",
			[]any{"a", "1", "b", "2"}},
		{"BracketedNames", "filter[1]=version||$eq||2&filter[0]=name||$eq||a&filter[]=status||$eq||active",
			"(p.status = $2::text AND p.name = $3::text AND p.version = $4::bigint)", []any{"active", "a", "2"}},
		{"SearchOverridesFilter", `s={"name":"x"}&filter=version||$eq||1`, "p.name = $2::text", []any{"x"}},
		{"SearchScalarIsEq", `s={"version":3,"name":"a"}`, "(p.version = $2::bigint AND p.name = $3::text)", []any{"3", "a"}},
		{"SearchOperatorsAnded", `s={"version":{"$gt":1,"$lt":5}}`, "(p.version > $2::bigint AND p.version < $3::bigint)", []any{"1", "5"}},
		{"SearchFieldOr", `s={"description":{"$or":{"$isnull":true,"$cont":"x"}}}`,
			`(p.description IS NULL OR p.description LIKE $2::text ESCAPE '\')`, []any{"%x%"}},
		{"SearchNested", `s={"$or":[{"name":"a"},{"$and":[{"version":{"$gte":2}},{"status":{"$in":["active","archived"]}}]}]}`,
			"(p.name = $2::text OR (p.version >= $3::bigint AND p.status = ANY($4::text[])))", []any{"a", "2", []string{"active", "archived"}}},
		{"SearchAndSiblingsKept", `s={"$and":[{"name":"a"}],"version":1}`, "(p.name = $2::text AND p.version = $3::bigint)", []any{"a", "1"}},
		{"SearchEmptyGroupsIgnored", `s={"$and":[],"$or":[]}`, "TRUE", nil},
		{"SearchOrWithEmptyObjectIsTrue", `s={"$or":[{},{"name":"a"}]}`, "TRUE", nil},
		{"SearchBetweenArray", `s={"createdAt":{"$between":["2024-01-01","2024-02-01T00:00:00Z"]}}`,
			"(p.created_at BETWEEN $2::timestamptz AND $3::timestamptz)", []any{"2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"}},
		{"SearchInCommaString", `s={"status":{"$in":"active,planning"}}`, "p.status = ANY($2::text[])", []any{[]string{"active", "planning"}}},
		{"SearchEmptyStringAllowed", `s={"name":""}`, "p.name = $2::text", []any{""}},
		{"SearchBoolToText", `s={"name":true}`, "p.name = $2::text", []any{"true"}},

		// A null value means IS NULL, whatever the operator (the reference's builderSetWhere);
		// $isnull and $notnull take no value, so theirs is ignored.
		{"SearchNullIsNull", `s={"description":null}`, "p.description IS NULL", nil},
		{"SearchEqNullIsNull", `s={"description":{"$eq":null}}`, "p.description IS NULL", nil},
		{"SearchNeNullIsNull", `s={"description":{"$ne":null}}`, "p.description IS NULL", nil},
		{"SearchInNullIsNull", `s={"description":{"$in":null}}`, "p.description IS NULL", nil},
		{"SearchBetweenNullIsNull", `s={"version":{"$between":null}}`, "p.version IS NULL", nil},
		{"SearchContLNullIsNull", `s={"description":{"$contL":null}}`, "p.description IS NULL", nil},
		{"SearchNotNullIgnoresNull", `s={"description":{"$notnull":null}}`, "p.description IS NOT NULL", nil},
		{"SearchNullBesideValues", `s={"name":"a","description":null,"$or":[{"version":null},{"version":{"$gt":2}}]}`,
			"(p.name = $2::text AND p.description IS NULL AND (p.version IS NULL OR p.version > $3::bigint))", []any{"a", "2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := mustParse(t, c.query, testProjects)
			sql, args := where(q)
			if sql != c.sql {
				t.Errorf("sql\n got %s\nwant %s", sql, c.sql)
			}
			if len(args) != len(c.args) || (len(args) > 0 && !reflect.DeepEqual(args, c.args)) {
				t.Errorf("args\n got %#v\nwant %#v", args, c.args)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, query, want string
	}{
		{"UnknownField", "filter=nope||$eq||1", `filter: unknown field "nope"`},
		{"UnknownOperator", "filter=name||$like||1", `unknown operator "$like"`},
		{"NoOperator", "filter=name", "is not field||$operator||value"},
		{"EmptyValue", "filter=name||$eq||", "$eq needs a value"},
		{"MissingValue", "or=name||$eq", "$eq needs a value"},
		{"BadUUID", "filter=id||$eq||123", `field "id": "123" is not a UUID`},
		{"BadUUIDInList", "filter=id||$in||" + id1 + ",x", `"x" is not a UUID`},
		{"BadInt", "filter=version||$gt||1.5", `"1.5" is not an integer`},
		{"BadTime", "filter=createdAt||$gt||yesterday", "is not an RFC 3339 time"},
		{"YearZero", "filter=createdAt||$gt||0000-01-01", "is not an RFC 3339 time"},
		{"BadDate", "filter=createdAt||$eq||2024-02-30", "is not an RFC 3339 time or a YYYY-MM-DD date"},
		{"BadEnum", "filter=status||$eq||running", `"running" is not one of planning, active`},
		{"BadEnumInList", "filter=status||$notin||active,nope", `"nope" is not one of`},
		{"BetweenOneValue", "filter=version||$between||1", "$between takes two values"},
		{"BetweenThreeValues", "filter=version||$between||1,2,3", "$between takes two values"},
		{"TextOperatorOnInt", "filter=version||$cont||1", "$cont applies to text fields, not to a integer"},
		{"LowerOperatorOnUUID", "filter=id||$eqL||" + id1, "$eqL applies to text fields"},
		{"NulByte", "filter=name||$eq||a%00b", "is not UTF-8 text without NUL bytes"},
		{"BadUTF8", "filter=name||$eq||%ff", "is not UTF-8 text"},
		{"NotFilterable", "filter=x||$eq||1", `unknown field "x"`},
		{"SearchNotJSON", "s={name", "s: JSON expected"},
		{"SearchEmpty", "s=", "s: JSON expected"},
		{"SearchArray", "s=[]", "s: a JSON object expected"},
		{"SearchTrailing", `s={}{}`, "s: JSON expected"},
		{"SearchUnknownField", `s={"nope":1}`, `s: unknown field "nope"`},
		{"SearchUnknownOperator", `s={"name":{"$regex":"a"}}`, `unknown operator "$regex"`},
		{"SearchUnknownTopOperator", `s={"$not":[{"name":"a"}]}`, `s: unknown operator "$not"`},
		{"SearchArrayValue", `s={"name":["a"]}`, "a value or an object of operators expected"},
		{"SearchAndNotArray", `s={"$and":{"name":"a"}}`, "$and takes an array of objects"},
		{"SearchInObject", `s={"name":{"$in":{"a":1}}}`, "$in takes an array of values"},
		{"SearchTooDeep", "s=" + strings.Repeat(`{"$and":[`, 20) + "{}" + strings.Repeat("]}", 20), "nested more than"},
		{"UnknownSelectField", "fields=name,nope", `fields: unknown field "nope"`},
		{"UnknownRelation", "join=nope", `join: unknown relation "nope"`},
		{"UnknownJoinField", "join=tasks||title,nope", `join: unknown field "tasks.nope"`},
		{"UnknownSortField", "sort=nope,ASC", `sort: unknown field "nope"`},
		{"BadSortOrder", "sort=name,UP", `order "UP" is not ASC or DESC`},
		{"NegativeLimit", "limit=-1", "limit: -1 is negative"},
		{"NegativePage", "page=-2", "page: -2 is negative"},
		{"NegativeOffset", "offset=-3", "offset: -3 is negative"},
		{"NonNumericLimit", "limit=ten", `limit: "ten" is not an integer`},
		{"NonNumericCache", "cache=no", `cache: "no" is not an integer`},
		{"HugePage", "page=9223372036854775807", "page: 9223372036854775807 is too large"},
		{"CursorWithPage", "cursor=&page=2", "cursor: can't be combined with page or offset"},
		{"CursorGarbage", "cursor=!!!", "cursor: not a cursor of this list"},
		{"TooManyConditions", strings.Repeat("filter=version||$eq||1&", 101), "more than 100 conditions"},
		{"TooManyConditionsInSearch", "s={" + strings.Repeat(`"version":1,`, 100) + `"name":"x"}`, "s: more than 100 conditions"},
		{"SearchNullArrayElement", `s={"name":{"$in":[null]}}`, "$in takes an array of values"},
		{"SearchLoneSurrogate", `s={"name":"a\ud800b"}`, `s: field "name": a string has a lone UTF-16 surrogate`},
		{"SearchLoneLowSurrogate", `s={"$or":[{"name":{"$contL":"\udc00"}}]}`, `s: field "name": a string has a lone UTF-16 surrogate`},
		{"SearchReversedSurrogates", `s={"name":"\udc00\ud800"}`, `s: field "name": a string has a lone UTF-16 surrogate`},
		{"SearchNulEscape", `s={"name":"a\u0000"}`, `s: field "name": a string contains a NUL character`},
		{"SearchBadUTF8", "s=%7B%22name%22%3A%22%FF%22%7D", `s: field "name": a string is not valid UTF-8 text`},
		{"SearchBadUTF8Key", "s=%7B%22%FF%22%3A1%7D", `s: a string is not valid UTF-8 text`},

		// Every field sorts, but a relation's field only filters.
		{"SortOnRelationField", "join=tasks&sort=tasks.title,ASC", `sort: unknown field "tasks.title"`},
		// A relation's field filters only when the relation is joined in the same query.
		{"RelationNotJoined", "filter=tasks.status||$eq||done", `filter: field "tasks.status": relation "tasks" is not joined (add join=tasks)`},
		{"RelationNotJoinedInOr", "join=organization&or=tasks.status||$eq||done", `or: field "tasks.status": relation "tasks" is not joined`},
		{"RelationNotJoinedInSearch", `s={"$or":[{"tasks.status":"done"}]}`, `s: field "tasks.status": relation "tasks" is not joined`},
		{"UnknownRelationField", "join=tasks&filter=tasks.nope||$eq||1", `filter: unknown field "tasks.nope"`},
		{"UnknownRelationInField", "filter=nope.status||$eq||done", `filter: unknown field "nope.status"`},
		{"RelationFieldValueChecked", "join=tasks&filter=tasks.status||$eq||finished", `field "tasks.status": "finished" is not one of todo, in_progress, done`},
		{"RelationFieldOperatorChecked", "join=tasks&filter=tasks.dueDate||$cont||1", `field "tasks.dueDate": $cont applies to text fields, not to a date`},
		{"TooManyValues", "filter=version||$in||" + strings.Repeat("1,", 500) + "1", "takes 1 to 500 values"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(c.query, testProjects)
			if fe := badRequest(t, err); !strings.Contains(fe.Message, c.want) {
				t.Fatalf("message %q does not contain %q", fe.Message, c.want)
			}
		})
	}
}

// TestParseTypes covers the types of the schema-driven resources, a serial id and snake_case
// names, in both dialects.
func TestParseTypes(t *testing.T) {
	long := "12345678901234567890.123456789012345678901"
	cases := []struct {
		name, query string
		sql         string
		args        []any
	}{
		{"FloatGt", "filter=weight||$gt||1.5", "p.weight > $2::float8", []any{"1.5"}},
		{"FloatCanonical", "filter=weight||$eq||1E3", "p.weight = $2::float8", []any{"1000"}},
		{"FloatShortestExact", "filter=weight||$lt||0.30000000000000004", "p.weight < $2::float8", []any{"0.30000000000000004"}},
		{"FloatHuge", "filter=weight||$lte||-1.7976931348623157e308", "p.weight <= $2::float8", []any{"-1.7976931348623157e+308"}},
		{"FloatBetween", "filter=weight||$between||-.5,2e-3", "(p.weight BETWEEN $2::float8 AND $3::float8)", []any{"-0.5", "0.002"}},
		{"FloatIn", "filter=weight||$in||1,2.5", "p.weight = ANY($2::float8[])", []any{[]string{"1", "2.5"}}},
		{"FloatSearchNumber", `s={"weight":{"$gte":-2.5e-7}}`, "p.weight >= $2::float8", []any{"-2.5e-07"}},
		{"NumericKeepsDigits", "filter=price||$gte||12.50", "p.price >= $2::numeric", []any{"12.50"}},
		{"NumericLong", "filter=price||$eq||" + long, "p.price = $2::numeric", []any{long}},
		{"NumericNotIn", "filter=price||$notin||-1,0.001", "p.price <> ALL($2::numeric[])", []any{[]string{"-1", "0.001"}}},
		{"NumericSearchNumber", `s={"price":{"$lt":99.999999999999999999}}`, "p.price < $2::numeric", []any{"99.999999999999999999"}},
		{"JSONIsNull", "filter=attrs||$isnull", "p.attrs IS NULL", nil},
		{"JSONNotNull", "filter=attrs||notnull", "p.attrs IS NOT NULL", nil},
		{"JSONSearchNull", `s={"attrs":null,"$or":[{"attrs":{"$notnull":true}}]}`, "(p.attrs IS NULL AND p.attrs IS NOT NULL)", nil},
		{"JSONSearchNullOperator", `s={"attrs":{"$eq":null}}`, "p.attrs IS NULL", nil},
		{"IntIDIn", "filter=id||$in||1,9007199254740993", "p.id = ANY($2::bigint[])", []any{[]string{"1", "9007199254740993"}}},
		{"IntAbove32Bits", "filter=per_page||$gt||4294967296", "p.per_page > $2::bigint", []any{"4294967296"}},
		{"SnakeCase", "filter=cognito_id||$eq||abc&or=cognito_id||$contL||X",
			"(p.cognito_id = $2::text OR lower(p.cognito_id COLLATE " + icu + ") LIKE lower($3::text COLLATE " + icu + `) ESCAPE '\')`, []any{"abc", "%X%"}},

		// PostgREST, where a column may be named like a nestjsx parameter.
		{"PostgRESTFloat", "weight=not.gt.1.5", "p.weight <= $2::float8", []any{"1.5"}},
		{"PostgRESTNumeric", "price=in.(1.50,2)", "p.price = ANY($2::numeric[])", []any{[]string{"1.50", "2"}}},
		{"PostgRESTJSONIsNull", "attrs=is.null", "p.attrs IS NULL", nil},
		{"PostgRESTJSONNotNull", "attrs=not.is.null", "p.attrs IS NOT NULL", nil},
		{"PostgRESTNestjsxName", "per_page=eq.5", "p.per_page = $2::bigint", []any{"5"}},
		{"PostgRESTSnakeCaseTree", "or=(cognito_id.eq.a,and(per_page.is.null,attrs.is.null))",
			"(p.cognito_id = $2::text OR (p.per_page IS NULL AND p.attrs IS NULL))", []any{"a"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sql, args := where(mustParse(t, c.query, testSerials))
			if sql != c.sql {
				t.Errorf("sql\n got %s\nwant %s", sql, c.sql)
			}
			if len(args) != len(c.args) || (len(args) > 0 && !reflect.DeepEqual(args, c.args)) {
				t.Errorf("args\n got %#v\nwant %#v", args, c.args)
			}
		})
	}

	// A serial id is the tiebreak of every sort; floats and numerics sort as numbers.
	for query, want := range map[string]string{
		"":                                "p.id ASC NULLS LAST",
		"sort=weight,DESC":                "p.weight DESC NULLS FIRST, p.id DESC NULLS FIRST",
		"sort=price&sort=cognito_id,DESC": "p.price ASC NULLS LAST, p.cognito_id COLLATE " + icu + " DESC NULLS FIRST, p.id DESC NULLS FIRST",
		"order=weight.asc.nullsfirst":     "p.weight ASC NULLS FIRST, p.id ASC NULLS LAST",
	} {
		if got := mustParse(t, query, testSerials).OrderBy("p"); got != want {
			t.Errorf("%q: ORDER BY %s, want %s", query, got, want)
		}
	}
	// per_page is still nestjsx's page size.
	if q := mustParse(t, "per_page=5", testSerials); q.Limit() != 5 || q.where != nil {
		t.Errorf("per_page=5: limit %d, where %v", q.Limit(), q.where)
	}
}

func TestParseTypeErrors(t *testing.T) {
	cases := []struct {
		name, query, want string
	}{
		{"FloatNotNumber", "filter=weight||$eq||heavy", `filter: field "weight": "heavy" is not a finite number`},
		{"FloatNaN", "filter=weight||$gt||NaN", `field "weight": "NaN" is not a finite number`},
		{"FloatInf", "filter=weight||$lt||-Inf", `"-Inf" is not a finite number`},
		{"FloatInfinity", "filter=weight||$in||1,infinity", `"infinity" is not a finite number`},
		{"FloatOverflow", "filter=weight||$gt||1e309", `"1e309" is not a finite number`},
		{"FloatTextOperator", "filter=weight||$contL||1", `field "weight": $contL applies to text fields, not to a float`},
		{"NumericExponent", "filter=price||$eq||1e5", `filter: field "price": "1e5" is not a decimal number such as -12.50`},
		{"NumericPlus", "filter=price||$eq||%2B1", `"+1" is not a decimal number`},
		{"NumericBareFraction", "filter=price||$gt||.5", `".5" is not a decimal number`},
		{"NumericTrailingPoint", "filter=price||$gt||1.", `"1." is not a decimal number`},
		{"NumericNaN", "filter=price||$eq||NaN", `"NaN" is not a decimal number`},
		{"NumericTooLong", "filter=price||$eq||" + strings.Repeat("9", 101), "is not a decimal number"},
		{"NumericSpace", `s={"price":" 1"}`, `s: field "price": " 1" is not a decimal number`},
		{"NumericTextOperator", "filter=price||$starts||1", "$starts applies to text fields, not to a numeric"},
		{"JSONEq", "filter=attrs||$eq||{}", `filter: field "attrs": json fields filter only on null, not with $eq`},
		{"JSONTextOperator", "or=attrs||$cont||x", `or: field "attrs": json fields filter only on null, not with $cont`},
		{"JSONIn", `s={"attrs":{"$in":[1]}}`, `s: field "attrs": json fields filter only on null, not with $in`},
		{"JSONSearchValue", `s={"attrs":"x"}`, `s: field "attrs": json fields filter only on null, not with $eq`},
		{"JSONPostgREST", "attrs=eq.{}", `attrs: field "attrs": json fields filter only on null, not with eq`},
		{"JSONPostgRESTNot", "attrs=not.in.(1)", `attrs: field "attrs": json fields filter only on null, not with not.in`},
		{"JSONPostgRESTIsTrue", "attrs=is.true", `attrs: field "attrs": is.true applies to boolean fields, not to a json`},
		{"JSONSort", "sort=attrs,ASC", `sort: field "attrs": json fields don't sort`},
		{"JSONOrder", "order=weight.desc,attrs", `order: field "attrs": json fields don't sort`},
		{"IntID", "filter=id||$eq||" + id1, `field "id": "` + id1 + `" is not an integer`},
		{"IntIDOverflow", "filter=id||$eq||9223372036854775808", "is not an integer"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := parse(c.query, testSerials)
			if fe := badRequest(t, err); !strings.Contains(fe.Message, c.want) {
				t.Fatalf("message %q does not contain %q", fe.Message, c.want)
			}
		})
	}
}

// badRequest fails the test unless err is a fault.BadRequest, and returns it.
func badRequest(t *testing.T, err error) *fault.Error {
	t.Helper()
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Code != fault.BadRequest {
		t.Fatalf("err = %v, want a fault.BadRequest", err)
	}
	return fe
}

func TestParseErrorQuotesLongInputShort(t *testing.T) {
	_, err := parse(url.Values{"filter": {strings.Repeat("é", 500) + "||$eq||1"}}.Encode(), testProjects)
	if err == nil || len(err.Error()) > 200 {
		t.Fatalf("err = %v", err)
	}
}

func TestParsePaging(t *testing.T) {
	cases := []struct {
		query                  string
		limit, offset          int64
		paged, cursor, noCache bool
	}{
		{"", 20, 0, false, false, false},
		{"limit=0", 20, 0, false, false, false},
		{"limit=5", 5, 0, false, false, false},
		{"per_page=7", 7, 0, false, false, false},
		{"limit=1000", 100, 0, false, false, false},
		{"limit=10&page=3", 10, 20, true, false, false},
		{"limit=10&offset=25", 10, 25, true, false, false},
		{"limit=10&page=2&offset=25", 10, 10, true, false, false}, // page wins
		{"limit=10&page=0&offset=25", 10, 25, true, false, false}, // page 0 is "not given"
		{"page=0", 20, 0, true, false, false},
		{"limit=5&limit=9", 5, 0, false, false, false}, // the first value counts
		{"cursor=", 20, 0, false, true, false},
		{"cursor=&offset=0", 20, 0, false, true, false},
		{"cache=0", 20, 0, false, false, true},
		{"cache=1", 20, 0, false, false, false},
		{"limit=&page=&offset=&cache=", 20, 0, false, false, false},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			q := mustParse(t, c.query, testProjects)
			if q.Limit() != c.limit || q.Offset() != c.offset || q.Paginated() != c.paged || q.CursorMode() != c.cursor || q.NoCache() != c.noCache {
				t.Fatalf("limit %d offset %d paged %v cursor %v noCache %v", q.Limit(), q.Offset(), q.Paginated(), q.CursorMode(), q.NoCache())
			}
		})
	}
}

func TestParseIgnoresEmptyValues(t *testing.T) {
	q := mustParse(t, "fields=&join=&filter=&or=&sort=", testProjects)
	if len(q.fields) != len(testProjects.fields) || len(q.joins) != 0 || q.where != nil || len(q.sort) != 1 {
		t.Fatalf("empty values must mean \"not given\": %s", q)
	}
}

func TestParseSort(t *testing.T) {
	cases := []struct{ query, want string }{
		{"", "p.id ASC NULLS LAST"},
		{"sort=name,ASC", "p.name COLLATE " + icu + " ASC NULLS LAST, p.id ASC NULLS LAST"},
		{"sort=createdAt,desc", "p.created_at DESC NULLS FIRST, p.id DESC NULLS FIRST"},
		{"sort=status", "p.status COLLATE " + icu + " ASC NULLS LAST, p.id ASC NULLS LAST"},
		{"sort=status,DESC&sort=name,ASC", "p.status COLLATE " + icu + " DESC NULLS FIRST, p.name COLLATE " + icu + " ASC NULLS LAST, p.id ASC NULLS LAST"},
		{"sort=name,DESC&sort=name,ASC", "p.name COLLATE " + icu + " DESC NULLS FIRST, p.id DESC NULLS FIRST"},
		{"sort=id,DESC&sort=name,ASC", "p.id DESC NULLS FIRST"},
		// Every field sorts: those the old allow-list refused, too.
		{"sort=organizationId,DESC", "p.organization_id DESC NULLS FIRST, p.id DESC NULLS FIRST"},
		{"sort=description,ASC", "p.description COLLATE " + icu + " ASC NULLS LAST, p.id ASC NULLS LAST"},
		{"sort=version,DESC&sort=updatedAt", "p.version DESC NULLS FIRST, p.updated_at ASC NULLS LAST, p.id ASC NULLS LAST"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			if got := mustParse(t, c.query, testProjects).OrderBy("p"); got != c.want {
				t.Fatalf("got  %s\nwant %s", got, c.want)
			}
		})
	}
}

func TestFieldsAndJoin(t *testing.T) {
	// select is the reference's alias of fields, read as such when the header says nestjsx
	// (without it, select is PostgREST's, and beside fields a 400).
	q := mustParse(t, "fields=status,name&select=createdAt&join=organization||name&join=tasks||title&join=tasks||status", testProjects, DialectHeader, "nestjsx")
	var args Args
	got := q.Item("p", &args)
	want := `json_build_object('id', p.id, 'name', p.name, 'status', p.status, 'createdAt', rtrim(rtrim(to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z', ` +
		`'tasks', (SELECT coalesce(json_agg(json_build_object('id', p_j0.id, 'title', p_j0.title, 'status', p_j0.status) ORDER BY p_j0.id), '[]'::json) FROM tasks p_j0 WHERE p_j0.project_id = p.id AND p_j0.deleted_at IS NULL), ` +
		`'organization', (SELECT json_build_object('id', p_j1.id, 'name', p_j1.name) FROM organizations p_j1 WHERE p_j1.id = p.organization_id AND p_j1.deleted_at IS NULL))`
	if got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	var names []string
	for _, f := range q.Fields() {
		names = append(names, f.Name)
	}
	if strings.Join(names, ",") != "id,name,status,createdAt" {
		t.Fatalf("fields = %v", names)
	}
	if all := mustParse(t, "join=tasks&join=tasks||title", testProjects); len(all.joins[0].fields) != len(testTasks.fields) {
		t.Fatalf("a join without a list must select every field")
	}
}

// TestNestedJoins pins the SQL of nested joins: each level a correlated subquery inside its
// parent's json_build_object, soft-deleted rows left out at every level, whatever the order
// of the join parameters.
func TestNestedJoins(t *testing.T) {
	const project = `'project', (SELECT json_build_object('id', p_j0.id, 'name', p_j0.name, ` +
		`'organization', (SELECT json_build_object('id', p_j1.id, 'name', p_j1.name) FROM organizations p_j1 WHERE p_j1.id = p_j0.organization_id AND p_j1.deleted_at IS NULL)) ` +
		`FROM projects p_j0 WHERE p_j0.id = p.project_id AND p_j0.deleted_at IS NULL)`
	want := `json_build_object('id', p.id, 'title', p.title, ` + project + `)`
	var keys []string
	for _, query := range []string{
		"fields=title&join=project||name&join=project.organization||name",
		"fields=title&join=project.organization||name&join=project||name",
		"join[]=project.organization||id,name&fields=title&join[]=project||name",
	} {
		q := mustParse(t, query, testTasks)
		var args Args
		if got := q.Item("p", &args); got != want || len(args) != 0 {
			t.Errorf("%s:\n got %s\nwant %s", query, got, want)
		}
		if got := strings.Join(q.Joins(), ","); got != "project,project.organization" {
			t.Errorf("%s: Joins() = %s", query, got)
		}
		keys = append(keys, q.Key())
	}
	if keys[0] != keys[1] || keys[1] != keys[2] {
		t.Error("the order of the join parameters changed the cache key")
	}

	// Three levels, to-many inside to-one inside to-many, through a cycle in the schema graph
	// (projects -> tasks -> project -> tasks): the depth is the query's, not the schema's.
	q := mustParse(t, "fields=name&join=tasks||title&join=tasks.project||name&join=tasks.project.tasks||title", testProjects)
	var args Args
	want = `json_build_object('id', p.id, 'name', p.name, 'tasks', (SELECT coalesce(json_agg(json_build_object('id', p_j0.id, 'title', p_j0.title, ` +
		`'project', (SELECT json_build_object('id', p_j1.id, 'name', p_j1.name, ` +
		`'tasks', (SELECT coalesce(json_agg(json_build_object('id', p_j2.id, 'title', p_j2.title) ORDER BY p_j2.id), '[]'::json) FROM tasks p_j2 WHERE p_j2.project_id = p_j1.id AND p_j2.deleted_at IS NULL)) ` +
		`FROM projects p_j1 WHERE p_j1.id = p_j0.project_id AND p_j1.deleted_at IS NULL)) ORDER BY p_j0.id), '[]'::json) ` +
		`FROM tasks p_j0 WHERE p_j0.project_id = p.id AND p_j0.deleted_at IS NULL))`
	if got := q.Item("p", &args); got != want {
		t.Fatalf("three levels:\n got %s\nwant %s", got, want)
	}
	if got := strings.Join(q.Joins(), ","); got != "tasks,tasks.project,tasks.project.tasks" {
		t.Errorf("Joins() = %s", got)
	}
	// A join without a list selects every field at any level; joining a path twice merges.
	q = mustParse(t, "join=tasks||title&join=tasks.project||name&join=tasks.project&join=tasks.project||status", testProjects)
	if j := q.joins[0].joins[0]; len(j.fields) != len(testProjects.fields) || len(q.joins[0].fields) != 2 {
		t.Errorf("merged fields: %d, %d", len(j.fields), len(q.joins[0].fields))
	}
}

// TestNestedJoinFilterSQL pins a filter on a field two joins down: the whole chain in the
// EXISTS, and in each level's subquery the chain below it, correlated to the rows above.
func TestNestedJoinFilterSQL(t *testing.T) {
	q := mustParse(t, "fields=title&join=project||name&join=project.organization||name&filter=project.organization.name||$eq||acme&filter=title||$eq||x", testTasks)
	st := q.Build(Scope{Alias: "p"})
	want := "SELECT json_build_object('id', p.id, 'title', p.title, 'project', (SELECT json_build_object('id', p_j0.id, 'name', p_j0.name, " +
		"'organization', (SELECT json_build_object('id', p_j1.id, 'name', p_j1.name) FROM organizations p_j1 WHERE p_j1.id = p_j0.organization_id AND p_j1.deleted_at IS NULL AND p_j1.name = $3::text)) " +
		"FROM projects p_j0 WHERE p_j0.id = p.project_id AND p_j0.deleted_at IS NULL AND EXISTS (SELECT FROM (SELECT) AS one LEFT JOIN organizations p_f1 ON p_f1.id = p_j0.organization_id AND p_f1.deleted_at IS NULL WHERE p_f1.name = $4::text))) AS item, NULL::json AS key " +
		"FROM tasks p WHERE p.title = $1::text AND EXISTS (SELECT FROM (SELECT) AS one LEFT JOIN projects p_f0 ON p_f0.id = p.project_id AND p_f0.deleted_at IS NULL " +
		"LEFT JOIN organizations p_f1 ON p_f1.id = p_f0.organization_id AND p_f1.deleted_at IS NULL WHERE p_f1.name = $2::text) " +
		"ORDER BY p.id ASC NULLS LAST LIMIT $5 OFFSET $6"
	if st.List != want || !reflect.DeepEqual(st.ListArgs, []any{"x", "acme", "acme", "acme", int64(20), int64(0)}) {
		t.Fatalf("List\n got %s %#v\nwant %s", st.List, st.ListArgs, want)
	}
	// In s and or alike; a condition on an intermediate level too.
	q = mustParse(t, `join=project&join=project.organization&s={"$or":[{"project.organization.name":null},{"project.status":"active"}]}`, testTasks)
	var args Args
	if got := q.Where("p", &args); got != "EXISTS (SELECT FROM (SELECT) AS one LEFT JOIN projects p_f0 ON p_f0.id = p.project_id AND p_f0.deleted_at IS NULL "+
		"LEFT JOIN organizations p_f1 ON p_f1.id = p_f0.organization_id AND p_f1.deleted_at IS NULL WHERE (p_f1.name IS NULL OR p_f0.status = $1::text))" {
		t.Fatalf("Where %s", got)
	}
}

// TestNestedJoinErrors checks the 400s of nested joins: each names the parameter and the path.
func TestNestedJoinErrors(t *testing.T) {
	for _, c := range []struct{ query, want string }{
		{"join=project.organization", `join: "project.organization" needs join=project too (a nested join needs its parent's)`},
		{"join=project&join=project.tasks.project", `join: "project.tasks.project" needs join=project.tasks too`},
		{"join=project&join=project.tasks&join=project.tasks.project&join=project.tasks.project.tasks", `join: "project.tasks.project.tasks" nests joins 4 levels deep, more than 3`},
		{"join=project&join=project.nope", `join: unknown relation "project.nope"`},
		{"join=nope.organization", `join: unknown relation "nope"`},
		{"join=project&join=project.organization||name,nope", `join: unknown field "project.organization.nope"`},
		{"join=project&filter=project.organization.name||$eq||x", `filter: field "project.organization.name": relation "project.organization" is not joined (add join=project.organization)`},
		{"join=project&join=project.organization&filter=project.organization.nope||$eq||x", `filter: unknown field "project.organization.nope"`},
		{"join=project&join=project.organization&filter=project.organization.name||$gt||", "$gt needs a value"},
		{`join=project&s={"project.nope.name":"x"}`, `s: unknown field "project.nope.name"`},
		{"join=project&join=project.organization&sort=project.organization.name,ASC", `sort: unknown field "project.organization.name"`},
	} {
		_, err := parse(c.query, testTasks)
		if fe := badRequest(t, err); !strings.Contains(fe.Message, c.want) {
			t.Errorf("%s: message %q does not contain %q", c.query, fe.Message, c.want)
		}
	}
}

func TestBuild(t *testing.T) {
	q := mustParse(t, "filter=status||$eq||active&sort=createdAt,DESC&limit=10&page=3", testProjects)
	st := q.Build(Scope{Alias: "p", Where: "p.organization_id = ANY($1) AND p.deleted_at IS NULL", Args: []any{[]string{id1}}})
	wantList := "SELECT json_build_object('id', p.id, 'organizationId', p.organization_id, 'name', p.name, 'description', p.description, 'status', p.status, " +
		`'createdAt', rtrim(rtrim(to_char(p.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z', ` +
		`'updatedAt', rtrim(rtrim(to_char(p.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '0'), '.') || 'Z', 'version', p.version) AS item, NULL::json AS key ` +
		"FROM projects p WHERE (p.organization_id = ANY($1) AND p.deleted_at IS NULL) AND p.status = $2::text " +
		"ORDER BY p.created_at DESC NULLS FIRST, p.id DESC NULLS FIRST LIMIT $3 OFFSET $4"
	if st.List != wantList {
		t.Errorf("List\n got %s\nwant %s", st.List, wantList)
	}
	if !reflect.DeepEqual(st.ListArgs, []any{[]string{id1}, "active", int64(10), int64(20)}) {
		t.Errorf("ListArgs = %#v", st.ListArgs)
	}
	wantCount := "SELECT count(*) FROM projects p WHERE (p.organization_id = ANY($1) AND p.deleted_at IS NULL) AND p.status = $2::text"
	if st.Count != wantCount || !reflect.DeepEqual(st.CountArgs, []any{[]string{id1}, "active"}) {
		t.Errorf("Count %s %#v", st.Count, st.CountArgs)
	}

	c := mustParse(t, "cursor=&sort=createdAt,DESC&limit=10&fields=name", testProjects).Build(Scope{Alias: "p"})
	wantCursor := "SELECT json_build_object('id', p.id, 'name', p.name) AS item, json_build_array(p.created_at, p.id) AS key " +
		"FROM projects p WHERE TRUE ORDER BY p.created_at DESC NULLS FIRST, p.id DESC NULLS FIRST LIMIT $1"
	if c.List != wantCursor || c.Count != "" || !reflect.DeepEqual(c.ListArgs, []any{int64(11)}) {
		t.Errorf("cursor List\n got %s %#v\nwant %s", c.List, c.ListArgs, wantCursor)
	}
}

func TestKeyEqualForEqualQueries(t *testing.T) {
	same := []string{
		"filter=name||$eq||a&sort=name,ASC&limit=10",
		"filter[]=name||eq||a&sort=name,asc&per_page=10",
		"filter=name||$eq||a&sort=name&sort=name,DESC&limit=10&cache=0",
	}
	k := mustParse(t, same[0], testProjects).Key()
	for _, s := range same[1:] {
		if got := mustParse(t, s, testProjects).Key(); got != k {
			t.Errorf("Key(%q) = %s, want %s", s, got, k)
		}
	}
	for _, s := range []string{"filter=name||$eq||b&sort=name,ASC&limit=10", "filter=name||$eq||a&sort=name,ASC&limit=11", "filter=name||$eq||a&sort=name,DESC&limit=10"} {
		if mustParse(t, s, testProjects).Key() == k {
			t.Errorf("Key(%q) equals a different query's", s)
		}
	}
}
