package attack_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"scaleapi/shared/auth"
	"scaleapi/shared/openapi"
)

// schema is a JSON Schema object of the document, its $ref already followed.
type schema = map[string]any

// document is the OpenAPI document the health function serves, read into what the cases are
// generated from.
type document struct {
	raw        map[string]any
	operations []*operation
	byRoute    map[string]*operation // "POST /projects"
	roles      []auth.Role           // components.schemas.Role's values, highest first
}

// operation is one method of one path of the document.
type operation struct {
	Method, Path string
	ID           string
	Summary      string
	Description  string
	// Params are the path parameters, in path order.
	Params []string
	// Query and Header are the declared query and header parameters, by name.
	Query  map[string]schema
	Header map[string]schema
	// Body is the application/json request body's schema, nil when the operation takes none.
	Body schema
	// Statuses are the response statuses the document declares, and Responses the
	// application/json schemas of those that have one.
	Statuses  map[int]bool
	Responses map[int]schema
	// Contents are the media types the document declares for each status's body.
	Contents map[int][]string
	// Secured says the operation needs a bearer token.
	Secured bool
	// MinRole is the least role the document says the operation needs in its organization
	// ("Rename (owner, admin)", "needs the admin role"); "" when it names none.
	MinRole auth.Role

	fn *built
}

// Key is "METHOD /path".
func (o *operation) Key() string { return o.Method + " " + o.Path }

// Unsafe says the operation may change something.
func (o *operation) Unsafe() bool { return o.Method != "GET" }

// readDocument parses the embedded document.
func readDocument() (*document, error) {
	d := &document{byRoute: map[string]*operation{}}
	if err := json.Unmarshal(openapi.Document, &d.raw); err != nil {
		return nil, err
	}
	for _, v := range asSlice(d.schemaRef("#/components/schemas/Role")["enum"]) {
		d.roles = append(d.roles, auth.Role(v.(string)))
	}
	sort.Slice(d.roles, func(i, j int) bool { return !d.roles[j].AtLeast(d.roles[i]) })
	if len(d.roles) == 0 {
		return nil, fmt.Errorf("the document has no Role schema")
	}
	names := make([]string, len(d.roles))
	for i, r := range d.roles {
		names[i] = string(r)
	}
	alt := strings.Join(names, "|")
	listed := regexp.MustCompile(`\(((?:` + alt + `)(?:, (?:` + alt + `))*)\)`)
	needs := regexp.MustCompile(`needs the (` + alt + `) role`)

	topSecurity := asSlice(d.raw["security"])
	paths := asMap(d.raw["paths"])
	for _, path := range sortedKeys(paths) {
		item := asMap(paths[path])
		shared := asSlice(item["parameters"])
		for _, method := range []string{"get", "put", "post", "delete", "patch"} {
			raw, ok := item[method]
			if !ok {
				continue
			}
			m := asMap(raw)
			op := &operation{
				Method: strings.ToUpper(method), Path: path,
				ID: str(m["operationId"]), Summary: str(m["summary"]), Description: str(m["description"]),
				Query: map[string]schema{}, Header: map[string]schema{}, Statuses: map[int]bool{}, Responses: map[int]schema{}, Contents: map[int][]string{},
			}
			for _, p := range slices.Concat(shared, asSlice(m["parameters"])) {
				p := d.resolve(asMap(p))
				switch p["in"] {
				case "path":
					op.Params = append(op.Params, str(p["name"]))
				case "query":
					op.Query[str(p["name"])] = p
				case "header":
					op.Header[str(p["name"])] = p
				}
			}
			// Path order, whatever order the parameters are declared in.
			sort.Slice(op.Params, func(i, j int) bool {
				return strings.Index(path, "{"+op.Params[i]+"}") < strings.Index(path, "{"+op.Params[j]+"}")
			})
			if rb := asMap(m["requestBody"]); rb != nil {
				if c := asMap(asMap(rb["content"])["application/json"]); c != nil {
					op.Body = d.resolve(asMap(c["schema"]))
				}
			}
			for code, r := range asMap(m["responses"]) {
				n, err := strconv.Atoi(code)
				if err != nil {
					continue
				}
				op.Statuses[n] = true
				content := asMap(d.resolve(asMap(r))["content"])
				op.Contents[n] = sortedKeys(content)
				if c := asMap(content["application/json"]); c != nil {
					op.Responses[n] = d.resolve(asMap(c["schema"]))
				}
			}
			security := topSecurity
			if s, ok := m["security"]; ok {
				security = asSlice(s)
			}
			for _, req := range security {
				if len(asMap(req)) > 0 {
					op.Secured = true
				}
			}
			text := op.Summary + " " + op.Description
			var named []auth.Role
			if g := listed.FindStringSubmatch(text); g != nil {
				for _, r := range strings.Split(g[1], ", ") {
					named = append(named, auth.Role(r))
				}
			}
			if g := needs.FindStringSubmatch(text); g != nil {
				named = append(named, auth.Role(g[1]))
			}
			for _, r := range named {
				if op.MinRole == "" || op.MinRole.AtLeast(r) {
					op.MinRole = r
				}
			}
			d.operations = append(d.operations, op)
			d.byRoute[op.Key()] = op
		}
	}
	return d, nil
}

// op returns the operation method path, or nil.
func (d *document) op(method, path string) *operation { return d.byRoute[method+" "+path] }

// schemaRef returns the object at ref ("#/components/schemas/Role").
func (d *document) schemaRef(ref string) schema {
	var cur any = d.raw
	for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
		cur = asMap(cur)[part]
	}
	return asMap(cur)
}

// resolve follows s's $ref, if it has one, recursively.
func (d *document) resolve(s schema) schema {
	for s != nil {
		ref, ok := s["$ref"].(string)
		if !ok {
			return s
		}
		s = d.schemaRef(ref)
	}
	return s
}

// property returns the resolved schema of s's property name, or nil.
func (d *document) property(s schema, name string) schema {
	p := asMap(asMap(s["properties"])[name])
	if p == nil {
		return nil
	}
	return d.resolve(p)
}

// types returns s's JSON types ("type": "string" or ["string", "null"]).
func types(s schema) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		var out []string
		for _, v := range t {
			out = append(out, str(v))
		}
		return out
	}
	return nil
}

// mainType is s's type other than null.
func mainType(s schema) string {
	for _, t := range types(s) {
		if t != "null" {
			return t
		}
	}
	return ""
}

// closed says s refuses properties it doesn't list.
func closed(s schema) bool { v, ok := s["additionalProperties"].(bool); return ok && !v }

// number returns s[key] as an int, and whether it is one.
func number(s schema, key string) (int, bool) {
	f, ok := s[key].(float64)
	return int(f), ok
}

// requiredOf returns s's required property names.
func requiredOf(s schema) []string {
	var out []string
	for _, v := range asSlice(s["required"]) {
		out = append(out, str(v))
	}
	return out
}

// describedNumber reads a number out of a description with re, whose first group is it.
func describedNumber(desc string, re *regexp.Regexp) (int, bool) {
	g := re.FindStringSubmatch(desc)
	if g == nil {
		return 0, false
	}
	n, err := strconv.Atoi(g[1])
	return n, err == nil
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asSlice(v any) []any        { s, _ := v.([]any); return s }
func str(v any) string           { s, _ := v.(string); return s }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
