package resource

import (
	"slices"
	"testing"

	"github.com/google/uuid"
)

func TestOrgHints(t *testing.T) {
	var h orgHints
	u, a, b := uuid.New(), uuid.New(), uuid.New()
	if got := h.get(u); got != nil {
		t.Fatalf("empty hints gave %v", got)
	}
	orgs := []uuid.UUID{a, b}
	h.put(u, orgs)
	orgs[0] = uuid.Nil // the caller's slice is not kept
	if got := h.get(u); !slices.Equal(got, []uuid.UUID{a, b}) {
		t.Fatalf("get = %v, want [%v %v]", got, a, b)
	}
	h.put(u, []uuid.UUID{b}) // a membership ended
	if got := h.get(u); !slices.Equal(got, []uuid.UUID{b}) {
		t.Fatalf("after a change get = %v, want [%v]", got, b)
	}
	for range maxOrgHints {
		h.put(uuid.New(), []uuid.UUID{a})
	}
	if n := len(h.m); n > maxOrgHints {
		t.Fatalf("%d hints kept, bound %d", n, maxOrgHints)
	}
}
