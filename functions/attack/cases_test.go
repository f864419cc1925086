package attack_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"scaleapi/shared/api"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/auth"
	"scaleapi/shared/idempotency"
	"scaleapi/shared/query"
)

// acase is one case of an operation.
type acase struct {
	name string
	fn   func(x *run)
}

// ids says where a request's path parameters come from.
type ids uint8

const (
	// mainIDs are the tenant's long-lived rows.
	mainIDs ids = iota
	// freshIDs name, in the last parameter, a row made for the request (see world.params).
	freshIDs
	// randomIDs are UUIDs that name nothing.
	randomIDs
)

// changesTarget says op changes the row its last path parameter names (PATCH, PUT, DELETE;
// a POST adds to a collection and leaves its parent as it is).
func changesTarget(op *operation) bool {
	return op.Method == "PATCH" || op.Method == "PUT" || op.Method == "DELETE"
}

// ownIDs is where a case that may succeed takes its path parameters from: rows of its own
// when the operation changes what they name, so that no case damages what another reads.
func ownIDs(op *operation) ids {
	if changesTarget(op) {
		return freshIDs
	}
	return mainIDs
}

// prepared is a request a case built, and the body it generated.
type prepared struct {
	r     *request
	body  map[string]any
	nonce string
}

// prepare builds a request of x.op in tn: path parameters as from says, and, when the operation
// takes one, a valid body (with set's properties), generated with as's credentials.
func (x *run) prepare(tn *tenant, as *account, from ids, set map[string]any) (*prepared, error) {
	w, op := x.w, x.op
	p := &prepared{r: &request{op: op, header: map[string]string{}, identity: as}, nonce: random()}
	switch from {
	case randomIDs:
		p.r.params = map[string]string{}
		for _, name := range op.Params {
			p.r.params[name] = uuid.NewString()
		}
	default:
		ps, err := w.params(x, tn, op, from == freshIDs)
		if err != nil {
			return nil, err
		}
		p.r.params = ps
	}
	if op.Body != nil {
		f := &fill{w: w, tn: tn, op: op, x: x, as: as, nonce: p.nonce, set: set}
		body, err := f.object(op.Body)
		if err != nil {
			return nil, err
		}
		p.body = body
		p.r.body = marshal(body)
	}
	return p, nil
}

// must runs prepare and reports its failure as the case's.
func (x *run) must(tn *tenant, as *account, from ids, set map[string]any) *prepared {
	x.t.Helper()
	p, err := x.prepare(tn, as, from, set)
	if err != nil {
		x.w.unexpected.Add(1)
		x.t.Errorf("unexpected: %s [%s]: preparing the request: %v", x.op.Key(), x.name, err)
		return nil
	}
	return p
}

// owner is tn's owner.
func (w *world) owner(tn *tenant) *account { return tn.users[w.doc.roles[0]] }

// caller is who sends a case's request as A: the owner on a secured operation, nobody on a
// public one.
func (w *world) caller(op *operation) *account {
	if op.Secured {
		return w.owner(w.a)
	}
	return nil
}

// control sends x.op once as it should be sent, by A's owner.
func (w *world) control(x *run) {
	op := x.op
	p := x.must(w.a, w.owner(w.a), ownIDs(op), nil)
	if p == nil {
		return
	}
	x.send(p.r, w.caller(op), expect{want: success(op)})
}

// cases returns every case of op.
func (w *world) cases(op *operation) []acase {
	var cs []acase
	add := func(name string, fn func(x *run)) { cs = append(cs, acase{name, fn}) }
	if op.Secured {
		w.tokenCases(op, add)
		w.strangerCases(op, add)
		w.pathCases(op, add)
		w.listTenancyCases(op, add)
		w.roleCases(op, add)
	}
	if op.Body != nil {
		w.bodyCases(op, add)
		w.massCases(op, add)
		if op.Secured {
			w.referenceCases(op, add)
		}
		if op.Body["properties"] != nil && w.doc.property(op.Body, "refreshToken") != nil && !op.Secured {
			w.refreshCases(op, add)
		}
	}
	if op.Header["Idempotency-Key"] != nil {
		w.idempotencyCase(op, add)
	}
	if op.Header["If-Match"] != nil && op.Secured {
		w.staleCases(op, add)
	}
	if op.Body == nil {
		w.unexpectedBodyCases(op, add)
	}
	w.limitCases(op, add)
	if op.Statuses[http.StatusTooManyRequests] {
		w.rateCase(op, add)
	}
	return cs
}

// tokenCases: every credential that must not work, on the operation as A's owner would send
// it (with random ids where it writes, so that a credential wrongly taken can't damage A's rows:
// it would be a 404 instead of the 401 due, reported all the same).
func (w *world) tokenCases(op *operation, add func(string, func(*run))) {
	from := mainIDs
	if op.Unsafe() {
		from = randomIDs
	}
	for _, bt := range w.badTokens {
		add("token: "+bt.name, func(x *run) {
			p := x.must(w.a, w.owner(w.a), from, nil)
			if p == nil {
				return
			}
			if bt.value != "" {
				p.r.header["Authorization"] = bt.value
			}
			x.send(p.r, nil, expect{want: []int{http.StatusUnauthorized}})
		})
	}
}

// hasReference says a generated body of op names a row.
func (w *world) hasReference(op *operation) bool {
	target := itemSchema(w.doc, op.Body)
	for name := range asMap(target["properties"]) {
		if slices.Contains(requiredOf(target), name) && w.reference(op, name) != "" {
			return true
		}
	}
	return false
}

// strangerCases: a user with no organization sends the request A's owner would (the role
// below every role): A's rows are not theirs to see, change or name.
func (w *world) strangerCases(op *operation, add func(string, func(*run))) {
	add("stranger on A's rows", func(x *run) {
		p := x.must(w.a, w.owner(w.a), ownIDs(op), nil)
		if p == nil {
			return
		}
		// The stranger's own texts: a row they may make (an organization of their own) must
		// not look like A's to the stranger's other cases.
		p.r.body = strings.ReplaceAll(p.r.body, w.a.tag, "stranger")
		e := expect{}
		switch {
		case len(op.Params) > 0:
			e = expect{want: []int{http.StatusNotFound}, cross: true}
		case op.Body != nil && w.hasReference(op):
			e = expect{want: []int{http.StatusNotFound, http.StatusUnprocessableEntity}, cross: true}
		}
		x.send(p.r, w.stranger, e)
	})
}

// spellings are other ways to write a UUID than its canonical form.
func spellings(id string) map[string]string {
	return map[string]string{
		"upper case":  strings.ToUpper(id),
		"no hyphens":  strings.ReplaceAll(id, "-", ""),
		"braces":      "{" + id + "}",
		"urn":         "urn:uuid:" + id,
		"with suffix": id + "0",
	}
}

// malformed are path parameter values that name nothing.
var malformed = map[string]string{
	"not a uuid":  "not-a-uuid",
	"zero":        "0",
	"negative":    "-1",
	"sql":         "' OR '1'='1",
	"percent":     "%",
	"nul":         "\x00",
	"null":        "null",
	"8 KiB value": strings.Repeat("a", 8<<10),
}

// pathCases: other tenants' ids, deleted, random and malformed ids in every path parameter, as
// A's owner.
func (w *world) pathCases(op *operation, add func(string, func(*run))) {
	type variant struct {
		name   string
		others *tenant // whose rows the other parameters name
		value  func(x *run) (string, bool)
		e      expect
		query  url.Values
		header map[string]string
	}
	notFound := []int{http.StatusNotFound}
	badOrNotFound := []int{http.StatusBadRequest, http.StatusNotFound}
	for i, param := range op.Params {
		coll, err := w.collection(op.Path, param)
		if err != nil {
			add("path {"+param+"}", func(x *run) { x.fail(false, &request{op: op}, "%v", err) })
			continue
		}
		row := func(tn *tenant, deleted bool) func(x *run) (string, bool) {
			return func(*run) (string, bool) {
				r, ok := tn.row(coll, deleted)
				return idOf(r, param), ok
			}
		}
		var vs []variant
		for _, others := range []*tenant{w.b, w.a} {
			if others == w.a && len(op.Params) == 1 {
				continue // the same request as with B's
			}
			vs = append(vs,
				variant{"B's row", others, row(w.b, false), expect{want: notFound, cross: true}, nil, nil},
				variant{"B's deleted row", others, row(w.b, true), expect{want: notFound, cross: true}, nil, nil})
			for _, name := range sortedKeys(spellings(uuid.Nil.String())) {
				vs = append(vs, variant{"B's row spelled " + name, others, func(*run) (string, bool) {
					r, ok := w.b.row(coll, false)
					if !ok {
						return "", false
					}
					return spellings(idOf(r, param))[name], true
				}, expect{want: badOrNotFound, cross: true}, nil, nil})
			}
		}
		// Another representation of B's row, and conditional requests on it, must be the
		// same 404: a view or a 304/412 would tell that the row exists.
		for _, q := range w.representations(op) {
			vs = append(vs, variant{"B's row with " + q.Encode(), w.b, row(w.b, false), expect{want: notFound, cross: true}, q, nil})
		}
		for _, h := range []string{"If-None-Match", "If-Match"} {
			if op.Header[h] == nil {
				continue
			}
			for _, v := range []string{"*", `"1"`, `"999"`} {
				vs = append(vs, variant{"B's row with " + h + ": " + v, w.b, row(w.b, false), expect{want: notFound, cross: true}, nil,
					map[string]string{h: v}})
			}
		}
		// A's own row, spelled otherwise than the document's format (uuid: 8-4-4-4-12 hex
		// digits, in either case): it names nothing, as the parameter's description says, so
		// that one row has one URL. Where the operation changes the row, one made for it.
		last := i == len(op.Params)-1
		for _, name := range sortedKeys(spellings(uuid.Nil.String())) {
			e := expect{want: badOrNotFound}
			if name == "upper case" {
				e = expect{} // still a UUID (RFC 9562: hex digits are read in either case)
			}
			vs = append(vs, variant{"A's row spelled " + name, w.a, func(x *run) (string, bool) {
				var id string
				if changesTarget(op) && last {
					ps, err := w.params(x, w.a, op, true)
					if err != nil {
						x.fail(false, &request{op: op}, "%v", err)
						return "", false
					}
					id = ps[param]
				} else {
					r, ok := w.a.row(coll, false)
					if !ok {
						return "", false
					}
					id = idOf(r, param)
				}
				return spellings(id)[name], true
			}, e, nil, nil})
		}
		vs = append(vs, variant{"a row of A's deleted organization", w.c, row(w.c, false), expect{want: notFound, cross: true}, nil, nil})
		if !(undeletes(op) && i == len(op.Params)-1) {
			// A row of A's own that is deleted is gone, except to the route that brings it
			// back.
			vs = append(vs, variant{"A's deleted row", w.a, row(w.a, true), expect{want: notFound}, nil, nil})
		}
		vs = append(vs, variant{"random id", w.a, func(*run) (string, bool) { return uuid.NewString(), true }, expect{want: notFound}, nil, nil})
		for name, v := range malformed {
			vs = append(vs, variant{"malformed: " + name, w.a, func(*run) (string, bool) { return v, true }, expect{want: badOrNotFound}, nil, nil})
		}
		for _, v := range vs {
			where := ""
			if len(op.Params) > 1 {
				where = fmt.Sprintf(" (other parameters %s's)", v.others.name)
			}
			add(fmt.Sprintf("path {%s}: %s%s", param, v.name, where), func(x *run) {
				value, ok := v.value(x)
				if !ok {
					return // the collection has no deleted row: no DELETE
				}
				p := x.must(w.a, w.owner(w.a), mainIDs, nil)
				if p == nil {
					return
				}
				ps, err := w.collParams(x, v.others, op.Path)
				if err != nil {
					x.fail(false, p.r, "%v", err)
					return
				}
				ps[param] = value
				p.r.params = ps
				p.r.query = v.query
				for k, hv := range v.header {
					p.r.header[k] = hv
				}
				x.send(p.r, w.owner(w.a), v.e)
			})
		}
	}
}

// representations are the queries a read of one row takes besides none: each relation it
// joins, a selection of fields, a read past the cache. They reach other code than the plain
// read (a view rendered by the database, cached under its own key).
func (w *world) representations(op *operation) []url.Values {
	if op.Method != "GET" {
		return nil
	}
	var out []url.Values
	if op.Query["join"] != nil {
		if e := w.listEntity(op); e != nil {
			for _, r := range e.Relations {
				out = append(out, url.Values{"join": {r.Name}})
			}
		}
	}
	if op.Query["fields"] != nil {
		out = append(out, url.Values{"fields": {"id"}})
	}
	if op.Query["cache"] != nil {
		out = append(out, url.Values{"cache": {"0"}})
	}
	return out
}

// listTenancyCases: a list asked, in each way its parameters allow, for B's rows by id; the
// answer must hold none of them (foreign reports it).
func (w *world) listTenancyCases(op *operation, add func(string, func(*run))) {
	if op.Method != "GET" || len(op.Params) > 0 || op.Query["filter"] == nil {
		return
	}
	bIDs := func() []string {
		var out []string
		for _, m := range w.b.markerList() {
			if uuid.Validate(m) == nil && len(out) < 40 {
				out = append(out, m)
			}
		}
		return out
	}
	quoted := func(ids []string) string { return `"` + strings.Join(ids, `","`) + `"` }
	qs := map[string]func([]string) url.Values{
		"filter on B's ids": func(ids []string) url.Values { return url.Values{"filter": {"id||$in||" + strings.Join(ids, ",")}} },
		"or on B's ids": func(ids []string) url.Values {
			return url.Values{"filter": {"id||$isnull"}, "or": {"id||$in||" + strings.Join(ids, ",")}}
		},
		"search on B's ids": func(ids []string) url.Values {
			return url.Values{"s": {`{"id":{"$in":[` + quoted(ids) + `]}}`}}
		},
		"search widened by $or": func(ids []string) url.Values {
			return url.Values{"s": {`{"$or":[{"id":{"$in":[` + quoted(ids) + `]}},{"id":{"$notnull":true}}]}`}}
		},
	}
	for name, q := range qs {
		add("tenancy: "+name, func(x *run) {
			p := x.must(w.a, w.owner(w.a), mainIDs, nil)
			if p == nil {
				return
			}
			p.r.query = q(bIDs())
			x.send(p.r, w.owner(w.a), expect{want: []int{http.StatusOK}})
		})
	}
	if op.Header[query.DialectHeader] != nil {
		add("tenancy: PostgREST filter on B's ids", func(x *run) {
			p := x.must(w.a, w.owner(w.a), mainIDs, nil)
			if p == nil {
				return
			}
			p.r.query = url.Values{"id": {"in.(" + strings.Join(bIDs(), ",") + ")"}}
			p.r.header[query.DialectHeader] = "postgrest"
			x.send(p.r, w.owner(w.a), expect{want: []int{http.StatusOK, http.StatusPartialContent}})
		})
		add("tenancy: PostgREST or widened on B's ids", func(x *run) {
			p := x.must(w.a, w.owner(w.a), mainIDs, nil)
			if p == nil {
				return
			}
			p.r.query = url.Values{"or": {"(id.in.(" + strings.Join(bIDs(), ",") + "),id.not.is.null)"}}
			p.r.header[query.DialectHeader] = "postgrest"
			x.send(p.r, w.owner(w.a), expect{want: []int{http.StatusOK, http.StatusPartialContent}})
		})
	}
}

// roleCases: every role of A's below the one op needs, on a row of A's; and, where the body
// assigns a role, every role above the caller's own.
func (w *world) roleCases(op *operation, add func(string, func(*run))) {
	if op.MinRole == "" {
		return
	}
	forbidden := expect{want: []int{http.StatusForbidden}}
	for _, r := range w.doc.roles {
		if r.AtLeast(op.MinRole) {
			continue
		}
		add(fmt.Sprintf("role: %s (needs %s)", r, op.MinRole), func(x *run) {
			p := x.must(w.a, w.owner(w.a), ownIDs(op), nil)
			if p == nil {
				return
			}
			resp, _ := x.send(p.r, w.a.users[r], forbidden)
			x.stored(p, resp, "")
		})
	}
	// Removing a member who holds a role above the caller's, in an organization made for the
	// case (the tenant's users joined in their roles), so that no owner of A's is lost.
	if mc, err := w.membersColl(); err == nil && op.Method == "DELETE" && len(op.Params) == 2 {
		if coll, err := w.collection(op.Path, op.Params[1]); err == nil && coll == mc.Path {
			for _, caller := range w.doc.roles {
				for _, target := range w.doc.roles {
					if !caller.AtLeast(op.MinRole) || caller.AtLeast(target) {
						continue
					}
					add(fmt.Sprintf("role: %s removes a %s", caller, target), func(x *run) {
						org, err := w.create(x, w.a, w.orgColl)
						if err != nil {
							x.fail(false, &request{op: op}, "%v", err)
							return
						}
						r := &request{op: op, params: map[string]string{op.Params[0]: str(org["id"]), op.Params[1]: w.a.users[target].id.String()}}
						resp, _ := x.send(r, w.a.users[caller], forbidden)
						x.stored(&prepared{r: r, nonce: random()}, resp, "")
					})
				}
			}
		}
	}
	if op.Body == nil {
		return
	}
	for _, name := range sortedKeys(asMap(op.Body["properties"])) {
		if !w.isRoleEnum(w.doc.property(op.Body, name)) {
			continue
		}
		for _, caller := range w.doc.roles {
			if !caller.AtLeast(op.MinRole) {
				continue
			}
			for _, target := range w.doc.roles {
				if caller.AtLeast(target) {
					continue
				}
				add(fmt.Sprintf("role: %s assigns %s=%s", caller, name, target), func(x *run) {
					p := x.must(w.a, w.owner(w.a), ownIDs(op), map[string]any{name: string(target)})
					if p == nil {
						return
					}
					resp, _ := x.send(p.r, w.a.users[caller], forbidden)
					x.stored(p, resp, "")
				})
			}
		}
	}
}

// bodyCases: bodies that are not what the document accepts.
func (w *world) bodyCases(op *operation, add func(string, func(*run))) {
	type bc struct {
		name  string
		edit  func(p *prepared)
		want  int
		apply bool
	}
	first := ""
	if req := requiredOf(op.Body); len(req) > 0 {
		first = req[0]
	}
	firstText := (&fill{w: w}).firstText(op.Body)
	if t := requiredOf(op.Body); firstText == "" || !slices.Contains(t, firstText) {
		for _, n := range t {
			if p := w.doc.property(op.Body, n); mainType(p) == "string" && p["enum"] == nil {
				firstText = n
				break
			}
		}
	}
	cases := []bc{
		{"body over the limit", func(p *prepared) {
			p.body["padding"] = strings.Repeat("x", api.MaxBody)
			p.r.body = marshal(p.body)
		}, http.StatusRequestEntityTooLarge, true},
		{"malformed JSON", func(p *prepared) { p.r.body = p.r.body[:len(p.r.body)/2] }, http.StatusBadRequest, true},
		{"not an object", func(p *prepared) { p.r.body = "[" + p.r.body + "]" }, http.StatusBadRequest, true},
		{"null", func(p *prepared) { p.r.body = "null" }, http.StatusBadRequest, true},
		{"empty body", func(p *prepared) { p.r.body = ""; p.r.header["Content-Type"] = "application/json" }, http.StatusBadRequest, true},
		{"trailing data", func(p *prepared) { p.r.body += "{}" }, http.StatusBadRequest, true},
		{"content type text/plain", func(p *prepared) { p.r.header["Content-Type"] = "text/plain" }, http.StatusUnsupportedMediaType, true},
		{"form encoded", func(p *prepared) {
			p.r.header["Content-Type"] = "application/x-www-form-urlencoded"
			p.r.body = "a=b"
		}, http.StatusUnsupportedMediaType, true},
		{"unknown field", func(p *prepared) {
			p.body["unknownField"] = true
			p.r.body = marshal(p.body)
		}, http.StatusBadRequest, closed(op.Body)},
		{"wrong type for " + first, func(p *prepared) {
			if mainType(w.doc.property(op.Body, first)) == "string" {
				p.body[first] = 12345
			} else {
				p.body[first] = "wrong"
			}
			p.r.body = marshal(p.body)
		}, http.StatusBadRequest, first != ""},
		{"NUL in " + firstText, func(p *prepared) {
			p.body[firstText] = fmt.Sprint(p.body[firstText]) + "\x00"
			p.r.body = marshal(p.body)
		}, http.StatusBadRequest, firstText != ""},
	}
	if !op.Statuses[http.StatusUnsupportedMediaType] {
		// The document says this operation never answers 415: its body must be JSON all the
		// same, which the statuses above can't say.
		cases = cases[:6]
	}
	for _, c := range cases {
		if !c.apply {
			continue
		}
		add("body: "+c.name, func(x *run) {
			p := x.must(w.a, w.owner(w.a), mainIDs, nil)
			if p == nil {
				return
			}
			c.edit(p)
			x.send(p.r, w.caller(op), expect{want: []int{c.want}})
		})
	}
}

// unexpectedBodyCases: a body sent to an operation that takes none (over the body limit, and
// not JSON) must be ignored or refused as the document says, never break the function.
func (w *world) unexpectedBodyCases(op *operation, add func(string, func(*run))) {
	for name, b := range map[string]struct{ body, ctype string }{
		"over the limit":  {`{"padding":"` + strings.Repeat("x", api.MaxBody) + `"}`, "application/json"},
		"not JSON":        {"\x01\x02 not json", "application/octet-stream"},
		"a JSON document": {`{"id":"` + uuid.NewString() + `","deletedAt":null}`, "application/json"},
	} {
		add("body where none is taken: "+name, func(x *run) {
			p := x.must(w.a, w.owner(w.a), ownIDs(op), nil)
			if p == nil {
				return
			}
			p.r.body = b.body
			p.r.header["Content-Type"] = b.ctype
			x.send(p.r, w.caller(op), expect{})
		})
	}
}

// itemSchema is the schema of what a body creates: the items of its required array (a bulk's),
// else the body's.
func itemSchema(d *document, body schema) schema {
	for _, name := range requiredOf(body) {
		p := d.property(body, name)
		if mainType(p) == "array" {
			if items := d.resolve(asMap(p["items"])); mainType(items) == "object" {
				return items
			}
		}
	}
	return body
}

// massFields are the fields a client must not set: the engine's own (read-only in the
// answer's schema, and the list, deletedAt among them, which no schema shows) and the
// organization.
func (w *world) massFields(op *operation) []string {
	fields := []string{"id", "version", "createdAt", "updatedAt", "deletedAt", "organizationId"}
	for _, code := range success(op) {
		s := op.Responses[code]
		if mainType(s) == "array" {
			s = w.doc.resolve(asMap(s["items"]))
		}
		for name := range asMap(s["properties"]) {
			if p := w.doc.property(s, name); p["readOnly"] == true && !slices.Contains(fields, name) {
				fields = append(fields, name)
			}
		}
	}
	return fields
}

// massCases: every field the engine sets, and another tenant's organization, on every create
// and update; the contract (additionalProperties: false, and the schemas' "one the engine sets
// is a 400") refuses them, and the stored row must show none of them.
func (w *world) massCases(op *operation, add func(string, func(*run))) {
	target := itemSchema(w.doc, op.Body)
	var fields []string
	for _, f := range w.massFields(op) {
		// The same names in another case: encoding/json matches a struct's fields without
		// regard to case, the engine's bodies do not.
		fields = append(fields, f, strings.ToUpper(f[:1])+f[1:])
	}
	for _, field := range fields {
		add("mass assignment: "+field, func(x *run) {
			var value any
			injected := ""
			switch {
			case strings.EqualFold(field, "organizationId"):
				value = str(mustRow(w.b, w.orgColl)["id"]) // found by foreign in what is read back
			case strings.EqualFold(field, "id"):
				value = uuid.NewString()
				injected = value.(string)
			case strings.EqualFold(field, "version"):
				value = 987654
				injected = `"version":987654`
			case strings.HasSuffix(field, "At"):
				value = "2001-02-03T04:05:06Z"
				injected = "2001-02-03T04:05:06"
			default:
				value = "injected-" + random()
				injected = value.(string)
			}
			p := x.must(w.a, w.owner(w.a), ownIDs(op), nil)
			if p == nil {
				return
			}
			inject(w.doc, op.Body, p.body, field, value)
			p.r.body = marshal(p.body)
			e := expect{}
			switch {
			case w.doc.property(target, field) != nil && field == "organizationId":
				// A field of the body: another tenant's organization is a 404 (create) or a
				// 422 (an entity never moves).
				e.want = []int{http.StatusNotFound, http.StatusUnprocessableEntity}
				e.cross = true
			case w.doc.property(target, field) == nil && closed(target):
				e.want = []int{http.StatusBadRequest}
			}
			resp, _ := x.send(p.r, w.caller(op), e)
			x.stored(p, resp, injected)
		})
	}
}

// memberOnlyOf returns the user tn's long-lived row of the members collection names: a
// member of tn's organization alone.
func (w *world) memberOnlyOf(tn *tenant) (string, bool) {
	mc, err := w.membersColl()
	if err != nil {
		return "", false
	}
	del := w.itemOp("DELETE", mc.Path)
	r, ok := tn.row(mc.Path, false)
	if del == nil || !ok {
		return "", false
	}
	return idOf(r, del.Params[len(del.Params)-1]), true
}

// bulkArray returns the name of body's required array of objects (a bulk's), or "".
func bulkArray(d *document, body schema) string {
	for _, name := range requiredOf(body) {
		p := d.property(body, name)
		if mainType(p) == "array" && mainType(d.resolve(asMap(p["items"]))) == "object" {
			return name
		}
	}
	return ""
}

// inject sets field to value in body, or in every item of a bulk's array.
func inject(d *document, s schema, body map[string]any, field string, value any) {
	for _, name := range requiredOf(s) {
		if mainType(d.property(s, name)) != "array" {
			continue
		}
		if items, ok := body[name].([]any); ok {
			for _, it := range items {
				if m, ok := it.(map[string]any); ok {
					m[field] = value
				}
			}
			return
		}
	}
	body[field] = value
}

// referenceCases: every body property that names a row (from the .apsorc's relations) set to
// another tenant's row, a deleted one, a random id and a malformed one.
func (w *world) referenceCases(op *operation, add func(string, func(*run))) {
	target := itemSchema(w.doc, op.Body)
	refused := []int{http.StatusNotFound, http.StatusUnprocessableEntity}
	for _, name := range sortedKeys(asMap(target["properties"])) {
		ref := w.reference(op, name)
		if ref == "" {
			continue
		}
		type variant struct {
			name  string
			value func() (string, bool)
			e     expect
			// second puts the value in a second item of a bulk, after a valid one.
			second bool
		}
		row := func(tn *tenant, deleted bool) func() (string, bool) {
			return func() (string, bool) {
				if ref == usersRef {
					if deleted {
						return "", false
					}
					if tn == w.c {
						// C's users are A's; C's own is the member added to it alone.
						return w.memberOnlyOf(tn)
					}
					return w.owner(tn).id.String(), true
				}
				r, ok := tn.row(ref, deleted)
				return str(r["id"]), ok
			}
		}
		vs := []variant{
			{"B's row", row(w.b, false), expect{want: refused, cross: true}, false},
			{"B's deleted row", row(w.b, true), expect{want: refused, cross: true}, false},
			{"A's deleted row", row(w.a, true), expect{want: refused}, false},
			{"random id", func() (string, bool) { return uuid.NewString(), true }, expect{want: refused}, false},
			{"malformed id", func() (string, bool) { return "not-a-uuid", true }, expect{want: []int{http.StatusBadRequest, http.StatusUnprocessableEntity}}, false},
			{"a row of A's deleted organization", row(w.c, false), expect{want: refused, cross: true}, false},
		}
		if ref == usersRef {
			vs = append(vs, variant{"a user of no organization", func() (string, bool) { return w.stranger.id.String(), true }, expect{want: refused}, false})
		}
		if bulk := bulkArray(w.doc, op.Body); bulk != "" {
			vs = append(vs, variant{"B's row in the second of two items", row(w.b, false), expect{want: refused, cross: true}, true})
		}
		for _, v := range vs {
			add(fmt.Sprintf("reference %s: %s", name, v.name), func(x *run) {
				value, ok := v.value()
				if !ok {
					return
				}
				p := x.must(w.a, w.owner(w.a), ownIDs(op), nil)
				if p == nil {
					return
				}
				if v.second {
					bulk := bulkArray(w.doc, op.Body)
					items := p.body[bulk].([]any)
					other := map[string]any{}
					for k, iv := range items[0].(map[string]any) {
						other[k] = iv
					}
					other[name] = value
					p.body[bulk] = []any{items[0], other}
				} else {
					inject(w.doc, op.Body, p.body, name, value)
				}
				p.r.body = marshal(p.body)
				resp, _ := x.send(p.r, w.owner(w.a), v.e)
				injected := value
				if v.e.cross {
					injected = "" // foreign finds it, as a leak
				}
				x.stored(p, resp, injected)
			})
		}
		if itemSchema(w.doc, op.Body)["properties"] == nil || bulkArray(w.doc, op.Body) != "" {
			continue
		}
		// The name twice, A's row and B's: whichever a decoder takes, B's must not be kept.
		for _, bLast := range []bool{true, false} {
			order := "B's row after A's"
			e := expect{want: []int{http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity}, cross: true}
			if !bLast {
				order, e = "B's row before A's", expect{}
			}
			add(fmt.Sprintf("reference %s twice: %s", name, order), func(x *run) {
				own, ok := row(w.a, false)()
				other, ok2 := row(w.b, false)()
				if !ok || !ok2 {
					return
				}
				p := x.must(w.a, w.owner(w.a), ownIDs(op), nil)
				if p == nil {
					return
				}
				first, last := own, other
				if !bLast {
					first, last = other, own
				}
				p.body[name] = last
				rest := marshal(p.body)
				p.r.body = `{"` + name + `":"` + first + `",` + rest[1:]
				resp, _ := x.send(p.r, w.owner(w.a), e)
				x.stored(p, resp, "")
			})
		}
	}
}

// stored reads back, as A's owner, what a write left: the row it targeted (an update, a
// delete), or the rows carrying its nonce (a create). A refused write must have kept nothing
// of what it sent (a refused delete, its row; a refused recover, its row deleted), and no
// injected value may have taken effect.
func (x *run) stored(p *prepared, resp response, injected string) {
	w, op := x.w, x.op
	refused := resp.status >= 400
	parent := func(path string) *operation { return w.doc.op("GET", path[:strings.LastIndex(path, "/")]) }
	var read *operation
	want, keeps := http.StatusOK, ""
	switch {
	case changesTarget(op):
		read = w.doc.op("GET", op.Path)
		switch {
		case undeletes(op):
			if !refused {
				return
			}
			read, want = parent(op.Path), http.StatusNotFound // still deleted
		case op.Method == "DELETE" && !refused:
			return // gone, as asked
		case op.Method == "DELETE" && read == nil:
			// No read of the row itself: its collection must still list it.
			read, keeps = parent(op.Path), p.r.params[op.Params[len(op.Params)-1]]
		}
	case op.Method == "POST" && op.Secured:
		if read = w.doc.op("GET", op.Path); read == nil {
			read = parent(op.Path)
		}
	}
	if read == nil || !read.Secured {
		return
	}
	rq := &request{op: read, params: map[string]string{}}
	for _, name := range read.Params {
		rq.params[name] = p.r.params[name]
	}
	if op.Method == "POST" && read.Query["filter"] != nil {
		if name, v := nonceText(w.doc, op.Body, p.body, p.nonce); name != "" {
			rq.query = url.Values{"filter": {name + "||$eq||" + v}}
		}
	}
	back, ok := x.send(rq, w.owner(w.a), expect{want: []int{want}})
	if !ok || want != http.StatusOK {
		return
	}
	if refused && strings.Contains(back.body, p.nonce) {
		x.fail(false, p.r, "refused with %d, but what it sent was stored: %.300s", resp.status, back.body)
	}
	if keeps != "" && !strings.Contains(back.body, keeps) {
		x.fail(false, p.r, "refused with %d, but %s is gone: %.300s", resp.status, keeps, back.body)
	}
	if injected != "" && strings.Contains(back.body, injected) {
		x.fail(false, p.r, "status %d, and %s took effect: %.300s", resp.status, injected, back.body)
	}
}

// nonceText returns a text property of what body creates that holds the nonce, and its value.
func nonceText(d *document, s schema, body map[string]any, nonce string) (string, string) {
	item := body
	for _, name := range requiredOf(s) {
		if items, ok := body[name].([]any); ok && len(items) > 0 {
			if m, ok := items[0].(map[string]any); ok {
				item = m
			}
		}
	}
	for _, k := range sortedKeys(item) {
		if v, ok := item[k].(string); ok && strings.Contains(v, nonce) && !strings.Contains(v, "@") {
			return k, v
		}
	}
	return "", ""
}

// refreshCases: refresh tokens that are dead (spent, revoked, logged out) or were never made.
func (w *world) refreshCases(op *operation, add func(string, func(*run))) {
	for _, d := range w.dead {
		add("refresh: "+d.name, func(x *run) {
			p := x.must(w.a, w.owner(w.a), mainIDs, map[string]any{"refreshToken": d.value})
			if p == nil {
				return
			}
			x.send(p.r, nil, expect{want: []int{http.StatusUnauthorized}})
		})
	}
}

// staleCases: a write of A's own row under an If-Match that names no current version (a
// lost update) is a 412 and changes nothing.
func (w *world) staleCases(op *operation, add func(string, func(*run))) {
	for _, tag := range []string{`"999"`, `W/"1"`, "garbage"} {
		add("If-Match: "+tag, func(x *run) {
			p := x.must(w.a, w.owner(w.a), ownIDs(op), nil)
			if p == nil {
				return
			}
			p.r.header["If-Match"] = tag
			resp, _ := x.send(p.r, w.owner(w.a), expect{want: []int{http.StatusPreconditionFailed}})
			x.stored(p, resp, "")
		})
	}
}

// idempotencyCase: a request sent with an Idempotency-Key, then the same request, key and
// body from another caller (another user; another address on a public route), whose answer
// must not be the first one's replayed: that would hand one caller's answer (a row, a token
// pair) to another.
func (w *world) idempotencyCase(op *operation, add func(string, func(*run))) {
	add("idempotency: another caller's key", func(x *run) {
		key := "attack-" + random()
		p := x.must(w.a, w.owner(w.a), ownIDs(op), nil)
		if p == nil {
			return
		}
		p.r.header["Idempotency-Key"] = key
		if _, ok := x.send(p.r, w.caller(op), expect{want: success(op)}); !ok {
			return
		}
		again := &request{op: op, params: p.r.params, body: p.r.body, header: map[string]string{"Idempotency-Key": key}}
		var as *account
		if op.Secured {
			u, err := w.newUser(nil, random())
			if err != nil {
				x.fail(false, again, "user: %v", err)
				return
			}
			as = u
		} else {
			again.sourceIP = fmt.Sprintf("198.19.%d.%d", randByte(), randByte())
			again.identity = p.r.identity
		}
		resp, _ := x.send(again, as, expect{})
		if resp.header.Get(idempotency.ReplayedHeader) != "" {
			x.fail(true, again, "status %d replays another caller's answer: %.300s", resp.status, resp.body)
		}
	})
}

// The limits the document states, in its descriptions.
var (
	cappedTo    = regexp.MustCompile(`capped to (\d+)`)
	levelsDeep  = regexp.MustCompile(`(\d+) levels deep`)
	kibOfParams = regexp.MustCompile(`at most (\d+) KiB`)
)

// maxJoinDepth is how deep shared/query nests joins (its package comment: "Joins nest at most
// 3 levels deep"); the document's join pattern has no nesting at all.
const maxJoinDepth = 3

// limitCases: OWASP API4, every limit over its maximum.
func (w *world) limitCases(op *operation, add func(string, func(*run))) {
	plain := func(name string, q url.Values, header map[string]string, e expect) {
		add("limit: "+name, func(x *run) {
			p := x.must(w.a, w.owner(w.a), ownIDs(op), nil)
			if p == nil {
				return
			}
			p.r.query = q
			for k, v := range header {
				p.r.header[k] = v
			}
			x.send(p.r, w.caller(op), e)
		})
	}
	badRequest := expect{want: []int{http.StatusBadRequest}}

	// Headers and the URL: API Gateway refuses much less than this (10 KiB of headers, 10 KiB
	// of URL); a function must still answer what it would answer without them.
	many := map[string]string{}
	for i := range 100 {
		many[fmt.Sprintf("X-Padding-%d", i)] = strings.Repeat("p", 100)
	}
	plain("one 16 KiB header", nil, map[string]string{"X-Padding": strings.Repeat("p", 16<<10)}, expect{want: success(op)})
	plain("100 headers", nil, many, expect{want: success(op)})
	plain("Accept: application/xml", nil, map[string]string{"Accept": "application/xml"}, expect{want: success(op)})

	list := op.Method == "GET" && op.Query["limit"] != nil
	kib := 32
	if f := op.Query["filter"]; f != nil {
		if n, ok := describedNumber(str(f["description"]), kibOfParams); ok {
			kib = n
		}
	}
	long := strings.Repeat("q", kib<<10+1)
	if list {
		e := w.listEntity(op)
		text := ""
		for _, f := range e.Fields {
			if f.Type == apsorc.Text {
				text = f.Name
				break
			}
		}
		plain(fmt.Sprintf("query over %d KiB", kib), url.Values{"filter": {text + "||$cont||" + long}}, nil, badRequest)
	} else {
		plain(fmt.Sprintf("query over %d KiB", kib), url.Values{"q": {long}}, nil, expect{})
	}

	if h := op.Header["Idempotency-Key"]; h != nil {
		if n, ok := number(asMap(h["schema"]), "maxLength"); ok {
			plain("Idempotency-Key over its length", nil, map[string]string{"Idempotency-Key": strings.Repeat("k", n+1)}, badRequest)
		}
		plain("Idempotency-Key with a control character", nil, map[string]string{"Idempotency-Key": "key\x01" + random()}, badRequest)
	}

	if op.Body != nil {
		for _, name := range requiredOf(op.Body) {
			p := w.doc.property(op.Body, name)
			n, ok := number(p, "maxItems")
			if mainType(p) != "array" || !ok {
				continue
			}
			add(fmt.Sprintf("limit: %s over %d items", name, n), func(x *run) {
				pr := x.must(w.a, w.owner(w.a), ownIDs(op), nil)
				if pr == nil {
					return
				}
				items := pr.body[name].([]any)
				for len(items) <= n {
					items = append(items, items[0])
				}
				pr.body[name] = items
				pr.r.body = marshal(pr.body)
				resp, _ := x.send(pr.r, w.caller(op), expect{want: []int{http.StatusBadRequest, http.StatusUnprocessableEntity}})
				x.stored(pr, resp, "")
			})
		}
	}

	if !list {
		return
	}
	// The page size: capped, as the document says.
	limit := op.Query["limit"]
	cap, ok := describedNumber(str(limit["description"]), cappedTo)
	if !ok || cap != query.MaxLimit {
		add("limit: page size", func(x *run) {
			x.fail(false, &request{op: op}, "the limit parameter states a cap of %d (%v), shared/query caps at %d", cap, ok, query.MaxLimit)
		})
	} else {
		add(fmt.Sprintf("limit: page size %d over the cap %d", cap*10, cap), func(x *run) {
			p := x.must(w.a, w.owner(w.a), mainIDs, nil)
			if p == nil {
				return
			}
			p.r.query = url.Values{"limit": {strconv.Itoa(cap * 10)}}
			resp, ok := x.send(p.r, w.owner(w.a), expect{want: []int{http.StatusOK}})
			if !ok {
				return
			}
			var page struct {
				Data  []json.RawMessage `json:"data"`
				Total int               `json:"total"`
			}
			if err := json.Unmarshal([]byte(resp.body), &page); err != nil {
				x.fail(false, p.r, "not a page: %v", err)
				return
			}
			if len(page.Data) > cap || (page.Total > cap && len(page.Data) != cap) {
				x.fail(false, p.r, "limit %d answered %d of %d rows, want the cap %d", cap*10, len(page.Data), page.Total, cap)
			}
		})
	}
	plain("negative page size", url.Values{"limit": {"-1"}}, nil, badRequest)
	plain("the largest offset", url.Values{"offset": {"9223372036854775807"}}, nil, expect{})
	if op.Query["cursor"] != nil {
		plain("a cursor that is not one", url.Values{"cursor": {"not a cursor!"}}, nil, badRequest)
		plain("a forged cursor", url.Values{"cursor": {basic(`{"k":["` + uuid.NewString() + `"],"s":"x"}`)}}, nil, badRequest)
	}
	plain("page past the largest offset", url.Values{"page": {"9223372036854775807"}}, nil, badRequest)

	// Repeatable parameters, one value over their maxItems.
	e := w.listEntity(op)
	samples := map[string]string{"filter": "id||$notnull", "or": "id||$notnull", "fields": "id", "sort": "id,ASC"}
	for _, r := range e.Relations {
		if r.Target.Platform == apsorc.NotPlatform {
			samples["join"] = r.Name
			break
		}
	}
	for _, name := range sortedKeys(samples) {
		q := op.Query[name]
		n, ok := number(asMap(q["schema"]), "maxItems")
		if q == nil || !ok {
			continue
		}
		vs := make([]string, n+1)
		for i := range vs {
			vs[i] = samples[name]
		}
		plain(fmt.Sprintf("%d %s values (max %d)", n+1, name, n), url.Values{name: vs}, nil, badRequest)
	}
	if s := op.Query["s"]; s != nil {
		if n, ok := describedNumber(str(s["description"]), levelsDeep); ok {
			search := `{"id":{"$notnull":true}}`
			for range n + 1 {
				search = `{"$and":[` + search + `]}`
			}
			plain(fmt.Sprintf("search nested %d deep (max %d)", n+1, n), url.Values{"s": {search}}, nil, badRequest)
		}
	}
	if op.Header[query.DialectHeader] != nil {
		plain("unknown dialect", nil, map[string]string{query.DialectHeader: "graphql"}, badRequest)
	}
	if s := op.Query["s"]; s != nil {
		if n, ok := w.inMaxItems(s); ok {
			vals := make([]string, n+1)
			for i := range vals {
				vals[i] = uuid.NewString()
			}
			plain(fmt.Sprintf("%d values in one $in (max %d)", n+1, n), url.Values{"s": {`{"id":{"$in":["` + strings.Join(vals, `","`) + `"]}}`}}, nil, badRequest)
			plain(fmt.Sprintf("%d values in one filter $in (max %d)", n+1, n), url.Values{"filter": {"id||$in||" + strings.Join(vals, ",")}}, nil, badRequest)
		}
	}
	if op.Query["join"] != nil {
		if chain := joinChain(e, maxJoinDepth+1); chain != nil {
			plain(fmt.Sprintf("join nested %d deep (max %d)", maxJoinDepth+1, maxJoinDepth), url.Values{"join": chain}, nil, badRequest)
		}
	}
}

// inMaxItems returns the most values the document lets an $in of the search parameter s
// hold: the maxItems of the array under its in/notin operator, wherever the search schema puts
// it.
func (w *world) inMaxItems(s schema) (int, bool) {
	in := regexp.MustCompile(`\(\?:in\|notin\)`)
	seen := map[string]bool{}
	var walk func(v any) (int, bool)
	walk = func(v any) (int, bool) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if seen[ref] {
					return 0, false
				}
				seen[ref] = true
				return walk(w.doc.schemaRef(ref))
			}
			for _, k := range sortedKeys(v) {
				if in.MatchString(k) {
					for _, alt := range asSlice(asMap(v[k])["anyOf"]) {
						if n, ok := number(asMap(alt), "maxItems"); ok && mainType(asMap(alt)) == "array" {
							return n, true
						}
					}
				}
				if n, ok := walk(v[k]); ok {
					return n, true
				}
			}
		case []any:
			for _, c := range v {
				if n, ok := walk(c); ok {
					return n, true
				}
			}
		}
		return 0, false
	}
	return walk(s)
}

// joinChain returns the join values of a chain of depth relations from e (a, a.b, a.b.c, …)
// through entities the engine serves, or nil when the schema has none that deep.
func joinChain(e *apsorc.Entity, depth int) []string {
	var walk func(e *apsorc.Entity, prefix string, left int) []string
	walk = func(e *apsorc.Entity, prefix string, left int) []string {
		if left == 0 {
			return []string{}
		}
		for _, r := range e.Relations {
			if r.Target.Platform != apsorc.NotPlatform {
				continue
			}
			name := r.Name
			if prefix != "" {
				name = prefix + "." + r.Name
			}
			if rest := walk(r.Target, name, left-1); rest != nil {
				return append([]string{name}, rest...)
			}
		}
		return nil
	}
	return walk(e, "", depth)
}

// rateCase: the rate limit, against the functions built with a limit of rateLimit a minute: a
// user of its own (an address of its own on a public route) sends rateLimit requests, which
// pass, and one more, which is a 429 problem with a Retry-After. The requests name random
// rows, and bodies are malformed, so that none changes anything.
func (w *world) rateCase(op *operation, add func(string, func(*run))) {
	add(fmt.Sprintf("rate limit (%d a minute)", rateLimit), func(x *run) {
		var as *account
		if op.Secured {
			u, err := w.newUser(nil, random())
			if err != nil {
				x.fail(false, &request{op: op}, "user: %v", err)
				return
			}
			as = u
		}
		ip := fmt.Sprintf("198.19.%d.%d", randByte(), randByte())
		f := w.fn(op, true)
		for i := 0; i <= rateLimit; i++ {
			r := &request{op: op, params: map[string]string{}, sourceIP: ip}
			for _, name := range op.Params {
				r.params[name] = uuid.NewString()
			}
			if op.Body != nil {
				r.body = "{"
			}
			// A client writes what it likes in X-Forwarded-For: a new address in it each time
			// must not be a new allowance.
			r.header = map[string]string{"X-Forwarded-For": fmt.Sprintf("203.0.113.%d", i+1)}
			if i < rateLimit {
				if resp, _ := x.sendTo(f, r, as, expect{}); resp.status == http.StatusTooManyRequests {
					x.fail(false, r, "request %d of %d allowed a minute was refused", i+1, rateLimit)
				}
				continue
			}
			resp, ok := x.sendTo(f, r, as, expect{want: []int{http.StatusTooManyRequests}})
			if !ok {
				return
			}
			if n, err := strconv.Atoi(resp.header.Get("Retry-After")); err != nil || n < 1 {
				x.fail(false, r, "429 with Retry-After %q, want a number of seconds", resp.header.Get("Retry-After"))
			}
		}
	})
}

func randByte() int {
	b, _ := strconv.ParseUint(random()[:2], 16, 8)
	return int(b)
}

// checkRoles compares the roles the document names with the .apsorc's deleteRole of the
// engine's deletes and recovers, and fills in the role of those the document is silent on.
func (w *world) checkRoles() error {
	var errs []string
	for _, op := range w.doc.operations {
		if !(op.Method == "DELETE" && len(op.Params) == 1 && strings.HasSuffix(op.Path, "}")) && !undeletes(op) {
			continue
		}
		e := w.entityOf(op.Path)
		if e == nil || e.Platform != apsorc.NotPlatform {
			continue
		}
		role := auth.Role(e.Options.DeleteRole)
		if !role.Valid() {
			role = w.doc.roles[len(w.doc.roles)-1]
		}
		switch op.MinRole {
		case "":
			op.MinRole = role
		case role:
		default:
			errs = append(errs, fmt.Sprintf("%s: the document says it needs %s, the .apsorc's deleteRole %s", op.Key(), op.MinRole, role))
		}
	}
	if errs != nil {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}
