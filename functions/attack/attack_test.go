// Package attack_test attacks every operation of the OpenAPI document the API serves
// (shared/openapi) with two tenants, and proves that none of them discloses or changes another
// tenant's data, and that every answer is one the document declares for the operation, an
// RFC 9457 problem when it is an error the document says is one, and never a 5xx.
//
// The five functions are built in-process as their mains build them (platform.Build from
// environment variables, the real guard chain) over one database behind PgBouncer, its
// replica and Redis, and driven with API Gateway REST (payload 1.0) events through lambdahttp's
// Lambda handler, as in AWS. The document's operations are mapped to the function whose router
// serves them, so a route the document gains is attacked without a new test, and a route no
// function serves fails.
//
// The cases are generated from the document: its paths and path parameters (each names the
// rows of the collection before it, whose POST makes them), methods, security requirements,
// request body schemas (valid bodies are generated from them, references resolved through the
// .apsorc's relations), declared statuses and media types, the roles its summaries and
// descriptions name (checked against the .apsorc's deleteRole for the engine's deletes and
// recovers), and the limits its parameters and descriptions state. Tenants A and B each have
// an owner, an admin and a member; C is a second organization of A's users, with a row in
// every collection, deleted at setup; a stranger belongs to no organization. A attacks:
//
//   - tenancy: B's ids (live, deleted, spelled otherwise, with another representation or a
//     conditional header), C's, random, malformed and A's own deleted ids in every path
//     parameter; B's and C's ids in every body reference, also twice in one body and in the
//     second item of a bulk; the stranger on A's rows; lists filtered on B's ids in both
//     dialects; another caller's Idempotency-Key;
//   - roles: every role below the one an operation needs, a role assigned above the
//     assigner's own, a member removed who holds a role above the remover's;
//   - tokens: missing, garbage, another scheme, alg none, another HMAC, a wrong key, audience
//     or issuer, expired, oversized, revoked by refresh-token reuse, logged out; dead refresh
//     tokens on the refresh route;
//   - bodies: over the body limit, malformed, not an object, null, empty, trailing data, not
//     JSON, an unknown field, a wrong type, a NUL; a body sent where none is taken; a stale
//     If-Match;
//   - mass assignment: id, version, createdAt, updatedAt, deletedAt (and the same names in
//     another case) and B's organizationId set on every create and update, and the stored row
//     read back: the contract refuses them (400, the schemas' additionalProperties: false;
//     B's organization 404 on a create, 422 on an update), and nothing of the request is kept;
//   - resource limits (OWASP API4): page size, bulk size, filters, search depth, values in an
//     $in, join depth and count over the documented maximums, a forged cursor, a query string,
//     headers and an Idempotency-Key over their limits, and the per-user (per-IP on public
//     routes, whatever X-Forwarded-For says) rate limit's 429 with Retry-After, against a
//     second build of the functions with a small limit.
//
// Before the attacks every operation is sent once as it should be (a control), which must
// succeed: a case refused for a reason of the harness's own would prove nothing. Writes that
// may succeed act on rows made for them, so that cases run in parallel without meeting. B's
// view of every read operation is taken before and after the attacks and must not change.
//
// A leak is an answer carrying another tenant's ids or tag that the request did not, anything
// but a refusal to a request across tenants, or a change in B's view; an unexpected status is
// a 5xx, a status the document does not declare for the operation, an error that is not
// problem+json, a 2xx where a refusal was due, or another refusal than the case's. TestAttack
// logs "attack: N requests, L leaks, U unexpected" and fails on any leak or unexpected
// status, naming the method, path, case and status. ATTACK_LIST=1 logs every case's name.
package attack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"scaleapi/shared/api"
	"scaleapi/shared/devservices/devtest"
)

func TestMain(m *testing.M) { os.Exit(devtest.Main(m)) }

// expect is what a case allows.
type expect struct {
	// want are the statuses the case allows; nil allows any the document declares.
	want []int
	// cross says the request reaches across tenants: a 2xx to it is a leak, not only an
	// unexpected status.
	cross bool
}

// run is one case of one operation.
type run struct {
	w    *world
	t    *testing.T
	op   *operation
	name string
}

// fail reports a finding of the case.
func (x *run) fail(leak bool, r *request, format string, args ...any) {
	x.t.Helper()
	kind := "unexpected"
	if leak {
		kind = "LEAK"
		x.w.leaks.Add(1)
	} else {
		x.w.unexpected.Add(1)
	}
	x.t.Errorf("%s: %s [%s]: %s", kind, r, x.name, fmt.Sprintf(format, args...))
}

// send sends r as the account as (none when nil, or r's own Authorization header) through the
// function that serves it, and checks the answer against the document and e. It reports
// whether the answer was one e allows.
func (x *run) send(r *request, as *account, e expect) (response, bool) {
	x.t.Helper()
	return x.sendTo(x.w.fn(r.op, false), r, as, e)
}

func (x *run) sendTo(f *built, r *request, as *account, e expect) (response, bool) {
	x.t.Helper()
	w := x.w
	if r.header == nil {
		r.header = map[string]string{}
	}
	if _, ok := r.header["Content-Type"]; !ok && r.body != "" {
		r.header["Content-Type"] = "application/json"
	}
	if _, ok := r.header["Authorization"]; !ok && as != nil {
		tok, err := w.token(as)
		if err != nil {
			x.fail(false, r, "session: %v", err)
			return response{}, false
		}
		r.header["Authorization"] = "Bearer " + tok
	}
	if r.sourceIP == "" {
		r.sourceIP = w.ip
	}
	var resp response
	for attempt := 0; ; attempt++ {
		w.requests.Add(1)
		var err error
		resp, err = f.invoke(context.Background(), r)
		if err != nil {
			x.fail(false, r, "%v", err)
			return resp, false
		}
		// A 503 with Retry-After says a dependency answered slower than its budget (a
		// health check's second, a guard's Redis timeout): on this machine, shared with
		// other tests, that happens under load without anything being wrong. A client
		// retries; so does the suite, twice, and counts it. The rate limit's own build is
		// not retried: each request there spends an allowance the case counts.
		if resp.status != http.StatusServiceUnavailable || resp.header.Get("Retry-After") == "" || attempt == 2 || f != w.fn(r.op, false) {
			break
		}
		w.retried.Add(1)
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
	ok := true
	op := r.op
	switch {
	case resp.status >= 500:
		x.fail(false, r, "status %d: %.300s", resp.status, resp.body)
		ok = false
	case !op.Statuses[resp.status]:
		x.fail(false, r, "status %d is not among the document's %v: %.300s", resp.status, statuses(op), resp.body)
		ok = false
	}
	// An error is a problem wherever the document says it is one (everywhere but the health
	// check's 503, which is the health document; the document's other application/json
	// errors are API Gateway's own, which no function sends).
	if resp.status >= 400 && (slices.Contains(op.Contents[resp.status], problemJSON) || len(op.Contents[resp.status]) == 0) {
		var p api.Problem
		ct := resp.header.Get("Content-Type")
		if ct != problemJSON || json.Unmarshal([]byte(resp.body), &p) != nil || p.Status != resp.status || p.Title == "" {
			x.fail(false, r, "status %d is not an RFC 9457 problem: %q %.300s", resp.status, ct, resp.body)
			ok = false
		}
	}
	if m := x.foreign(r, as, resp); m != "" {
		x.fail(true, r, "status %d carries another tenant's %q: %.300s", resp.status, m, resp.body)
		ok = false
	}
	if e.want != nil && !slices.Contains(e.want, resp.status) {
		// Across tenants any answer but a refusal (a 304 as much as a 200) tells or gives
		// something of the other tenant's.
		success := resp.status >= 200 && resp.status < 400
		x.fail(success && e.cross, r, "status %d, want %v: %.300s", resp.status, e.want, resp.body)
		ok = false
	}
	return resp, ok
}

const problemJSON = "application/problem+json"

// foreign returns a marker of a tenant as is not in that the answer carries and the request
// did not: a tenant's tag (in every name and email it has) or a row's id.
func (x *run) foreign(r *request, as *account, resp response) string {
	var sent strings.Builder
	sent.WriteString(r.path())
	for k, vs := range r.query {
		sent.WriteString(k + "=" + strings.Join(vs, "&"))
	}
	for _, v := range r.header {
		sent.WriteString(v)
	}
	sent.WriteString(r.body)
	var got strings.Builder
	got.WriteString(resp.body)
	for _, vs := range resp.header {
		got.WriteString(strings.Join(vs, " "))
	}
	answer, request := strings.ToLower(got.String()), strings.ToLower(sent.String())
	if as == nil {
		as = r.identity
	}
	for _, tn := range x.w.tenants {
		if as != nil && as.tenant == tn {
			continue
		}
		for _, m := range tn.markerList() {
			if strings.Contains(answer, m) && !strings.Contains(request, m) {
				return m
			}
		}
	}
	return ""
}

func statuses(op *operation) []int {
	out := make([]int, 0, len(op.Statuses))
	for s := range op.Statuses {
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// workers is how many cases of one operation run at once.
const workers = 4

// TestAttack builds the world, sends the controls, runs every case of every operation, and
// checks B's view of its own data before and after.
func TestAttack(t *testing.T) {
	w := newWorld(t)
	defer w.report(t)
	before, rows := w.view(t, w.b), w.digests(t, w.b)

	t.Run("Controls", func(t *testing.T) {
		for _, op := range w.doc.operations {
			w.control(&run{w: w, t: t, op: op, name: "control"})
		}
	})
	if t.Failed() {
		t.Fatalf("a control failed: the cases' refusals would prove nothing")
	}

	counts := map[string]int{}
	var mu sync.Mutex
	t.Run("Operations", func(t *testing.T) {
		for _, op := range w.doc.operations {
			t.Run(op.ID, func(t *testing.T) {
				t.Parallel()
				cs := w.cases(op)
				if os.Getenv("ATTACK_LIST") != "" {
					for _, c := range cs {
						t.Log(op.Key() + " | " + c.name)
					}
				}
				mu.Lock()
				counts[op.Key()] = len(cs)
				mu.Unlock()
				jobs := make(chan acase)
				var wg sync.WaitGroup
				for range workers {
					wg.Go(func() {
						for c := range jobs {
							c.fn(&run{w: w, t: t, op: op, name: c.name})
						}
					})
				}
				for _, c := range cs {
					jobs <- c
				}
				close(jobs)
				wg.Wait()
			})
		}
	})

	after := w.view(t, w.b)
	for _, k := range sortedKeys(before) {
		if before[k] != after[k] {
			w.leaks.Add(1)
			t.Errorf("LEAK: %s as B's owner changed during the attacks:\nbefore %.500s\nafter  %.500s", k, before[k], after[k])
		}
	}

	after = w.digests(t, w.b)
	for _, k := range sortedKeys(rows) {
		if rows[k] != after[k] {
			w.leaks.Add(1)
			t.Errorf("LEAK: B's rows in %s changed during the attacks (count:md5 %s, then %s)", k, rows[k], after[k])
		}
	}

	total := 0
	var per []string
	for _, k := range sortedKeys(counts) {
		total += counts[k]
		per = append(per, fmt.Sprintf("%s %d", k, counts[k]))
	}
	t.Logf("cases per operation: %s", strings.Join(per, ", "))
	t.Logf("%d operations, %d cases; B's view: %d reads and %d tables compared", len(w.doc.operations), total, len(before), len(rows))
}

// report logs the counts, whatever ended the test, and fails it on any leak or unexpected
// status.
func (w *world) report(t *testing.T) {
	if n := w.retried.Load(); n > 0 {
		t.Logf("%d answers were a 503 with Retry-After and were sent again (a dependency slower than its budget on a busy machine)", n)
	}
	requests, leaks, unexpected := w.requests.Load(), w.leaks.Load(), w.unexpected.Load()
	t.Logf("attack: %d requests, %d leaks, %d unexpected", requests, leaks, unexpected)
	if leaks > 0 || unexpected > 0 {
		t.Errorf("attack: %d leaks and %d unexpected statuses (each reported above with its method, path, case and status)", leaks, unexpected)
	}
}

// view returns tn's owner's answer to every secured read of the document, with tn's long-lived
// rows in its path parameters: what must not change while another tenant attacks.
func (w *world) view(t *testing.T, tn *tenant) map[string]string {
	x := &run{w: w, t: t, name: "view of " + tn.name}
	out := map[string]string{}
	for _, op := range w.doc.operations {
		if op.Method != "GET" || !op.Secured {
			continue
		}
		x.op = op
		ps, err := w.params(x, tn, op, false)
		if err != nil {
			t.Fatal(err)
		}
		var q url.Values
		if op.Query["cache"] != nil {
			q = url.Values{"cache": {"0"}} // the database's answer, not a cached one
		}
		resp, _ := x.send(&request{op: op, params: ps, query: q}, tn.users[w.doc.roles[0]], expect{want: []int{http.StatusOK}})
		out[op.Key()] = fmt.Sprint(resp.status, " ", stable(resp.body))
		// The views of a row are cached apart from the row: reading them here puts them in
		// the cache the attacks then meet.
		if len(op.Params) > 0 {
			for _, q := range w.representations(op) {
				resp, _ := x.send(&request{op: op, params: ps, query: q}, tn.users[w.doc.roles[0]], expect{want: []int{http.StatusOK}})
				out[op.Key()+"?"+q.Encode()] = fmt.Sprint(resp.status, " ", stable(resp.body))
			}
		}
	}
	return out
}

// volatile are the members of an answer that change without a write: the time a report was
// computed.
var volatile = []string{"generatedAt"}

// stable returns a JSON body without its volatile members.
func stable(body string) string {
	var v any
	if json.Unmarshal([]byte(body), &v) != nil {
		return body
	}
	var strip func(any)
	strip = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, k := range volatile {
				delete(v, k)
			}
			for _, c := range v {
				strip(c)
			}
		case []any:
			for _, c := range v {
				strip(c)
			}
		}
	}
	strip(v)
	return marshal(v)
}
