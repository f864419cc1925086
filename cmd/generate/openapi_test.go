package main

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"scaleapi/shared/apsorc"
	"scaleapi/shared/organization"
	"scaleapi/shared/query"
	"scaleapi/shared/resource"
)

// schemas are the root schema and the root schema with everyType's entities, each with the
// allow-lists of its lists (organizations' too), as the engine parses them.
func schemas(t *testing.T) map[string]*apsorc.Schema {
	t.Helper()
	root, err := apsorc.Load(filepath.Join(repoRoot, ".apsorc"))
	if err != nil {
		t.Fatal(err)
	}
	every, err := apsorc.Parse(rootWith(t, everyType, everyTypeRelations, nil))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*apsorc.Schema{"root": root, "every type": every}
}

// allowLists are s's list resources with the allow-list each is parsed against.
func allowLists(t *testing.T, s *apsorc.Schema) map[*query.Schema]listResource {
	t.Helper()
	eng, err := resource.NewEngine(s, resource.EngineDeps{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[*query.Schema]listResource{organization.Schema: newListResource("organizations", organization.Schema)}
	for _, e := range s.Entities {
		if qs, ok := eng.QuerySchema(e.Name); ok {
			out[qs] = newListResource(e.Path, qs)
		}
	}
	return out
}

// TestListGrammar tries an example of every field and operator group of every list: each must
// match the document's pattern and be accepted by the parser the engine runs (query.ParseRequest
// over the engine's allow-list); and near misses must be refused by both.
func TestListGrammar(t *testing.T) {
	for name, s := range schemas(t) {
		for qs, r := range allowLists(t, s) {
			t.Run(name+"/"+r.prefix, func(t *testing.T) { checkGrammar(t, qs, r) })
		}
	}
}

func checkGrammar(t *testing.T, s *query.Schema, r listResource) {
	re := regexp.MustCompile(conditionRE(r))
	example := func(f query.Field) string {
		switch f.Type {
		case query.UUID:
			return "3b241101-e2bb-4255-8caf-4136c566a962"
		case query.Int:
			return "-42"
		case query.Float:
			return "-4.25e3"
		case query.Numeric:
			return "-12.50"
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
		_, err := query.ParseRequest(httptest.NewRequest("GET", "/?"+values.Encode(), nil), s)
		if accept && err != nil {
			t.Errorf("%s is refused: %v", values.Encode(), err)
		} else if !accept && err == nil {
			t.Errorf("%s is accepted", values.Encode())
		}
	}
	cases := func(prefix string, f query.Field) (ok, bad []string) {
		v, n := example(f), prefix+f.Name
		if f.Type == query.JSON {
			return []string{n + "||$isnull", n + "||notnull||ignored"}, []string{n + "||$eq||1", "nope" + n + "||$isnull"}
		}
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
		case query.UUID, query.Int, query.Date, query.Timestamptz, query.Float, query.Numeric, query.Bool:
			bad = append(bad, n+"||$eq||x", n+"||$between||"+v)
		}
		return ok, bad
	}
	check := func(join, prefix string, f query.Field) {
		ok, bad := cases(prefix, f)
		for _, c := range ok {
			if !re.MatchString(c) {
				t.Errorf("the filter pattern does not match %q", c)
			}
			vals := url.Values{"filter": {c}}
			if join != "" {
				vals.Set("join", join)
			}
			try(vals, true)
		}
		for _, c := range bad {
			if re.MatchString(c) {
				t.Errorf("the filter pattern matches %q", c)
			}
			vals := url.Values{"filter": {c}}
			if join != "" {
				vals.Set("join", join)
			}
			try(vals, false)
		}
	}
	sorts := regexp.MustCompile(`^` + namesRE("", sortable(r.own)) + `(?:, *(?:[aA][sS][cC]|[dD][eE][sS][cC])? *)?$`)
	for _, f := range r.own {
		check("", "", f)
		try(url.Values{"fields": {f.Name}}, true)
		try(url.Values{"sort": {f.Name + ",desc"}}, sorts.MatchString(f.Name+",desc"))
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
		// A relation's field without its join is refused.
		try(url.Values{"filter": {rel.name + "." + rel.fields[0].Name + "||$isnull"}}, false)
	}
	try(url.Values{"join": {"nope"}}, false)
}

// TestDocument checks documents made for the schemas: every $ref resolves, operation ids are
// unique, every path parameter is declared, and the platform's list (GET /organizations) takes
// exactly the generated parameters of its list.
func TestDocument(t *testing.T) {
	for name, s := range schemas(t) {
		t.Run(name, func(t *testing.T) {
			platform, err := decodeOrdered(readFile(t, repoRoot, platformFile))
			if err != nil {
				t.Fatal(err)
			}
			hooks, err := decodeOrdered(readFile(t, repoRoot, hooksFile))
			if err != nil {
				t.Fatal(err)
			}
			doc, err := document(s, platform, hooks)
			if err != nil {
				t.Fatal(err)
			}
			var walk func(v any)
			walk = func(v any) {
				switch x := v.(type) {
				case *ordered:
					if r, ok := x.vals["$ref"].(string); ok && !resolves(doc, r) {
						t.Errorf("$ref %s does not resolve", r)
					}
					for _, k := range x.keys {
						walk(x.vals[k])
					}
				case []any:
					for _, e := range x {
						walk(e)
					}
				}
			}
			walk(doc)
			ids := map[string]bool{}
			paths := doc.object("paths")
			for _, p := range paths.keys {
				for _, m := range paths.object(p).keys {
					op := paths.object(p).object(m)
					id := op.vals["operationId"].(string)
					if ids[id] {
						t.Errorf("operationId %s twice", id)
					}
					ids[id] = true
					var inPath []string
					for _, p := range asList(op.vals["parameters"]) {
						if p := p.(*ordered); p.vals["in"] == "path" {
							inPath = append(inPath, "{"+p.vals["name"].(string)+"}")
						}
					}
					if want := regexp.MustCompile(`\{[a-zA-Z]+\}`).FindAllString(p, -1); !slices.Equal(inPath, want) {
						t.Errorf("%s %s declares path parameters %v", m, p, inPath)
					}
				}
			}
			var got []string
			for _, p := range asList(paths.object("/organizations").object("get").vals["parameters"]) {
				got = append(got, strings.TrimPrefix(p.(*ordered).vals["$ref"].(string), "#/components/parameters/"))
			}
			if want := listParams(newListResource("organizations", organization.Schema), false); !slices.Equal(got, want) {
				t.Errorf("GET /organizations takes %v, want %v", got, want)
			}
		})
	}
}

// TestDocumentEveryType spot-checks what the engine answers for everyType's entities.
func TestDocumentEveryType(t *testing.T) {
	platform, _ := decodeOrdered(readFile(t, repoRoot, platformFile))
	hooks, _ := decodeOrdered(readFile(t, repoRoot, hooksFile))
	doc, err := document(schemas(t)["every type"], platform, hooks)
	if err != nil {
		t.Fatal(err)
	}
	paths, comps := doc.object("paths"), doc.object("components").object("schemas")
	statuses := func(path, method string) []string { return paths.object(path).object(method).object("responses").keys }
	for _, c := range []struct {
		path, method string
		want         []string
	}{
		// Hard delete, deleteRole admin: 403; no soft delete, so no recover route.
		{"/comments/{id}", "delete", []string{"204", "400", "401", "403", "404", "412", "429", "503"}},
		// A unique field: 409 on every write.
		{"/comments/{id}", "patch", []string{"200", "400", "401", "404", "409", "412", "413", "415", "422", "429", "503"}},
		{"/comments/{id}/labels/{other}", "put", []string{"204", "400", "401", "404", "429", "503"}},
		{"/labels/{id}/comments", "get", []string{"200", "206", "400", "401", "404", "429", "503"}},
		// A task's recover checks its project and assignee are still there.
		{"/tasks/{id}/recover", "patch", []string{"200", "400", "401", "404", "409", "429", "503"}},
	} {
		if got := statuses(c.path, c.method); !slices.Equal(got, c.want) {
			t.Errorf("%s %s answers %v, want %v", c.method, c.path, got, c.want)
		}
	}
	if paths.object("/comments/{id}/recover") != nil {
		t.Error("a recover route for an entity without soft delete")
	}
	id := asList(paths.object("/comments/{id}").object("get").vals["parameters"])[0].(*ordered).object("schema")
	if id.vals["type"] != "integer" {
		t.Errorf("a serial id is %v", id.vals)
	}
	create := comps.object("CommentCreate")
	if got := create.vals["required"]; !slices.Equal(asList(got), []any{"taskId"}) {
		t.Errorf("CommentCreate requires %v, want taskId alone (the rest have defaults or are nullable; organizationId comes from the task)", got)
	}
	props := create.object("properties")
	// The organization follows the task's: the engine sets it, a body may not name it.
	if props.object("organizationId") != nil || comps.object("CommentReplace").object("properties").object("organizationId") != nil {
		t.Error("CommentCreate or CommentReplace has organizationId, which the engine refuses (read-only)")
	}
	if org := comps.object("Comment").object("properties").object("organizationId"); org.vals["readOnly"] != true {
		t.Errorf("Comment.organizationId: %s", compactJSON(org))
	}
	// A PUT keeps the task when it is left out.
	if got := comps.object("CommentReplace").vals["required"]; got != nil {
		t.Errorf("CommentReplace requires %v", got)
	}
	for field, want := range map[string]string{
		"amount": `{"anyOf":[{"type":"number","multipleOf":0.01,"exclusiveMinimum":-1000000,"exclusiveMaximum":1000000},{"type":"string","pattern":"^-?0*[0-9]{1,6}(?:\\.[0-9]{1,2})?$"},{"type":"null"}]}`,
		"rating": `{"type":["integer","null"],"format":"int32","minimum":-2147483648,"maximum":2147483647}`,
		"meta":   `{}`,
		"kind":   `{"type":"string","enum":["note","question"]}`,
	} {
		p := props.object(field)
		delete(p.vals, "description")
		p.keys = slices.DeleteFunc(p.keys, func(k string) bool { return k == "description" })
		if got := compactJSON(p); got != want {
			t.Errorf("CommentCreate.%s:\n%s\nwant\n%s", field, got, want)
		}
	}
	comment := comps.object("Comment").object("properties")
	if got := compactJSON(comment.object("id")); !strings.HasPrefix(got, `{"type":"integer","format":"int64","readOnly":true`) {
		t.Errorf("Comment.id: %s", got)
	}
	// A ManyToMany is listed through /comments/{id}/labels, not joined.
	if comment.object("labels") != nil {
		t.Errorf("Comment.labels: %s", compactJSON(comment.object("labels")))
	}
}

// TestHooksRefused: hooks.json may name only entities the engine serves and their fields.
func TestHooksRefused(t *testing.T) {
	s := schemas(t)["root"]
	for hooks, want := range map[string]string{
		`{"Nope": {"name": {}}}`:    `"Nope" is not an entity the engine serves`,
		`{"User": {"name": {}}}`:    `"User" is not an entity the engine serves`,
		`{"Project": {"nope": {}}}`: `Project has no field "nope"`,
	} {
		platform, _ := decodeOrdered(readFile(t, repoRoot, platformFile))
		h, err := decodeOrdered([]byte(hooks))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := document(s, platform, h); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("hooks %s: %v, want %q", hooks, err, want)
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// compactJSON is v without white space.
func compactJSON(v any) string {
	var b bytes.Buffer
	if err := json.Compact(&b, encodeOrdered(v)); err != nil {
		panic(err)
	}
	return b.String()
}

func resolves(doc *ordered, ref string) bool {
	if !strings.HasPrefix(ref, "#/") {
		return false
	}
	cur := doc
	for _, part := range strings.Split(ref[2:], "/") {
		next := cur.object(part)
		if next == nil {
			return false
		}
		cur = next
	}
	return true
}
