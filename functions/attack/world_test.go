package attack_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi"
	"scaleapi/shared/apsorc"
	"scaleapi/shared/auth"
	"scaleapi/shared/devservices/devtest"
	rt "scaleapi/shared/resource/resourcetest"
	"scaleapi/shared/user"
)

// The auth flow's routes, as API.md names them. The world needs them to make what a request
// can't be generated without (an account with a password, a refresh token, a session ended by
// logout); every operation, these included, is attacked from the document alike.
const (
	registerPath = "/auth/register"
	loginPath    = "/auth/login"
	refreshPath  = "/auth/refresh"
	logoutPath   = "/auth/logout"
)

// rateLimit is RATE_LIMIT_PER_MINUTE of the second build of the functions, the one the rate
// limit cases run against: small, so that a few requests reach it.
const rateLimit = 2

// world is everything the cases run against: the five functions over one database and one Redis,
// the document, two tenants with their users and rows, a stranger who belongs to no
// organization, and the tokens that must not work.
type world struct {
	doc    *document
	schema *apsorc.Schema
	fns    []*built
	// limited are the same functions built with RATE_LIMIT_PER_MINUTE = rateLimit.
	limited []*built
	key     []byte
	// ip is the source address of every request but the rate limit cases': one of this run's
	// own, so that the per-IP limit of public routes, shared through Redis with every test
	// running at the same time, is this run's alone.
	ip      string
	orgColl string // the organizations' collection, /organizations
	tenants []*tenant
	a, b    *tenant
	// c is an organization of A's users, with a row in every collection, deleted at setup:
	// its rows are nobody's.
	c        *tenant
	stranger *account
	// badTokens are the Authorization values every secured operation must answer 401, by name.
	badTokens []badToken
	// dead are the refresh tokens /auth/refresh must refuse, by name.
	dead []badToken

	requests, leaks, unexpected atomic.Int64
	// retried counts the answers sent again (see run.sendTo).
	retried atomic.Int64
}

// badToken is a credential that must be refused, and what it is.
type badToken struct{ name, value string }

// account is a user, with the role they hold in their tenant's organization.
type account struct {
	id              uuid.UUID
	email, password string
	role            auth.Role
	tenant          *tenant // nil for the stranger and the rate limit cases' users
}

// tenant is one organization, its members, and the rows made in it.
type tenant struct {
	name string
	// tag is in every text the tenant's rows are given, so that a response carrying any of
	// them is found by one search.
	tag   string
	users map[auth.Role]*account

	mu      sync.RWMutex
	main    map[string]map[string]any // collection -> its long-lived row
	deleted map[string]map[string]any // collection -> a row deleted at setup
	markers map[string]bool           // the tag, and the id of every row made for the tenant
}

func (tn *tenant) mark(ids ...string) {
	tn.mu.Lock()
	defer tn.mu.Unlock()
	for _, id := range ids {
		if id != "" {
			tn.markers[id] = true
		}
	}
}

// markerList returns the tenant's markers.
func (tn *tenant) markerList() []string {
	tn.mu.RLock()
	defer tn.mu.RUnlock()
	out := make([]string, 0, len(tn.markers))
	for m := range tn.markers {
		out = append(out, m)
	}
	return out
}

// row returns the tenant's long-lived row of coll, or its deleted one.
func (tn *tenant) row(coll string, deleted bool) (map[string]any, bool) {
	tn.mu.RLock()
	defer tn.mu.RUnlock()
	if deleted {
		r, ok := tn.deleted[coll]
		return r, ok
	}
	r, ok := tn.main[coll]
	return r, ok
}

// idOf is the value a path parameter named param takes from a row: the row's field of that name
// (a member's userId), else its id.
func idOf(row map[string]any, param string) string {
	if v, ok := row[param].(string); ok {
		return v
	}
	return str(row["id"])
}

func random() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newWorld builds the functions and the tenants. Everything it sends is a request that must
// succeed, counted and checked like the cases' requests.
func newWorld(t *testing.T) *world {
	t.Helper()
	doc, err := readDocument()
	if err != nil {
		t.Fatal(err)
	}
	s, err := apsorc.Parse(scaleapi.Schema)
	if err != nil {
		t.Fatal(err)
	}
	w := &world{doc: doc, schema: s, key: []byte(random() + random() + random()),
		ip: fmt.Sprintf("198.18.%d.%d", mrand.IntN(256), 1+mrand.IntN(254))}

	// The databases, sharded under make test-shards.
	env := rt.DatabaseEnv(t, true)
	for k, v := range map[string]string{
		"REDIS_URL":  devtest.Services(t).RedisURL,
		"JWT_SECRET": string(w.key),
		// Several requests run at once here, where Lambda would give each its own environment.
		"DB_MAX_CONNS": "8",
		// A shared test machine under load may take longer than production's 50 ms (cache) and
		// 250 ms (guards) to answer: the guards would answer 503, which here would only say the
		// machine was busy.
		"REDIS_TIMEOUT":       "2s",
		"REDIS_GUARD_TIMEOUT": "5s",
		// The cases send far more than a user's 600 a minute; the limit has cases of its own.
		"RATE_LIMIT_PER_MINUTE": "100000000",
	} {
		env[k] = v
	}
	w.fns = buildFunctions(t, env)
	env["RATE_LIMIT_PER_MINUTE"] = fmt.Sprint(rateLimit)
	w.limited = buildFunctions(t, env)

	// Every operation of the document is served by exactly one function, and every route a
	// function serves is in the document.
	for _, op := range doc.operations {
		for _, f := range w.fns {
			if f.serves(op.Method, op.Path) {
				if op.fn != nil {
					t.Errorf("%s is served by both %s and %s", op.Key(), op.fn.name, f.name)
				}
				op.fn = f
			}
		}
		if op.fn == nil {
			t.Errorf("%s: no function serves it, so it can't be attacked", op.Key())
		}
	}
	for _, f := range w.fns {
		for _, r := range f.routes {
			if doc.op(r.Method, r.Path) == nil {
				t.Errorf("%s serves %s %s, which the document lacks", f.name, r.Method, r.Path)
			}
		}
	}
	for _, p := range []string{registerPath, loginPath, refreshPath, logoutPath} {
		if doc.op("POST", p) == nil {
			t.Fatalf("the document has no POST %s", p)
		}
	}
	org, ok := s.Entity(s.Auth.OrganizationEntity)
	if !ok || doc.op("POST", "/"+org.Path) == nil {
		t.Fatalf("the document has no collection for the schema's organizations (%q)", s.Auth.OrganizationEntity)
	}
	w.orgColl = "/" + org.Path
	if err := w.checkRoles(); err != nil {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}

	x := w.setupRun(t)
	for _, name := range []string{"A", "B"} {
		tn := &tenant{name: name, tag: "tn" + strings.ToLower(name) + random(), users: map[auth.Role]*account{},
			main: map[string]map[string]any{}, deleted: map[string]map[string]any{}, markers: map[string]bool{}}
		tn.markers[tn.tag] = true
		for _, r := range doc.roles {
			tn.users[r] = w.register(x, tn, r)
		}
		w.tenants = append(w.tenants, tn)
	}
	w.a, w.b = w.tenants[0], w.tenants[1]
	w.stranger = w.register(x, nil, "")
	if t.Failed() {
		t.FailNow()
	}
	// Each tenant's long-lived rows: one in every collection a path parameter names, and a
	// deleted one in every collection that has a DELETE.
	for _, tn := range w.tenants {
		for _, op := range doc.operations {
			for _, p := range op.Params {
				coll, err := w.collection(op.Path, p)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := w.mainRow(x, tn, coll); err != nil {
					t.Fatal(err)
				}
				if _, ok := tn.row(coll, true); ok || w.itemOp("DELETE", coll) == nil {
					continue
				}
				row, err := w.deletedRow(x, tn, coll)
				if err != nil {
					t.Fatal(err)
				}
				tn.mu.Lock()
				tn.deleted[coll] = row
				tn.mu.Unlock()
			}
		}
	}
	w.c = w.deletedOrganization(x)
	w.makeDeadTokens(x)
	if t.Failed() {
		t.FailNow()
	}
	return w
}

// deletedOrganization makes a second organization of A's users, with a row in every
// collection a path parameter names, and deletes it. It becomes a tenant of its own only then,
// so that from then on an answer to A carrying any of its rows is a leak.
func (w *world) deletedOrganization(x *run) *tenant {
	t := x.t
	c := &tenant{name: "C", tag: "tnc" + random(), users: w.a.users,
		main: map[string]map[string]any{}, deleted: map[string]map[string]any{}, markers: map[string]bool{}}
	c.markers[c.tag] = true
	for _, op := range w.doc.operations {
		for _, p := range op.Params {
			coll, err := w.collection(op.Path, p)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.mainRow(x, c, coll); err != nil {
				t.Fatal(err)
			}
		}
	}
	del := w.itemOp("DELETE", w.orgColl)
	if del == nil {
		t.Fatalf("the document has no DELETE of %s's items", w.orgColl)
	}
	org := mustRow(c, w.orgColl)
	if _, ok := x.send(&request{op: del, params: map[string]string{del.Params[0]: str(org["id"])}}, w.owner(w.a), expect{want: success(del)}); !ok {
		t.FailNow()
	}
	w.tenants = append(w.tenants, c)
	return c
}

// setupRun is the run the world's own requests are checked under.
func (w *world) setupRun(t *testing.T) *run {
	return &run{w: w, t: t, name: "setup"}
}

// fn returns the function that serves op: the rate limited build's when limited.
func (w *world) fn(op *operation, limited bool) *built {
	if !limited {
		return op.fn
	}
	for i, f := range w.fns {
		if f == op.fn {
			return w.limited[i]
		}
	}
	return nil
}

// authFn is the auth function, whose sessions and tokens every function shares.
func (w *world) authFn() *built { return w.doc.op("POST", loginPath).fn }

func (w *world) ctx() context.Context { return context.Background() }

// token returns an access token of a new session of a: every request gets its own, so that
// no case (logout, a revoked session) can end the session another case uses.
func (w *world) token(a *account) (string, error) {
	d := w.authFn().deps
	sid, _, err := d.Sessions.Create(context.Background(), a.id)
	if err != nil {
		return "", err
	}
	tok, _, err := d.Tokens.Issue(a.id, sid)
	return tok, err
}

// newUser makes a user directly in the database, as the auth function's store does, for the
// emails that a body must name (a member to add) and the rate limit cases' callers; none of
// them logs in.
func (w *world) newUser(tn *tenant, nonce string) (*account, error) {
	tag := "stranger"
	if tn != nil {
		tag = tn.tag
	}
	u := &user.User{ID: uuid.Must(uuid.NewV7()), Email: tag + "-" + nonce + "@example.com", Name: tag + " " + nonce,
		PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$unused$unused"}
	if err := user.NewPG(w.authFn().deps.Primary).Create(context.Background(), u); err != nil {
		return nil, err
	}
	if tn != nil {
		tn.mark(u.ID.String())
	}
	return &account{id: u.ID, email: u.Email, tenant: tn}, nil
}

// register signs a user up through the register route, with a body generated from its schema,
// and, with a tenant, gives them role in its organization (made by the owner, the first).
func (w *world) register(x *run, tn *tenant, role auth.Role) *account {
	x.t.Helper()
	op := w.doc.op("POST", registerPath)
	f := &fill{w: w, tn: tn, op: op, nonce: random()}
	body, err := f.object(op.Body)
	if err != nil {
		x.t.Fatal(err)
	}
	resp, ok := x.send(&request{op: op, body: marshal(body), identity: &account{tenant: tn}}, nil, expect{want: success(op)})
	if !ok {
		x.t.FailNow()
	}
	var out struct {
		User struct {
			ID uuid.UUID `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(resp.body), &out); err != nil || out.User.ID == uuid.Nil {
		x.t.Fatalf("register: %s (%v)", resp.body, err)
	}
	a := &account{id: out.User.ID, email: str(body["email"]), password: str(body["password"]), role: role, tenant: tn}
	if tn == nil {
		return a
	}
	tn.mark(a.id.String())
	if role == w.doc.roles[0] {
		tn.users[role] = a
		if _, err := w.mainRow(x, tn, w.orgColl); err != nil {
			x.t.Fatal(err)
		}
		return a
	}
	if err := w.join(x, tn, mustRow(tn, w.orgColl), a); err != nil {
		x.t.Fatal(err)
	}
	return a
}

func mustRow(tn *tenant, coll string) map[string]any {
	r, _ := tn.row(coll, false)
	return r
}

// membersColl returns the collection under an organization whose create takes a role: its
// members.
func (w *world) membersColl() (*operation, error) {
	for _, op := range w.doc.operations {
		if op.Method != "POST" || len(op.Params) != 1 || !strings.HasPrefix(op.Path, w.orgColl+"/{") || op.Body == nil {
			continue
		}
		for name := range asMap(op.Body["properties"]) {
			if w.isRoleEnum(w.doc.property(op.Body, name)) {
				return op, nil
			}
		}
	}
	return nil, fmt.Errorf("the document has no members collection under %s", w.orgColl)
}

// join makes a a member of the organization row with a's role, through the members collection,
// as the organization's owner.
func (w *world) join(x *run, tn *tenant, org map[string]any, a *account) error {
	op, err := w.membersColl()
	if err != nil {
		return err
	}
	f := &fill{w: w, tn: tn, op: op, nonce: random(), set: map[string]any{"email": a.email}}
	body, err := f.object(op.Body)
	if err != nil {
		return err
	}
	for name := range asMap(op.Body["properties"]) {
		if w.isRoleEnum(w.doc.property(op.Body, name)) {
			body[name] = string(a.role)
		}
	}
	_, ok := x.send(&request{op: op, params: map[string]string{op.Params[0]: str(org["id"])}, body: marshal(body)},
		tn.users[w.doc.roles[0]], expect{want: success(op)})
	if !ok {
		return fmt.Errorf("join %s as %s failed", a.email, a.role)
	}
	return nil
}

// isRoleEnum says s is the document's Role.
func (w *world) isRoleEnum(s schema) bool {
	enum := asSlice(s["enum"])
	if len(enum) != len(w.doc.roles) {
		return false
	}
	for _, v := range enum {
		if !slices.Contains(w.doc.roles, auth.Role(str(v))) {
			return false
		}
	}
	return true
}

// collection returns the collection whose create makes the rows path's parameter param names:
// the path before it (/projects for /projects/{id}, /organizations/{id}/members for
// {userId}), or, when the document has no POST there, its longest tail that has one
// (/organizations for /reports/organizations/{id}).
func (w *world) collection(path, param string) (string, error) {
	i := strings.Index(path, "/{"+param+"}")
	if i < 0 {
		return "", fmt.Errorf("%s has no {%s}", path, param)
	}
	segs := strings.Split(path[:i], "/")
	for k := 1; k < len(segs); k++ {
		c := "/" + strings.Join(segs[k:], "/")
		if w.doc.op("POST", c) != nil {
			return c, nil
		}
	}
	return "", fmt.Errorf("%s: no collection of the document makes what {%s} names", path, param)
}

// itemOp returns the operation method on coll's items (coll/{x}), or nil.
func (w *world) itemOp(method, coll string) *operation {
	for _, op := range w.doc.operations {
		if op.Method != method || !strings.HasPrefix(op.Path, coll+"/{") {
			continue
		}
		if rest := op.Path[len(coll)+1:]; strings.HasSuffix(rest, "}") && !strings.Contains(rest, "/") {
			return op
		}
	}
	return nil
}

// mainRow returns tn's long-lived row of coll, making it the first time.
func (w *world) mainRow(x *run, tn *tenant, coll string) (map[string]any, error) {
	if r, ok := tn.row(coll, false); ok {
		return r, nil
	}
	r, err := w.create(x, tn, coll)
	if err != nil {
		return nil, err
	}
	tn.mu.Lock()
	tn.main[coll] = r
	tn.mu.Unlock()
	return r, nil
}

// collParams returns the values of coll's own path parameters: tn's long-lived rows.
func (w *world) collParams(x *run, tn *tenant, path string) (map[string]string, error) {
	ps := map[string]string{}
	for _, p := range paramsOf(path) {
		c, err := w.collection(path, p)
		if err != nil {
			return nil, err
		}
		r, err := w.mainRow(x, tn, c)
		if err != nil {
			return nil, err
		}
		ps[p] = idOf(r, p)
	}
	return ps, nil
}

// paramsOf returns the {names} of a path, in order.
func paramsOf(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, seg[1:len(seg)-1])
		}
	}
	return out
}

// create makes a new row of coll in tn through the collection's POST, as tn's owner, with a
// body generated from its schema. A new organization gets the tenant's other users as members,
// with their roles, so that a role case meets the role and not a stranger's 404.
func (w *world) create(x *run, tn *tenant, coll string) (map[string]any, error) {
	op := w.doc.op("POST", coll)
	params, err := w.collParams(x, tn, coll)
	if err != nil {
		return nil, err
	}
	owner := tn.users[w.doc.roles[0]]
	f := &fill{w: w, tn: tn, op: op, x: x, as: owner, nonce: random()}
	body, err := f.object(op.Body)
	if err != nil {
		return nil, err
	}
	resp, ok := x.send(&request{op: op, params: params, body: marshal(body)}, owner, expect{want: success(op)})
	if !ok {
		return nil, fmt.Errorf("create in %s failed: %d %.300s", coll, resp.status, resp.body)
	}
	var row map[string]any
	if err := json.Unmarshal([]byte(resp.body), &row); err != nil {
		return nil, fmt.Errorf("create in %s: %v", coll, err)
	}
	for _, v := range row {
		if s, ok := v.(string); ok && uuid.Validate(s) == nil {
			// The row's own ids and its references; the references are the tenant's too.
			tn.mark(s)
		}
	}
	if coll == w.orgColl {
		for _, r := range w.doc.roles[1:] {
			if a := tn.users[r]; a != nil {
				if err := w.join(x, tn, row, a); err != nil {
					return nil, err
				}
			}
		}
	}
	return row, nil
}

// deletedRow makes a row of coll in tn and deletes it through its DELETE.
func (w *world) deletedRow(x *run, tn *tenant, coll string) (map[string]any, error) {
	row, err := w.create(x, tn, coll)
	if err != nil {
		return nil, err
	}
	del := w.itemOp("DELETE", coll)
	params, err := w.collParams(x, tn, coll)
	if err != nil {
		return nil, err
	}
	p := del.Params[len(del.Params)-1]
	params[p] = idOf(row, p)
	if _, ok := x.send(&request{op: del, params: params}, tn.users[w.doc.roles[0]], expect{want: success(del)}); !ok {
		return nil, fmt.Errorf("delete in %s failed", coll)
	}
	return row, nil
}

// undeletes says op brings a deleted row back: the resource engine's PATCH …/{id}/recover.
func undeletes(op *operation) bool {
	return strings.HasSuffix(op.Path, "}/recover")
}

// params returns values for op's path parameters in tn. The last one names, when fresh, a row
// made for this request (deleted first when op undeletes), so that a case that may change what
// it names (a write, a delete) can't change what other cases read; otherwise, and for the
// parameters before it, the tenant's long-lived rows.
func (w *world) params(x *run, tn *tenant, op *operation, fresh bool) (map[string]string, error) {
	ps, err := w.collParams(x, tn, op.Path)
	if err != nil || !fresh || len(op.Params) == 0 {
		return ps, err
	}
	last := op.Params[len(op.Params)-1]
	coll, err := w.collection(op.Path, last)
	if err != nil {
		return nil, err
	}
	var row map[string]any
	if undeletes(op) {
		row, err = w.deletedRow(x, tn, coll)
	} else {
		row, err = w.create(x, tn, coll)
	}
	if err != nil {
		return nil, err
	}
	ps[last] = idOf(row, last)
	return ps, nil
}

// makeDeadTokens makes the credentials that must be refused: forged, expired, revoked,
// logged out.
func (w *world) makeDeadTokens(x *run) {
	t := x.t
	owner := w.a.users[w.doc.roles[0]]
	d := w.authFn().deps
	ctx := context.Background()
	sid, _, err := d.Sessions.Create(ctx, owner.id)
	if err != nil {
		t.Fatal(err)
	}
	claims := func() auth.Claims {
		now := time.Now().UTC()
		return auth.Claims{SessionID: sid.String(), RegisteredClaims: registered(owner.id, now)}
	}
	issue := func(opts ...auth.TokenOption) string {
		tokens, err := auth.NewTokens(w.key, opts...)
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := tokens.Issue(owner.id, sid)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	wrongKey := func() string {
		tokens, err := auth.NewTokens([]byte(random() + random() + random()))
		if err != nil {
			t.Fatal(err)
		}
		tok, _, err := tokens.Issue(owner.id, sid)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	w.badTokens = []badToken{
		{"missing token", ""},
		{"garbage bearer", "Bearer not.a.token"},
		{"empty bearer", "Bearer "},
		{"another scheme", "Basic " + basic(owner.email+":"+owner.password)},
		{"alg none", "Bearer " + unsigned(claims())},
		{"alg HS512 under the right key", "Bearer " + signedHS512(claims(), w.key)},
		{"signed with a wrong key", "Bearer " + wrongKey()},
		{"wrong audience", "Bearer " + issue(auth.WithAudience("another-service"))},
		{"wrong issuer", "Bearer " + issue(auth.WithIssuer("someone-else"))},
		{"expired", "Bearer " + issue(auth.WithClock(func() time.Time { return time.Now().Add(-2 * time.Hour) }))},
		{"oversized bearer", "Bearer " + strings.Repeat("A", 16<<10)},
	}

	// Refresh rotation reuse: the first refresh token, presented again after it was rotated,
	// revokes the session, whose newest access token then stops working.
	refresh := w.doc.op("POST", refreshPath)
	_, first, err := d.Sessions.Create(ctx, owner.id)
	if err != nil {
		t.Fatal(err)
	}
	resp, ok := x.send(&request{op: refresh, body: marshal(map[string]any{"refreshToken": first}), identity: owner}, nil, expect{want: success(refresh)})
	if !ok {
		t.FailNow()
	}
	var pair struct {
		AccessToken  string `json:"accessToken"`
		RefreshToken string `json:"refreshToken"`
	}
	if err := json.Unmarshal([]byte(resp.body), &pair); err != nil || pair.AccessToken == "" {
		t.Fatalf("refresh: %s", resp.body)
	}
	x.send(&request{op: refresh, body: marshal(map[string]any{"refreshToken": first})}, nil, expect{want: []int{http.StatusUnauthorized}})

	// Logout: the session's access token and refresh token die at once.
	logout := w.doc.op("POST", logoutPath)
	lsid, lrefresh, err := d.Sessions.Create(ctx, owner.id)
	if err != nil {
		t.Fatal(err)
	}
	ltok, _, err := d.Tokens.Issue(owner.id, lsid)
	if err != nil {
		t.Fatal(err)
	}
	x.send(&request{op: logout, header: map[string]string{"Authorization": "Bearer " + ltok}}, nil, expect{want: success(logout)})

	w.badTokens = append(w.badTokens,
		badToken{"revoked: its refresh token was reused", "Bearer " + pair.AccessToken},
		badToken{"logged out", "Bearer " + ltok})
	w.dead = []badToken{
		{"reused refresh token", first},
		{"newest refresh token of a session revoked by reuse", pair.RefreshToken},
		{"refresh token of a logged-out session", lrefresh},
		{"refresh token with a wrong secret", lsid.String() + ".wrong"},
		{"garbage refresh token", "not-a-refresh-token"},
	}
}

// digests returns a digest of every row of tn's organization in each table of the schema that
// holds an organization's rows (the organization itself, its memberships, each entity scoped
// to it directly), read from the primary: what no attack may change, whatever a cache says.
// Tables and columns come from the .apsorc, quoted as identifiers.
func (w *world) digests(t *testing.T, tn *tenant) map[string]string {
	t.Helper()
	org := str(mustRow(tn, w.orgColl)["id"])
	out := map[string]string{}
	for _, e := range w.schema.Entities {
		var col string
		switch {
		case e.Platform == apsorc.Organizations:
			col = "id"
		case e.Platform == apsorc.Memberships:
			f, ok := e.Field(w.schema.Auth.OrganizationField)
			if !ok {
				continue
			}
			col = f.Column
		case e.Platform == apsorc.NotPlatform && e.Scope.Direct() && e.Scope.Field != nil:
			col = e.Scope.Field.Column
		default:
			continue
		}
		table := pgx.Identifier{e.Table}.Sanitize()
		var digest string
		err := w.authFn().deps.Primary.QueryRow(context.Background(),
			`SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM `+table+
				` t WHERE t.`+pgx.Identifier{col}.Sanitize()+` = $1::uuid`, org).Scan(&digest)
		if err != nil {
			t.Fatalf("%s: %v", e.Table, err)
		}
		out[e.Table] = digest
	}
	return out
}

// marshal encodes v as JSON.
func marshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// success returns the 2xx statuses the document declares for op.
func success(op *operation) []int {
	var out []int
	for s := range op.Statuses {
		if s >= 200 && s < 300 {
			out = append(out, s)
		}
	}
	return out
}
