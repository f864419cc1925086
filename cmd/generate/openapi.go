package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/organization"
	"scaleapi/shared/query"
	"scaleapi/shared/resource"
)

const (
	openapiDir = "shared/openapi"
	// platformFile is the hand-written part of the document: the platform's routes (auth,
	// organizations, reports, health) and the components every part shares.
	platformFile = openapiDir + "/platform.json"
	// hooksFile says, by entity and field, what the domain's hooks (shared/domain) add to the
	// schema's rules on written values: merged into the request bodies' properties.
	hooksFile    = openapiDir + "/hooks.json"
	documentFile = openapiDir + "/openapi.json"
)

// The engine's answers, as the document declares them: what every route of its kind can
// answer (the engine is the truth: shared/resource's engine_http.go, engine_body.go and
// engine_model.go), each error one of platform.json's components.responses, all problem+json.
var responseNames = map[int]string{
	400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 409: "Conflict",
	412: "PreconditionFailed", 413: "TooLarge", 415: "UnsupportedMediaType", 422: "Invalid",
	429: "RateLimited", 503: "Unavailable",
}

// maxText is the engine's bound on a text field without a length (resource's maxText).
const maxText = 64 << 10

// openapiOutputs returns openapi.json: platform.json with every engine route, each entity's
// schemas and every list's query components added.
func openapiOutputs(root string, s *apsorc.Schema) ([]output, error) {
	read := func(name string) (*ordered, error) {
		b, err := os.ReadFile(filepath.Join(root, name)) // #nosec G304 -- the module root and a fixed path
		if err != nil {
			return nil, err
		}
		o, err := decodeOrdered(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		return o, nil
	}
	platform, err := read(platformFile)
	if err != nil {
		return nil, err
	}
	hooks, err := read(hooksFile)
	if err != nil {
		return nil, err
	}
	doc, err := document(s, platform, hooks)
	if err != nil {
		return nil, err
	}
	return []output{{path: documentFile, data: encodeOrdered(doc)}}, nil
}

// document merges into platform (which it changes) what the engine serves for s.
func document(s *apsorc.Schema, platform, hooks *ordered) (*ordered, error) {
	eng, err := resource.NewEngine(s, resource.EngineDeps{}, nil)
	if err != nil {
		return nil, err
	}
	paths, comps := platform.object("paths"), platform.object("components")
	if paths == nil || comps == nil || comps.object("schemas") == nil || comps.object("parameters") == nil {
		return nil, fmt.Errorf("%s needs paths, components.schemas and components.parameters", platformFile)
	}
	g := &generator{s: s, lists: map[*apsorc.Entity]listResource{}, schemas: &ordered{vals: map[string]any{}},
		paths: &ordered{vals: map[string]any{}}}
	rs := []listResource{newListResource("organizations", organization.Schema)}
	var served []*apsorc.Entity
	for _, e := range s.Entities {
		qs, ok := eng.QuerySchema(e.Name)
		if !ok {
			continue // a platform entity
		}
		g.lists[e] = newListResource(e.Path, qs)
		rs = append(rs, g.lists[e])
		if e.HTTP {
			served = append(served, e)
		}
	}
	for _, e := range s.Entities {
		if _, ok := g.lists[e]; ok {
			g.entitySchemas(e, eng)
		}
	}
	for _, e := range served {
		g.entityPaths(e)
	}
	if err := g.applyHooks(hooks); err != nil {
		return nil, err
	}
	if err := g.checkRoutes(s); err != nil {
		return nil, err
	}
	params, schemas := &ordered{vals: map[string]any{}}, &ordered{vals: map[string]any{}}
	listComponents(rs, params, schemas)
	for _, k := range g.schemas.keys {
		schemas.set(k, g.schemas.vals[k])
	}
	for _, add := range []struct {
		into *ordered
		what string
		from *ordered
	}{{paths, "paths", g.paths}, {comps.object("schemas"), "components.schemas", schemas}, {comps.object("parameters"), "components.parameters", params}} {
		for _, k := range add.from.keys {
			if _, dup := add.into.vals[k]; dup {
				return nil, fmt.Errorf("%s has %s %s, which the model generates", platformFile, add.what, k)
			}
			add.into.set(k, add.from.vals[k])
		}
	}
	tags, _ := platform.vals["tags"].([]any)
	for _, e := range served {
		tags = append(tags, obj("name", e.Path, "description", "The "+e.Name+" entity of the .apsorc, served by the resource engine."))
	}
	platform.set("tags", tags)
	return platform, nil
}

// generator holds what document makes from the schema.
type generator struct {
	s       *apsorc.Schema
	lists   map[*apsorc.Entity]listResource // every entity of the engine's
	schemas *ordered                        // components.schemas: {E}, {E}Create, {E}Replace, {E}Update
	paths   *ordered
}

// --- component schemas ----------------------------------------------------------------------

// entitySchemas adds e's schemas: {E}, an entity as the engine answers it, and, when e has
// routes, the bodies {E}Create (POST, and each item of POST …/bulk), {E}Replace (PUT) and
// {E}Update (PATCH).
func (g *generator) entitySchemas(e *apsorc.Entity, eng *resource.Engine) {
	qs, _ := eng.QuerySchema(e.Name)
	props := &ordered{vals: map[string]any{}}
	var required []any
	for _, qf := range ownFields(qs) {
		f, _ := e.Field(qf.Name)
		p := responseField(qf, f)
		if f != nil && f == derivedScope(e) {
			p.set("readOnly", true)
			p.set("description", "The organization of its "+parentKey(e).Relation.Target.Noun+" ("+parentKey(e).Name+"), set by the engine: a body that names it is a 400.")
		}
		props.set(qf.Name, p)
		required = append(required, qf.Name)
	}
	for _, rel := range qs.Relations() {
		r, _ := e.Relation(rel.Name)
		item := g.joined(r, rel)
		if rel.Many {
			props.set(rel.Name, obj("type", "array", "items", item, "description", "With join="+rel.Name+"."))
		} else {
			props.set(rel.Name, obj("description", "With join="+rel.Name+"; null when there is none (or it is deleted).",
				"anyOf", []any{item, obj("type", "null")}))
		}
	}
	g.schemas.set(e.Name, obj("type", "object",
		"description", "A "+e.Noun+" as every route answers it (GET …/{id} with fields or join answers the fields and relations asked for).",
		"required", required, "properties", props))

	if !e.HTTP {
		return // joined and listed through other entities' routes, never written through its own
	}
	injected := e.Scope.Direct() && e.Scope.InjectOnCreate
	derived := derivedScope(e)
	for _, body := range []struct {
		suffix, desc string
		required     func(*apsorc.Field) bool
	}{
		{"Create", "The body of a create: every field the engine doesn't set. A field left out takes its default, else null when nullable; one that is neither is a 422.",
			func(f *apsorc.Field) bool { return !(injected && f == e.Scope.Field) }},
		{"Replace", "The body of a PUT: every writable field is replaced, a field left out going back to its default (or null), as in a create; the organization and the required references stay as they are when left out.",
			func(f *apsorc.Field) bool { return !keptByPut(e, f) }},
		{"Update", "The body of a PATCH: the fields present change, null clears a nullable one; {} changes nothing.",
			func(*apsorc.Field) bool { return false }},
	} {
		props := &ordered{vals: map[string]any{}}
		var required []any
		for _, f := range e.Fields {
			if f == derived {
				continue
			}
			props.set(f.Name, g.requestField(e, f, body.suffix))
			if body.required(f) && !f.Nullable && f.Default == nil {
				required = append(required, f.Name)
			}
		}
		o := obj("type", "object", "additionalProperties", false, "description", body.desc+
			" A field the entity lacks, or one the engine sets (id, createdAt, updatedAt, version), is a 400; a value of the wrong JSON type is a 400, one the field doesn't take a 422 naming it.")
		if len(required) > 0 {
			o.set("required", required)
		}
		o.set("properties", props)
		g.schemas.set(e.Name+body.suffix, o)
	}
}

// joined is the schema of a row of relation r as a join shows it: the target's own fields,
// its schema's when the engine serves it, else (a platform table) what rel's allow-list shows.
func (g *generator) joined(r *apsorc.Relation, rel query.Relation) *ordered {
	if _, ok := g.lists[r.Target]; ok {
		return ref("schemas", r.Target.Name)
	}
	props := &ordered{vals: map[string]any{}}
	var required []any
	for _, qf := range ownFields(rel.Schema) {
		p := responseField(qf, nil)
		delete(p.vals, "description") // the engine's words about its own columns
		p.keys = slices.DeleteFunc(p.keys, func(k string) bool { return k == "description" })
		props.set(qf.Name, p)
		required = append(required, qf.Name)
	}
	return obj("type", "object", "required", required, "properties", props)
}

// engineColumns are the read-only fields the engine sets, and their descriptions.
var engineColumns = map[string]string{
	"id":        "Made by the engine (a time-ordered UUID, or the serial's next value).",
	"createdAt": "Set by the engine when the row is created.",
	"updatedAt": "Set by the engine at every write.",
	"version":   "Starts at 1 and grows by one at every write; the ETag is \"version\", and If-Match takes it.",
}

// responseField is the schema of field qf as the engine answers it (f is its schema field, nil
// for the engine's columns and a platform table's).
func responseField(qf query.Field, f *apsorc.Field) *ordered {
	var o *ordered
	switch qf.Type {
	case query.UUID:
		o = obj("type", "string", "format", "uuid")
	case query.Text:
		o = obj("type", "string")
	case query.Enum:
		o = obj("type", "string", "enum", slices.Clone(qf.Values))
	case query.Int:
		format := "int64"
		if qf.Name == "version" && f == nil || f != nil && f.Type == apsorc.Integer {
			format = "int32"
		}
		o = obj("type", "integer", "format", format)
	case query.Bool:
		o = obj("type", "boolean")
	case query.Float, query.Numeric:
		o = obj("type", "number")
	case query.Date:
		o = obj("type", "string", "format", "date")
	case query.Timestamptz:
		o = obj("type", "string", "format", "date-time")
	case query.JSON:
		o = obj("description", "Any JSON value.")
	}
	if qf.Nullable {
		nullable(o)
	}
	if desc, ok := engineColumns[qf.Name]; ok && f == nil {
		o.set("readOnly", true)
		o.set("description", desc)
	}
	return o
}

// nullable makes o also take null: ["t", "null"] as its type, null among its enum values.
func nullable(o *ordered) {
	switch t := o.vals["type"].(type) {
	case string:
		o.set("type", []any{t, "null"})
	case nil:
		if alts, ok := o.vals["anyOf"].([]any); ok {
			o.set("anyOf", append(alts, obj("type", "null")))
		}
		return // JSON: any value, null included
	}
	if vals, ok := o.vals["enum"].([]string); ok {
		o.set("enum", append(slices.Clone(toAny(vals)), nil))
	}
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// requestField is the schema of field f of e in a write's body (body: Create, Replace or
// Update), as engine_body.go reads it.
func (g *generator) requestField(e *apsorc.Entity, f *apsorc.Field, body string) *ordered {
	var o *ordered
	var desc []string
	switch f.Type {
	case apsorc.Text:
		n := f.Length
		if n == 0 {
			n = maxText
		}
		o = obj("type", "string", "maxLength", num(int64(n)), "pattern", `^[^\x00]*$`)
		desc = append(desc, "At most "+strconv.Itoa(n)+" characters. No NUL character (a 400: PostgreSQL text can't hold one).")
		if f.Email {
			o.set("format", "email")
			desc = append(desc, "An email address, without a display name.")
		}
	case apsorc.Enum:
		o = obj("type", "string", "enum", slices.Clone(f.Values))
	case apsorc.Integer:
		o = obj("type", "integer", "format", "int32", "minimum", num(math.MinInt32), "maximum", num(math.MaxInt32))
	case apsorc.BigInt:
		o = obj("anyOf", []any{obj("type", "integer", "format", "int64", "minimum", num(1), "maximum", num(math.MaxInt64)),
			patternString(`^[1-9][0-9]{0,17}$`)})
		desc = append(desc, "An id: an integer, or its digits as a string.")
	case apsorc.Boolean:
		o = obj("type", "boolean")
	case apsorc.Float:
		o = obj("type", "number")
	case apsorc.Decimal:
		o, desc = decimalField(f), append(desc, "A JSON number or a string of digits (how clients keep money exact), answered as a JSON number; a JSON number is read as written, so one in exponent notation (1e5) is a 422.")
	case apsorc.Date:
		o = obj("type", "string", "format", "date")
		desc = append(desc, "YYYY-MM-DD.")
	case apsorc.Timestamptz:
		o = obj("type", "string", "format", "date-time")
		desc = append(desc, "An RFC 3339 time, answered in UTC.")
	case apsorc.JSON:
		o = obj("type", []any{"object", "array", "string", "number", "boolean"}) // null only when nullable
		if f.Nullable {
			o = obj()
		}
		desc = append(desc, "Any JSON value, stored as jsonb.")
	case apsorc.UUID:
		o = obj("type", "string", "format", "uuid")
	}
	if f.Nullable && f.Type != apsorc.JSON {
		nullable(o)
	}
	if r := f.Relation; r != nil || f.Implicit {
		desc = append(desc, referenceNote(e, f))
	}
	switch {
	case body == "Update":
	case body == "Replace" && keptByPut(e, f):
		desc = append(desc, "Left out, it stays as it is.")
	case f == e.Scope.Field && e.Scope.Direct() && e.Scope.InjectOnCreate:
		desc = append(desc, "Left out, it is the caller's organization when the caller belongs to exactly one (a 422 otherwise).")
	case f.Default != nil:
		b, _ := json.Marshal(f.Default)
		desc = append(desc, "Left out: "+string(b)+".")
	case f.Nullable:
		desc = append(desc, "Left out: null.")
	}
	if len(desc) > 0 {
		o.set("description", strings.Join(desc, " "))
	}
	return o
}

// decimalField is a decimal's schema: a JSON number or a string of digits, within the
// field's precision and scale when it has them (engine_body.go's decimal).
func decimalField(f *apsorc.Field) *ordered {
	if f.Precision == 0 {
		// Any number of digits; a JSON number only as an integer short enough that no encoder
		// writes it in exponent notation.
		return obj("anyOf", []any{obj("type", "integer", "minimum", json.Number("-999999999999999"), "maximum", json.Number("999999999999999")),
			obj("type", "string", "maxLength", num(1000), "pattern", `^-?[0-9]+(?:\.[0-9]+)?$`)})
	}
	whole := f.Precision - f.Scale
	bound := "1" + strings.Repeat("0", whole)
	n := obj("type", "integer")
	frac := ""
	if f.Scale > 0 {
		n = obj("type", "number", "multipleOf", json.Number("0."+strings.Repeat("0", f.Scale-1)+"1"))
		frac = `(?:\.[0-9]{1,` + strconv.Itoa(f.Scale) + `})?`
	}
	n.set("exclusiveMinimum", json.Number("-"+bound))
	n.set("exclusiveMaximum", json.Number(bound))
	wholeRE := `0*[0-9]{1,` + strconv.Itoa(whole) + `}`
	if whole == 0 {
		wholeRE = `0+`
	}
	return obj("anyOf", []any{n, patternString(`^-?` + wholeRE + frac + `$`)})
}

// parentKey is the foreign key e's organization follows (resource's model.parent): with a
// direct scope, the first required ManyToOne to an entity of the engine; else nil.
func parentKey(e *apsorc.Entity) *apsorc.Field {
	if !e.Scope.Direct() {
		return nil
	}
	for _, f := range e.Fields {
		if r := f.Relation; r != nil && !f.Nullable && r.Kind == apsorc.ManyToOne && r.Target.Platform == apsorc.NotPlatform {
			return f
		}
	}
	return nil
}

// keptByPut reports whether a PUT that leaves f out keeps its value (resource's apply): the
// scope field, and a required reference.
func keptByPut(e *apsorc.Entity, f *apsorc.Field) bool {
	return f == e.Scope.Field || f.Relation != nil && !f.Nullable
}

// derivedScope is e's scope field when e's organization always is its parent's (a task's is
// its project's: a direct scope, a parent key and scopeOptions.injectOnCreate): the engine
// sets it, and a body may not name it (resource's model.derivedScope). Else nil.
func derivedScope(e *apsorc.Entity) *apsorc.Field {
	if e.Scope.InjectOnCreate && parentKey(e) != nil {
		return e.Scope.Field
	}
	return nil
}

// referenceNote says what a foreign key of e must name (resource's checks).
func referenceNote(e *apsorc.Entity, f *apsorc.Field) string {
	switch {
	case f == e.Scope.Field && e.Scope.Direct():
		return "An organization the caller belongs to (404 otherwise); in a PUT or PATCH the entity's own (422 otherwise): an entity never moves."
	case f.Relation.Target.Platform == apsorc.Users:
		return "A member of the entity's organization (422 otherwise)."
	case f.Relation.Target.Platform == apsorc.Organizations:
		return "The entity's own organization (422 otherwise)."
	}
	return "A live " + f.Relation.Target.Noun + " of the entity's organization (404 otherwise, as for one that doesn't exist)."
}

// applyHooks merges hooks (entity → field → schema keywords) into the bodies' properties; a
// description is added to the generated one.
func (g *generator) applyHooks(hooks *ordered) error {
	for _, name := range hooks.keys {
		if name == "$comment" {
			continue
		}
		e, ok := g.s.Entity(name)
		fields, isObj := hooks.vals[name].(*ordered)
		if !ok || g.schemas.object(name+"Create") == nil || !isObj {
			return fmt.Errorf("%s: %q is not an entity the engine serves", hooksFile, name)
		}
		for _, fname := range fields.keys {
			kw, isObj := fields.vals[fname].(*ordered)
			if _, ok := e.Field(fname); !ok || !isObj {
				return fmt.Errorf("%s: %s has no field %q", hooksFile, name, fname)
			}
			for _, body := range []string{"Create", "Replace", "Update"} {
				p := g.schemas.object(name + body).object("properties").object(fname)
				for _, k := range kw.keys {
					v := kw.vals[k]
					if d, ok := p.vals["description"].(string); ok && k == "description" {
						v = d + " " + v.(string)
					}
					p.set(k, v)
				}
			}
		}
	}
	return nil
}

// --- paths ----------------------------------------------------------------------------------

// entityPaths adds the routes resource.Engine.Mount serves for e, in its order.
func (g *generator) entityPaths(e *apsorc.Entity) {
	lr := g.lists[e]
	base := "/" + e.Path
	id := idParam(e, "id")
	noun, nouns := e.Noun, e.Path
	entity := func(desc string) *ordered {
		return obj("description", desc, "content", jsonContent(ref("schemas", e.Name)), "headers", obj("ETag", etagHeader()))
	}
	body := func(name string) *ordered {
		return obj("required", true, "content", jsonContent(ref("schemas", name)))
	}
	deleteStatuses := []int{400, 404, 412}
	if e.Options.DeleteRole != "" && e.Options.DeleteRole != "member" {
		deleteStatuses = append(deleteStatuses, 403)
	}
	if g.deleteMayConflict(e) {
		deleteStatuses = append(deleteStatuses, 409)
	}
	writeStatuses := []int{400, 404, 412, 413, 415, 422}
	if len(e.Uniques) > 0 {
		writeStatuses = append(writeStatuses, 409)
	}
	createStatuses := []int{400, 404, 409, 413, 415, 422}

	g.op("get", base, e, "List "+nouns+" of the caller's organizations", "", listResponses(),
		params(nil, lr, false), nil, 400)
	g.op("post", base, e, "Create a "+noun, "", obj("201", obj("description", "Created.",
		"content", jsonContent(ref("schemas", e.Name)), "headers", obj("Location", locationHeader(base), "ETag", etagHeader()))),
		[]any{ref("parameters", "IdempotencyKey")}, body(e.Name+"Create"), createStatuses...)
	g.op("post", base+"/bulk", e, "Create 1 to "+strconv.Itoa(resource.MaxBulk)+" "+nouns+", all or none", "The items are checked together: every problem of every item is in one 422, each field prefixed with bulk[i].",
		obj("201", obj("description", "Created, in the request's order.", "content", jsonContent(obj("type", "array", "items", ref("schemas", e.Name))))),
		[]any{ref("parameters", "IdempotencyKey")},
		obj("required", true, "content", jsonContent(obj("type", "object", "additionalProperties", false, "required", []any{"bulk"},
			"properties", obj("bulk", obj("type", "array", "minItems", num(1), "maxItems", num(resource.MaxBulk), "items", ref("schemas", e.Name+"Create")))))),
		createStatuses...)
	g.op("get", base+"/{id}", e, "One "+noun, "Without a query (or with only cache) the cached entity, its version as the ETag; with fields or join another representation, rendered by the database and tagged by a digest.",
		obj("200", obj("description", "Found.", "content", jsonContent(obj("anyOf", []any{ref("schemas", e.Name),
			obj("type", "object", "description", "With fields or join: the selected fields and relations.")})), "headers", obj("ETag", etagHeader())),
			"304", ref("responses", "NotModified")),
		params([]any{id, ref("parameters", "IfNoneMatch")}, lr, true), nil, 400, 404)
	g.op("patch", base+"/{id}", e, "Change some fields of a "+noun, "", obj("200", entity("Changed.")),
		[]any{id, ref("parameters", "IfMatch")}, body(e.Name+"Update"), writeStatuses...)
	g.op("put", base+"/{id}", e, "Replace a "+noun, "", obj("200", entity("Replaced.")),
		[]any{id, ref("parameters", "IfMatch")}, body(e.Name+"Replace"), writeStatuses...)
	del := "Delete a " + noun
	desc := "The row is removed"
	if e.Options.SoftDelete {
		del, desc = "Delete a "+noun+" (soft: PATCH …/recover undoes it)", "The row is marked deleted"
	}
	desc += ", with every row that cascades from it; needs the " + deleteRole(e) + " role."
	g.op("delete", base+"/{id}", e, del, desc, obj("204", obj("description", "Deleted.")),
		[]any{id, ref("parameters", "IfMatch")}, nil, deleteStatuses...)
	if e.Options.SoftDelete {
		statuses := []int{400, 404}
		if e.Options.DeleteRole != "" && e.Options.DeleteRole != "member" {
			statuses = append(statuses, 403)
		}
		if recoverMayConflict(e) {
			statuses = append(statuses, 409)
		}
		g.op("patch", base+"/{id}/recover", e, "Recover a deleted "+noun, "Undeletes it and the rows deleted with it (a live one is answered as it is); needs the "+deleteRole(e)+" role. A reference that is gone meanwhile is a 409 naming it.",
			obj("200", entity("Recovered.")), []any{id}, nil, statuses...)
	}
	for _, r := range e.Relations {
		t := r.Target
		tl, served := g.lists[t]
		if !served || !(r.Kind == apsorc.ManyToMany || r.Kind == apsorc.OneToMany && r.Inverse != nil && r.Inverse.Field != nil) {
			continue
		}
		path := base + "/{id}/" + r.Name
		g.op("get", path, t, "The "+t.Path+" of a "+noun+" ("+r.Name+")", "A list of "+t.Path+", with "+t.Path+"' query parameters; the "+noun+" must be the caller's to see (404 otherwise).",
			listResponses(), params([]any{id}, tl, false), nil, 400, 404)
		if r.Kind == apsorc.ManyToMany {
			other := idParam(t, "other")
			for _, m := range []struct{ method, summary string }{
				{"put", "Link a " + t.Noun + " to a " + noun + " (" + r.Name + ")"},
				{"delete", "Unlink a " + t.Noun + " from a " + noun + " (" + r.Name + ")"},
			} {
				g.op(m.method, path+"/{other}", e, m.summary, "Both must be live and of one organization the caller belongs to (404 otherwise); linking a linked pair, or unlinking one that isn't, changes nothing.",
					obj("204", obj("description", "Done.")), []any{id, other}, nil, 400, 404)
			}
		}
	}
}

// op adds the operation method path (tagged with e's path) that answers ok and, besides the
// answers of every authenticated route (401, 429, 503), the statuses errs.
func (g *generator) op(method, path string, e *apsorc.Entity, summary, desc string, ok *ordered, params []any, body *ordered, errs ...int) {
	responses := &ordered{vals: map[string]any{}}
	for _, k := range ok.keys {
		responses.set(k, ok.vals[k])
	}
	codes := slices.Clone(errs)
	codes = append(codes, 401, 429, 503)
	slices.Sort(codes)
	for _, c := range slices.Compact(codes) {
		responses.set(strconv.Itoa(c), ref("responses", responseNames[c]))
	}
	o := obj("summary", summary, "operationId", method+pathWords(path), "responses", responses, "tags", []any{e.Path})
	if len(params) > 0 {
		o.set("parameters", params)
	}
	if body != nil {
		o.set("requestBody", body)
	}
	o.set("security", []any{obj("bearer", []any{})})
	if desc != "" {
		o.set("description", desc)
	}
	item := g.paths.object(path)
	if item == nil {
		item = &ordered{vals: map[string]any{}}
		g.paths.set(path, item)
	}
	item.set(method, o)
}

// params are head followed by the list parameters of r (byID: those of GET …/{id}).
func params(head []any, r listResource, byID bool) []any {
	out := slices.Clone(head)
	for _, n := range listParams(r, byID) {
		out = append(out, ref("parameters", n))
	}
	return out
}

// idParam is the path parameter name, an id of e.
func idParam(e *apsorc.Entity, name string) *ordered {
	if e.Key == apsorc.SerialKey {
		return obj("name", name, "in", "path", "required", true, "description", "The "+e.Noun+"'s id; one that is not a positive integer is a 400.",
			"schema", obj("type", "integer", "format", "int64", "minimum", num(1), "maximum", num(math.MaxInt64)))
	}
	return obj("name", name, "in", "path", "required", true, "description", "The "+e.Noun+"'s id; one that is not a UUID is a 400.",
		"schema", obj("type", "string", "format", "uuid"))
}

func jsonContent(schema *ordered) *ordered { return obj("application/json", obj("schema", schema)) }

func etagHeader() *ordered {
	return obj("description", "The entity's version, \"7\": If-Match takes it.", "schema", obj("type", "string"))
}

func locationHeader(base string) *ordered {
	return obj("description", "The new entity's URL, "+base+"/{id}.", "schema", obj("type", "string"))
}

// listResponses are a list's answers, in either dialect.
func listResponses() *ordered {
	headers := func() *ordered {
		return obj(
			"X-Crud-Dialect", obj("schema", obj("type", "string", "enum", []any{"postgrest", "nestjsx"}), "description", "The dialect that ran."),
			"Content-Range", obj("schema", obj("type", "string", "pattern", `^(?:[0-9]+-[0-9]+|\*)/(?:[0-9]+|\*)$`),
				"description", "PostgREST dialect: first-last/total of the items (*/total for none; the total is * without Prefer: count=exact)."))
	}
	return obj(
		"200", obj("description", "A page: the nestjsx dialect's object, or the PostgREST dialect's array.",
			"content", jsonContent(obj("anyOf", []any{ref("schemas", "Page"), ref("schemas", "PostgRESTPage")})), "headers", headers()),
		"206", obj("description", "PostgREST dialect: a page holding fewer items than the total.",
			"content", jsonContent(ref("schemas", "PostgRESTPage")), "headers", headers()))
}

func deleteRole(e *apsorc.Entity) string {
	if e.Options.DeleteRole == "" {
		return "member"
	}
	return e.Options.DeleteRole
}

// deleteMayConflict reports whether a DELETE of e can meet a foreign key that restricts it
// (409): e's row or a row that cascades from it is removed (no soft delete) while a row of
// another table that doesn't cascade or go null references it.
func (g *generator) deleteMayConflict(e *apsorc.Entity) bool {
	removed := map[*apsorc.Entity]bool{}
	var walk func(x *apsorc.Entity)
	seen := map[*apsorc.Entity]bool{}
	walk = func(x *apsorc.Entity) {
		if seen[x] {
			return
		}
		seen[x] = true
		if !x.Options.SoftDelete {
			removed[x] = true
		}
		for _, c := range g.s.Entities {
			for _, f := range c.Fields {
				if f.Relation != nil && f.Relation.Target == x && f.Relation.CascadeDelete && c.Platform == apsorc.NotPlatform {
					walk(c)
				}
			}
		}
	}
	walk(e)
	for _, c := range g.s.Entities {
		for _, f := range c.Fields {
			if f.Relation != nil && removed[f.Relation.Target] && !f.Relation.CascadeDelete && !f.Nullable {
				return true
			}
		}
	}
	return false
}

// recoverMayConflict reports whether recovering e checks references that may be gone (409):
// its foreign keys but the scope's own.
func recoverMayConflict(e *apsorc.Entity) bool {
	return slices.ContainsFunc(e.Fields, func(f *apsorc.Field) bool {
		return f.Relation != nil && !(f == e.Scope.Field && f.Relation.Target.Platform == apsorc.Organizations)
	})
}

// checkRoutes checks that the generated paths are exactly the engine's routes: a route the
// engine serves and the generator doesn't describe, or the other way round, stops generate.
func (g *generator) checkRoutes(s *apsorc.Schema) error {
	routes, err := engineRoutes(s)
	if err != nil {
		return err
	}
	want := map[api.Route]bool{}
	for _, r := range routes {
		want[r] = true
	}
	for _, p := range g.paths.keys {
		for _, m := range g.paths.object(p).keys {
			r := api.Route{Method: strings.ToUpper(m), Path: p}
			if !want[r] {
				return fmt.Errorf("the document describes %s %s, which the engine doesn't serve", r.Method, r.Path)
			}
			delete(want, r)
		}
	}
	var missing []string
	for r := range want {
		missing = append(missing, r.Method+" "+r.Path)
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return fmt.Errorf("the engine serves %s, which the document doesn't describe", strings.Join(missing, ", "))
	}
	return nil
}
