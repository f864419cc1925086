package resource_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"scaleapi/shared/apsorc"
)

// TestEngineServesEverySchema loads every schema the repository keeps (the root .apsorc, the
// examples, and apsorc's test files shaped like APSO's published examples), creates its tables,
// and drives every entity with an HTTP route through create, read, list, update and delete,
// with bodies made from the schema alone: whatever the schema, the engine serves it.
func TestEngineServesEverySchema(t *testing.T) {
	t.Parallel()
	paths, err := filepath.Glob("../apsorc/testdata/*.json")
	if err != nil {
		t.Fatal(err)
	}
	paths = append(paths, rootSchema, "../../examples/shop/.apsorc", "../../examples/clinic/.apsorc")
	// APSORC_EXAMPLES names a directory of more schemas to serve, such as the examples APSO
	// publishes (apsoai/cli's test/apsorc-json), which this repository doesn't redistribute.
	if dir := os.Getenv("APSORC_EXAMPLES"); dir != "" {
		more, err := filepath.Glob(filepath.Join(dir, "*.json"))
		if err != nil || len(more) == 0 {
			t.Fatalf("APSORC_EXAMPLES=%s: no *.json (%v)", dir, err)
		}
		paths = append(paths, more...)
	}
	var served atomic.Int64 // entities served, across the parallel subtests
	for _, path := range paths {
		if _, err := apsorc.Load(path); err != nil {
			if !strings.Contains(err.Error(), "is not supported") {
				t.Errorf("%s: %v", path, err)
			}
			continue // PostGIS: refused at load, as documented
		}
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			t.Parallel()
			app := newEngineApp(t, path)
			alice := app.User(t, "Alice")
			org := app.Org(t, alice)
			made := map[*apsorc.Entity]string{} // an id of each entity created so far
			for _, e := range createOrder(app.s) {
				if !e.HTTP {
					continue
				}
				body, ok := sample(e, made, org.String(), alice.ID.String())
				if !ok {
					t.Fatalf("%s: no sample body (a required reference to an entity without routes)", e.Name)
				}
				base := "/" + e.Path
				x := obj(t, app.do(t, alice, "POST", base, body, 201))
				id := idText(x["id"])
				made[e] = id
				app.do(t, alice, "GET", base+"/"+id, "", 200)
				if got := ids(t, app.do(t, alice, "GET", base+"?filter=id||$eq||"+id, "", 200)); len(got) != 1 {
					t.Fatalf("%s: list by id: %v", e.Name, got)
				}
				app.do(t, alice, "PATCH", base+"/"+id, "{}", 200)
				served.Add(1)
			}
			// Delete in the reverse order, children first.
			order := createOrder(app.s)
			for i := len(order) - 1; i >= 0; i-- {
				if e := order[i]; e.HTTP && made[e] != "" {
					app.do(t, alice, "DELETE", "/"+e.Path+"/"+made[e], "", 204)
					app.do(t, alice, "GET", "/"+e.Path+"/"+made[e], "", 404)
				}
			}
		})
	}
	t.Cleanup(func() {
		if !t.Failed() && served.Load() == 0 {
			t.Error("no entity was served")
		}
	})
}

// createOrder returns s's served entities with every entity after those it has a required
// reference to.
func createOrder(s *apsorc.Schema) []*apsorc.Entity {
	var out []*apsorc.Entity
	done := map[*apsorc.Entity]bool{}
	var visit func(e *apsorc.Entity)
	visit = func(e *apsorc.Entity) {
		if done[e] || e.Platform != apsorc.NotPlatform {
			return
		}
		done[e] = true
		for _, f := range e.Fields {
			if f.Relation != nil && !f.Nullable && f.Relation.Target != e {
				visit(f.Relation.Target)
			}
		}
		out = append(out, e)
	}
	for _, e := range s.Entities {
		visit(e)
	}
	return out
}

// sample is a valid create body for e: every required field without a default, references to
// the entities made so far; the organization is left to the engine when it may inject it (the
// caller has one).
func sample(e *apsorc.Entity, made map[*apsorc.Entity]string, org, user string) (string, bool) {
	body := map[string]any{}
	for _, f := range e.Fields {
		if f.Nullable || f.Default != nil || (f == e.Scope.Field && e.Scope.InjectOnCreate) {
			continue
		}
		switch {
		case f.Relation != nil && f.Relation.Target.Platform == apsorc.Organizations:
			body[f.Name] = org
		case f.Relation != nil && f.Relation.Target.Platform == apsorc.Users:
			body[f.Name] = user
		case f.Relation != nil:
			id, ok := made[f.Relation.Target]
			if !ok {
				return "", false
			}
			if f.Type == apsorc.BigInt {
				n, _ := strconv.ParseInt(id, 10, 64)
				body[f.Name] = n
			} else {
				body[f.Name] = id
			}
		case f.Implicit:
			body[f.Name] = org
		default:
			body[f.Name] = sampleValue(f)
		}
	}
	b, _ := json.Marshal(body)
	return string(b), true
}

func sampleValue(f *apsorc.Field) any {
	switch f.Type {
	case apsorc.Enum:
		return f.Values[0]
	case apsorc.Integer:
		return 3
	case apsorc.Boolean:
		return true
	case apsorc.Float:
		return 1.5
	case apsorc.Decimal:
		if f.Scale == 0 && f.Precision > 0 {
			return "2"
		}
		return "1.5"
	case apsorc.Date:
		return "2026-01-02"
	case apsorc.Timestamptz:
		return "2026-01-02T03:04:05Z"
	case apsorc.JSON:
		return map[string]any{"k": []int{1}}
	}
	if f.Email {
		return "someone@example.com"
	}
	return "x" + strings.Repeat("y", min(3, max(f.Length-1, 0)))
}
