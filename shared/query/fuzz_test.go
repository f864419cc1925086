package query

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"scaleapi/shared/fault"
)

// FuzzParse feeds arbitrary query strings to ParseRequest, in both dialects (each input is
// parsed as the parameters choose, and with X-Crud-Dialect set to each), and, when they parse,
// checks the statement Build makes against three invariants that together mean "no client text
// reaches the SQL":
//
//  1. Lexical: every token of the SQL outside string literals is a key word or function of the
//     package's fixed vocabulary, or an identifier of the schemas (table, column, alias); every
//     string literal is one of the package's fixed literals or an API name of the schemas; the
//     only quoted identifier is the collation; there are no comments, semicolons or numbers.
//  2. Value independence: replacing every client value held by the parsed query with a constant
//     leaves the SQL text byte-for-byte unchanged, so values can only reach the database as
//     arguments.
//  3. Binding: the placeholders used are exactly $1..$len(args) for both statements, and every
//     argument is text (valid UTF-8, no NUL), a list of such, or an int64 (limit, offset).
//
// Errors must be 400s. Run it with: go test ./shared/query -run '^$' -fuzz FuzzParse
func FuzzParse(f *testing.F) {
	seeds := []string{
		"",
		"filter=name||$eq||Apollo&filter=status||$in||active,planning&sort=createdAt,DESC&limit=10&page=2",
		"or=name||$contL||apo&or=description||$isnull&fields=name,status&join=tasks||title,status&join=organization",
		`s={"$or":[{"name":{"$startsL":"a%_"}},{"$and":[{"version":{"$between":[1,5]}},{"status":{"$notin":["archived"]}}]}]}`,
		`s={"description":{"$or":{"$isnull":true,"$exclL":"x"}},"createdAt":{"$gte":"2024-01-01T00:00:00Z"}}`,
		`s={"description":null,"name":{"$ne":null},"version":{"$in":null}}`,
		"filter=id||$notin||" + id1 + "," + id2 + "&offset=30&limit=1000&cache=0",
		"filter[0]=name||ne||x&filter[1]=version||lte||3&select=name&per_page=5&sort=name,asc&sort=id,DESC",
		"cursor=&sort=status,ASC&sort=version,DESC&limit=3",
		"filter=name||$eq||x'); DROP TABLE projects; --&sort=name,ASC",
		"filter=name||$in||a\"b,c\\d,$1&filter=name||$endsL||%00",
		"join=tasks&join=organization&filter=tasks.status||$eq||done&or=organization.name||$contL||acme&or=name||$gt||m",
		`join=tasks||title&s={"$or":[{"tasks.title":{"$startsL":"x"}},{"name":null}],"tasks.dueDate":{"$lt":"2024-01-01"}}`,
		"join=children&join=owner&filter=children.title||$exclL||y&filter=owner.name||$isnull&sort=note,DESC",
		"filter=name||$eq||%FF%FE&sort=description,ASC",
		"join=tasks||title&join=tasks.project||name&join=tasks.project.organization&filter=tasks.project.organization.name||$contL||acme&or=name||$eq||x",
		`join=project.organization||name&join=project&join=project.tasks&s={"$or":[{"project.organization.name":null},{"project.tasks.status":{"$in":["done","todo"]}}],"project.status":"active"}`,
		"join=children&join=children.project&join=children.project.tasks||title&filter=children.project.tasks.title||$exclL||y&sort=rank,DESC",
		"join=line_items&join=line_items.children&join=line_items.children.organization&or=line_items.children.organization.name||$isnull&or=price||$gt||1",
		"join=project&join=project.tasks&join=project.tasks.project&join=project.tasks.project.tasks",

		// PostgREST.
		"select=id,name,tasks(id,title)&status=eq.active&order=name.asc&limit=5",
		"select=*,tasks!inner(*)&tasks.status=eq.done&or=(name.ilike.*apo*,tasks.priority.in.(high,urgent))",
		"select=name,organization(name)&organization.name=like.Acme*&version=not.gt.3&description=is.null",
		"and=(name.neq.x,or(version.lt.2,not.and(status.eq.archived,description.not.is.null)))&order=version.desc.nullslast,name",
		"not.or=(name.eq.\"a,b\",name.in.(\"c)\",d))&createdAt=gte.2024-01-01&offset=10",
		"select=id,children(title)&children.or=(title.like.a*,title.is.null)&flag=not.is.true&rank=in.(1,2,3)&order=rank.asc.nullsfirst",
		"select=tasks(title)&tasks.title=ilike.*%25_*&limit=0",
		"name=eq.x');DROP TABLE projects;--&select=name",
		"select=title,project(name,organization!inner(name))&project.organization.name=eq.acme&project.or=(status.eq.active,organization.name.ilike.*x*)",
		"select=*,tasks!inner(*,project!inner(id,organization(*)))&or=(tasks.project.name.eq.x,name.eq.y)&tasks.project.organization.name=like.a*",
		"select=id,children(title,project(tasks!inner(title)))&children.project.tasks.status=eq.done&children.project.name=neq.z",
		"select=cognito_id,line_items(weight,children(project(name)))&line_items.children.project.name=is.null",
		"select=tasks(project(tasks(project(name))))",

		// The types of schema-driven resources, a serial id and snake_case names.
		"filter=weight||$between||-1.5,2e3&filter=price||$in||12.50,-3&filter=attrs||$notnull&sort=price,DESC",
		`s={"attrs":null,"weight":{"$gt":0.1},"price":{"$lte":"99.99"}}&sort=weight,ASC`,
		"filter=id||$in||1,9007199254740993&filter=per_page||$gt||4294967296&filter=cognito_id||$contL||x&sort=cognito_id,DESC",
		"filter=attrs||$eq||{}&sort=attrs,ASC",
		"attrs=not.is.null&weight=not.lt.1e-3&price=in.(1,2.5)&per_page=eq.5&order=weight.desc.nullslast",
		"select=id,cognito_id,line_items(weight,attrs)&line_items.price=gt.0&or=(attrs.is.null,cognito_id.ilike.*a*)",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	// Valid cursors, which the fuzzer would hardly find by itself.
	for _, c := range []struct {
		s         *Schema
		sort, key string
	}{
		{testItems, "sort=createdAt,ASC", `["2024-01-02T03:04:05Z","` + id1 + `"]`},
		{testItems, "sort=doneAt,DESC&sort=score,ASC", `[null,2,"` + id1 + `"]`},
		{testItems, "sort=flag,ASC&sort=rank,DESC", `[true,null,"` + id1 + `"]`},
		{testItems, "sort=name,DESC", `["it's",  "` + id1 + `"]`},
		{testItems, "sort=weight,DESC&sort=price,ASC", `["NaN",12.50,"` + id1 + `"]`},
		{testSerials, "sort=price,DESC&sort=weight,ASC", `[-3.25,null,9007199254740993]`},
		{testSerials, "", `[42]`},
	} {
		q, err := parse(c.sort+"&cursor=", c.s)
		if err != nil {
			f.Fatal(err)
		}
		cur, err := q.encodeCursor([]byte(c.key))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c.sort + "&limit=2&cursor=" + cur)
	}
	vocab := vocabulary(testProjects, testTasks, testOrganizations, testItems, testSerials)

	f.Fuzz(func(t *testing.T, raw string) {
		for _, s := range []*Schema{testProjects, testTasks, testItems, testSerials} {
			for _, header := range []string{"", "nestjsx", "postgrest"} {
				checkQuery(t, raw, header, s, vocab)
			}
		}
	})
}

// checkQuery checks the invariants of FuzzParse for one schema and X-Crud-Dialect header.
func checkQuery(t *testing.T, raw, header string, s *Schema, vocab vocab) {
	var h []string
	if header != "" {
		h = []string{DialectHeader, header}
	}
	q, err := parse(raw, s, append(h, "Prefer", "count=exact")...)
	if err != nil {
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Code != fault.BadRequest {
			t.Fatalf("error %v is not a 400", err)
		}
		return
	}
	scope := Scope{Alias: "p", Where: "p.organization_id = ANY($1)", Args: []any{[]string{id1}}}
	st := q.Build(scope)
	_ = q.Key()

	for _, stmt := range []struct {
		sql  string
		args []any
	}{{st.List, st.ListArgs}, {st.Count, st.CountArgs}} {
		if stmt.sql == "" {
			continue
		}
		if err := checkLexical(strings.Replace(stmt.sql, scope.Where, "TRUE", 1), vocab); err != nil {
			t.Fatal(err)
		}
		checkBinding(t, stmt.sql, stmt.args)
	}

	blank := blanked(q)
	if got := blank.Build(scope); got.List != st.List || got.Count != st.Count {
		t.Fatalf("the SQL depends on client values:\n%s\n%s", st.List, got.List)
	}

	again, err := parse(raw, s, append(h, "Prefer", "count=exact")...)
	if err != nil {
		t.Fatal(err)
	}
	if st2 := again.Build(scope); st2.List != st.List || !reflect.DeepEqual(st2.ListArgs, st.ListArgs) {
		t.Fatal("ParseRequest is not deterministic")
	}
}

// blanked returns a copy of q with every client value replaced by a constant. NULL-ness of
// cursor values is kept: it is structure (IS NULL instead of a comparison), not a value. The
// joins are copied too, and the conditions made to name the copies.
func blanked(q *Query) *Query {
	c := *q
	copies := map[*join]*join{}
	c.joins = copyJoins(q.joins, nil, copies)
	for j, cj := range copies {
		cj.where = blankNode(j.where, copies)
	}
	c.where = blankNode(q.where, copies)
	c.related = blankNode(q.related, copies)
	if q.after != nil {
		c.after = make([]*string, len(q.after))
		for i, v := range q.after {
			if v != nil {
				s := "v"
				c.after[i] = &s
			}
		}
	}
	c.limit, c.offset = 1, 0
	return &c
}

// copyJoins copies the join tree js nested in parent, recording each copy in copies.
func copyJoins(js []*join, parent *join, copies map[*join]*join) []*join {
	out := make([]*join, len(js))
	for i, j := range js {
		cj := *j
		cj.parent = parent
		cj.joins = copyJoins(j.joins, &cj, copies)
		copies[j], out[i] = &cj, &cj
	}
	return out
}

func blankNode(n *node, copies map[*join]*join) *node {
	if n == nil {
		return nil
	}
	c := *n
	if n.cond != nil {
		cc := *n.cond
		cc.at = copies[n.cond.at]
		cc.vals = make([]string, len(n.cond.vals))
		for i := range cc.vals {
			cc.vals[i] = "v"
		}
		c.cond = &cc
		return &c
	}
	c.kids = make([]*node, len(n.kids))
	for i, k := range n.kids {
		c.kids[i] = blankNode(k, copies)
	}
	return &c
}

// vocab is what the SQL may be made of.
type vocab struct {
	words    map[string]bool
	literals map[string]bool
}

// vocabulary is the package's fixed SQL vocabulary plus the identifiers and API names of the
// schemas.
func vocabulary(schemas ...*Schema) vocab {
	v := vocab{words: map[string]bool{}, literals: map[string]bool{}}
	for _, w := range strings.Fields(`SELECT FROM WHERE AND OR NOT LIKE ESCAPE IS NULL TRUE ANY ALL
		BETWEEN AS ORDER BY ASC DESC NULLS FIRST LAST LIMIT OFFSET AT TIME ZONE lower unnest v
		json_build_object json_agg json_build_array coalesce json count rtrim to_char item key
		uuid text bigint timestamptz date boolean float8 numeric p EXISTS LEFT JOIN ON one COLLATE`) {
		v.words[w] = true
	}
	for i := range maxJoins {
		v.words[fmt.Sprintf("p_j%d", i)], v.words[fmt.Sprintf("p_f%d", i)] = true, true
	}
	for _, l := range []string{`\`, `[]`, `UTC`, `YYYY-MM-DD"T"HH24:MI:SS.US`, `0`, `.`, `Z`} {
		v.literals[l] = true
	}
	for _, s := range schemas {
		v.words[s.table] = true
		for _, f := range s.fields {
			v.words[f.Column] = true
			v.literals[f.Name] = true
		}
		for _, r := range s.relations {
			v.literals[r.Name] = true
			v.words[r.Local], v.words[r.Foreign], v.words[r.DeletedAt] = true, true, true
		}
	}
	return v
}

var operatorRE = regexp.MustCompile(`^(::|<>|>=|<=|\|\||[(),.*=<>\[\]])`)

// checkLexical tokenizes sql and reports anything outside the vocabulary.
func checkLexical(sql string, v vocab) error {
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ':
			i++
		case strings.HasPrefix(sql[i:], collation) && strings.HasSuffix(sql[:i], "COLLATE "):
			i += len(collation) // the one quoted identifier: a constant of the package
		case c == '\'':
			end := strings.IndexByte(sql[i+1:], '\'')
			if end < 0 {
				return fmt.Errorf("unterminated literal at %d in %s", i, sql)
			}
			lit := sql[i+1 : i+1+end]
			if !v.literals[lit] {
				return fmt.Errorf("literal %q is not in the vocabulary: %s", lit, sql)
			}
			i += end + 2
			if i < len(sql) && sql[i] == '\'' {
				return fmt.Errorf("doubled quote at %d: %s", i, sql)
			}
		case c == '$':
			j := i + 1
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			if j == i+1 {
				return fmt.Errorf("bare $ at %d: %s", i, sql)
			}
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(sql) && (sql[j] == '_' || sql[j] >= 'a' && sql[j] <= 'z' || sql[j] >= 'A' && sql[j] <= 'Z' || sql[j] >= '0' && sql[j] <= '9') {
				j++
			}
			if w := sql[i:j]; !v.words[w] {
				return fmt.Errorf("word %q is not in the vocabulary: %s", w, sql)
			}
			i = j
		default:
			m := operatorRE.FindString(sql[i:])
			if m == "" {
				return fmt.Errorf("unexpected %q at %d: %s", sql[i:min(i+10, len(sql))], i, sql)
			}
			i += len(m)
		}
	}
	return nil
}

var placeholderRE = regexp.MustCompile(`\$([0-9]+)`)

// checkBinding checks that the placeholders are exactly $1..$len(args) and the arguments are
// values PostgreSQL accepts as text.
func checkBinding(t *testing.T, sql string, args []any) {
	t.Helper()
	used := map[int]bool{}
	for _, m := range placeholderRE.FindAllStringSubmatch(sql, -1) {
		n, _ := strconv.Atoi(m[1])
		if n < 1 || n > len(args) {
			t.Fatalf("$%d with %d args: %s", n, len(args), sql)
		}
		used[n] = true
	}
	if len(used) != len(args) {
		t.Fatalf("%d placeholders used, %d args: %s", len(used), len(args), sql)
	}
	text := func(s string) {
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Fatalf("argument %q can't be PostgreSQL text", s)
		}
	}
	for _, a := range args {
		switch a := a.(type) {
		case string:
			text(a)
		case []string:
			for _, s := range a {
				text(s)
			}
		case int64:
		default:
			t.Fatalf("argument of type %T", a)
		}
	}
}

func TestFuzzInvariantsCatchInjection(t *testing.T) {
	// The invariants must reject what an injection would produce; check that they would.
	v := vocabulary(testProjects)
	for _, bad := range []string{
		"p.name = 'x' OR TRUE",           // a literal that isn't in the vocabulary
		"p.name = $1; DELETE FROM tasks", // a semicolon and unknown words
		`p."name" = $1`,                  // a quoted identifier
		"p.name = 1",                     // a number
		"p.name = $1 -- x",               // a comment
	} {
		if checkLexical(bad, v) == nil {
			t.Errorf("checkLexical accepted %q", bad)
		}
	}
	for _, bad := range []string{`p.name COLLATE "C" > $1`, `p."und-x-icu" = $1`} {
		if checkLexical(bad, v) == nil {
			t.Errorf("checkLexical accepted %q", bad)
		}
	}
	if checkLexical(`p.name COLLATE "und-x-icu" > $1::text`, v) != nil {
		t.Error("checkLexical refused the collation")
	}
	if q := mustParse(t, "filter=name||$eq||a", testProjects); fmt.Sprint(blanked(q).where.cond.vals) != "[v]" {
		t.Error("blanked kept a value")
	}
	q := mustParse(t, "select=id,tasks(title)&tasks.title=eq.a&organizationId=eq."+id1, testProjects)
	if b := blanked(q); fmt.Sprint(b.joins[0].where.cond.vals, b.where.cond.vals) != "[v] [v]" || q.joins[0].where.cond.vals[0] != "a" {
		t.Error("blanked kept a value of an embedded filter, or changed the query")
	}
}
