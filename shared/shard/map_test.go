package shard

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func TestParseMap(t *testing.T) {
	good := `[{"name":"a","writer":"postgres://u:secret@proxy-a:5432/app","reader":"postgres://u:secret@proxy-a-ro:5432/app"},
		{"name":"b-2","writer":"postgresql://u@proxy-b/app","weight":2},{"name":"c_3","writer":"postgres://u@proxy-c/app","weight":0}]`
	specs, err := ParseMap(good)
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 3 || specs[0].Name != "a" || specs[0].Reader == "" || specs[1].weight() != 2 || specs[2].weight() != 0 || specs[0].weight() != 1 {
		t.Fatalf("specs = %+v", specs)
	}
	for _, c := range []struct{ raw, want string }{
		{``, "not a JSON array"},
		{`{}`, "not a JSON array"},
		{`[]`, "no shards"},
		{`[{"name":"a","writer":"postgres://h/db"}] x`, "text after"},
		{`[{"name":"a","writer":"postgres://h/db","extra":1}]`, "not a JSON array"},
		{`[{"name":"1a","writer":"postgres://h/db"}]`, `name "1a"`},
		{`[{"name":"` + strings.Repeat("a", 64) + `","writer":"postgres://h/db"}]`, "at most 63"},
		{`[{"name":"a","writer":"postgres://h/db"},{"name":"a","writer":"postgres://h/db"}]`, "used twice"},
		{`[{"name":"a","writer":"mysql://u:secret@h/db"}]`, `scheme "mysql"`},
		{`[{"name":"a","writer":"postgres:///db"}]`, "writer: no host"},
		{`[{"name":"a","writer":"postgres://h/db","reader":"redis://u:secret@h"}]`, "reader: scheme"},
		{`[{"name":"a","writer":"postgres://h/db","weight":-1}]`, "weight must be"},
		{`[{"name":"a","writer":"postgres://h/db","weight":0}]`, "every weight is 0"},
	} {
		_, err := ParseMap(c.raw)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseMap(%s) = %v, want an error containing %q", c.raw, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseMap(%s): the error shows a password: %v", c.raw, err)
		}
	}
	// Every problem at once.
	_, err = ParseMap(`[{"name":"","writer":"x"},{"name":"b","writer":"postgres://h/db","weight":-2}]`)
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("ParseMap with three problems: %d reported: %v", n, err)
	}
}

func weights(ws ...float64) []Spec {
	specs := make([]Spec, len(ws))
	for i, w := range ws {
		specs[i] = Spec{Name: fmt.Sprintf("s%d", i+1), Weight: &w}
	}
	return specs
}

// TestPlaceFollowsWeights: each shard's share of new organizations is its weight over the sum,
// a weight of 0 takes none, and adding a shard moves an organization only onto the new shard.
func TestPlaceFollowsWeights(t *testing.T) {
	const n = 20000
	ids := make([]uuid.UUID, n)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
	}
	specs := weights(1, 1, 2, 0)
	counts := make([]int, len(specs))
	for _, id := range ids {
		counts[place(specs, id)]++
	}
	want := []float64{0.25, 0.25, 0.5, 0}
	for i, c := range counts {
		// Binomial standard deviation at n = 20000 is under 0.0036; 0.02 is more than five.
		if got := float64(c) / n; math.Abs(got-want[i]) > 0.02 {
			t.Errorf("shard %d: share %.3f, want %.2f (counts %v)", i+1, got, want[i], counts)
		}
	}
	grown := append(weights(1, 1, 2, 0), Spec{Name: "s5", Weight: ptr(4.0)})
	moved := 0
	for _, id := range ids {
		before, after := place(specs, id), place(grown, id)
		if before != after {
			moved++
			if after != 4 {
				t.Fatalf("adding s5 moved %s from s%d to s%d", id, before+1, after+1)
			}
		}
	}
	// s5 takes half of the weight now: about half of the organizations would go there.
	if share := float64(moved) / n; math.Abs(share-0.5) > 0.02 {
		t.Errorf("adding a shard of half the weight would place %.3f there, want about 0.5", share)
	}
	again := weights(1, 1, 2, 0) // a map parsed again: the same places
	for i, id := range ids[:100] {
		if got := place(again, id); got != place(specs, ids[i]) {
			t.Fatal("place is not deterministic")
		}
	}
}

func ptr[T any](v T) *T { return &v }
