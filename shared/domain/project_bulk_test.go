package domain_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	rt "scaleapi/shared/resource/resourcetest"
)

// bulkBody returns a POST …/bulk body of n items made by item(i).
func bulkBody(n int, item func(i int) string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = item(i)
	}
	return `{"bulk":[` + strings.Join(items, ",") + `]}`
}

func TestBulk(t *testing.T) {
	t.Parallel()
	app := rt.NewApp(t)
	alice, bob := app.User(t, "Alice"), app.User(t, "Bob")
	orgA, orgB := app.Org(t, alice), app.Org(t, bob)
	item := func(org uuid.UUID, name string) string {
		return `{"organizationId":"` + org.String() + `","name":"` + name + `"}`
	}

	t.Run("CreatesAllInOrder", func(t *testing.T) {
		body := bulkBody(100, func(i int) string { return item(orgA, fmt.Sprintf("p%03d", i)) })
		var got []projectJSON
		app.Do(alice, rt.Request{Method: "POST", Path: "/projects/bulk", Body: body}).Expect(t, http.StatusCreated, "bulk").JSON(t, &got)
		if len(got) != 100 {
			t.Fatalf("%d created", len(got))
		}
		for i, p := range got {
			if p.Name != fmt.Sprintf("p%03d", i) || p.Version != 1 || p.OrganizationID != orgA || p.CreatedAt == "" {
				t.Fatalf("item %d: %+v", i, p)
			}
		}
		if page := app.List(t, alice, "/projects?limit=1"); page.Total != 100 {
			t.Fatalf("list total %d", page.Total)
		}
	})
	t.Run("AllOrNothing", func(t *testing.T) {
		before := app.List(t, alice, "/projects?limit=1").Total
		// Item 2 is in an organization Alice is not a member of: nothing is created.
		body := bulkBody(3, func(i int) string {
			if i == 2 {
				return item(orgB, "intruder")
			}
			return item(orgA, "fine")
		})
		w := app.Do(alice, rt.Request{Method: "POST", Path: "/projects/bulk", Body: body}).Expect(t, http.StatusNotFound, "bulk into B")
		if !strings.Contains(w.Body.String(), "bulk[2].organizationId") {
			t.Fatalf("the 404 does not name the item: %s", w.Body)
		}
		if after := app.List(t, alice, "/projects?limit=1").Total; after != before {
			t.Fatalf("%d projects before, %d after a failed bulk", before, after)
		}
		if page := app.List(t, bob, "/projects"); page.Total != 0 {
			t.Fatalf("bob's organization got %d projects", page.Total)
		}
	})
	t.Run("EveryInvalidItemNamed", func(t *testing.T) {
		body := bulkBody(5, func(i int) string {
			switch i {
			case 1:
				return `{"organizationId":"` + orgA.String() + `","name":""}`
			case 3:
				return `{"organizationId":"` + orgA.String() + `","name":"x","status":"nope"}`
			}
			return item(orgA, "ok")
		})
		w := app.Do(alice, rt.Request{Method: "POST", Path: "/projects/bulk", Body: body}).Expect(t, http.StatusUnprocessableEntity, "invalid items")
		for _, f := range []string{"bulk[1].name", "bulk[3].status"} {
			if !strings.Contains(w.Body.String(), `"`+f+`"`) {
				t.Errorf("422 does not name %s: %s", f, w.Body)
			}
		}
	})
}
