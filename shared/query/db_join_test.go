package query_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/fault"
	"scaleapi/shared/query"
)

// The database tests of nested joins, on the fixture's items -> children -> parts -> maker
// (an owner) and the cycle items -> children -> item -> children: rendering at depth 2 and 3
// with soft-deleted rows left out at every level, filters two and three levels down in both
// dialects against an oracle that writes the reference's semantics out, the depth limit, and
// one statement per page.

// liveParts returns the live parts of c, in id order; liveMaker p's live maker or nil.
func (fx *fixture) liveParts(c child) []part {
	var out []part
	for _, p := range fx.parts {
		if p.ChildID == c.ID && !p.Deleted {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b part) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}

func (fx *fixture) liveMaker(p part) *owner {
	for _, o := range fx.owners {
		if p.Maker != nil && o.ID == *p.Maker && !o.Deleted {
			return &o
		}
	}
	return nil
}

// nestView is how a test reads an item with its children, their parts and the parts' makers;
// shape writes what it holds as child[part(maker),…],… in the order the JSON has it.
type nestView struct {
	ID       uuid.UUID
	Children []struct {
		ID    uuid.UUID
		Parts []struct {
			ID    uuid.UUID
			Maker *struct{ ID uuid.UUID }
		}
	}
}

func (v nestView) shape() string {
	var b strings.Builder
	for _, c := range v.Children {
		b.WriteString(c.ID.String() + "[")
		for _, p := range c.Parts {
			b.WriteString(p.ID.String() + "(")
			if p.Maker != nil {
				b.WriteString(p.Maker.ID.String())
			}
			b.WriteString("),")
		}
		b.WriteString("],")
	}
	return b.String()
}

// shapeOf writes, as nestView.shape does, children with the parts that parts picks for each
// (nil: the child is left out) and makers, which maker picks (nil: null).
func shapeOf(children []child, parts func(child) []part, maker func(part) *owner) string {
	var b strings.Builder
	for _, c := range children {
		ps := parts(c)
		if ps == nil {
			continue
		}
		b.WriteString(c.ID.String() + "[")
		for _, p := range ps {
			b.WriteString(p.ID.String() + "(")
			if o := maker(p); o != nil {
				b.WriteString(o.ID.String())
			}
			b.WriteString("),")
		}
		b.WriteString("],")
	}
	return b.String()
}

// nestWant is what a list answers for one visible row: whether it is listed, and its shape.
type nestWant func(it item) (keep bool, shape string)

// nestedPerRow is the reference's semantics of a condition on the fields of nested joins,
// written out: it is evaluated on every combination of the row with one live child, one live
// part of that child and that part's live maker (nil for none, as the reference's LEFT JOINs
// give NULLs, and below a NULL); the row is listed when one combination passes, and holds the
// children, parts and makers of the combinations that pass.
func nestedPerRow(fx *fixture, pred func(it item, c *child, p *part, o *owner) bool) nestWant {
	return func(it item) (bool, string) {
		keep := false
		shown := map[uuid.UUID][]part{}
		children := fx.liveChildren(it)
		try := func(c *child, p *part) {
			var o *owner
			if p != nil {
				o = fx.liveMaker(*p)
			}
			if !pred(it, c, p, o) {
				return
			}
			keep = true
			if c != nil && shown[c.ID] == nil {
				shown[c.ID] = []part{}
			}
			if p != nil {
				shown[c.ID] = append(shown[c.ID], *p)
			}
		}
		if len(children) == 0 {
			try(nil, nil)
		}
		for i := range children {
			parts := fx.liveParts(children[i])
			if len(parts) == 0 {
				try(&children[i], nil)
			}
			for j := range parts {
				try(&children[i], &parts[j])
			}
		}
		return keep, shapeOf(children, func(c child) []part { return shown[c.ID] }, fx.liveMaker)
	}
}

// embedded is PostgREST's semantics of embedded filters two and three levels down: every row
// is listed with its live children (with inner, only those with a part partOK picks), their
// live parts that partOK picks, and their live makers that makerOK picks.
func embedded(fx *fixture, partOK func(part, *owner) bool, makerOK func(owner) bool, inner bool) nestWant {
	return func(it item) (bool, string) {
		parts := func(c child) []part {
			ps := slices.DeleteFunc(fx.liveParts(c), func(p part) bool { return !partOK(p, fx.liveMaker(p)) })
			switch {
			case len(ps) > 0:
				return ps
			case inner:
				return nil
			}
			return []part{}
		}
		maker := func(p part) *owner {
			if o := fx.liveMaker(p); o != nil && makerOK(*o) {
				return o
			}
			return nil
		}
		return true, shapeOf(fx.liveChildren(it), parts, maker)
	}
}

func testNestedJoins(t *testing.T, ctx context.Context, conn *pgx.Conn, fx *fixture) {
	t.Run("Rendering", func(t *testing.T) { testNestedRendering(t, ctx, conn, fx) })

	const all = "join=children&join=children.parts&join=children.parts.maker"
	label := func(l string) func(*part) bool { return func(p *part) bool { return p != nil && p.Label == l } }
	named := func(o *owner, name string) bool { return o != nil && o.Name == name }
	red := func(p part, _ *owner) bool { return p.Label == "red" }
	anyPart := func(part, *owner) bool { return true }
	anyMaker := func(owner) bool { return true }
	cases := []struct {
		name, query string
		want        nestWant
	}{
		{"Depth2", all + "&filter=children.parts.label||$eq||red",
			nestedPerRow(fx, func(_ item, _ *child, p *part, _ *owner) bool { return label("red")(p) })},
		{"Depth3", all + "&filter=children.parts.maker.name||$eq||owner-1",
			nestedPerRow(fx, func(_ item, _ *child, _ *part, o *owner) bool { return named(o, "owner-1") })},
		// NULL at depth 3: a part without a (live) maker, a child without parts, an item
		// without children.
		{"Depth3NullIsNone", all + `&s={"children.parts.maker.name":null}`,
			nestedPerRow(fx, func(_ item, _ *child, _ *part, o *owner) bool { return o == nil })},
		{"Depth2IsNullIsNoPart", all + "&filter=children.parts.id||$isnull",
			nestedPerRow(fx, func(_ item, _ *child, p *part, _ *owner) bool { return p == nil })},
		// Conditions at two levels must hold for a child and one of its parts.
		{"TwoLevelsTogether", all + "&filter=children.title||$ends||-1&filter=children.parts.label||$ne||green",
			nestedPerRow(fx, func(_ item, c *child, p *part, _ *owner) bool {
				return c != nil && strings.HasSuffix(c.Title, "-1") && p != nil && p.Label != "green"
			})},
		// A condition on the first level only: the children it passes hold all their parts.
		{"FirstLevelOnly", all + "&filter=children.title||$ends||-0",
			nestedPerRow(fx, func(_ item, c *child, _ *part, _ *owner) bool { return c != nil && strings.HasSuffix(c.Title, "-0") })},
		{"OrWithOwn", all + "&or=name||$eq||Zeta&or=children.parts.maker.name||$eq||owner-0",
			nestedPerRow(fx, func(it item, _ *child, _ *part, o *owner) bool { return it.Name == "Zeta" || named(o, "owner-0") })},
		{"SearchOrAcrossLevels", all + `&s={"$or":[{"children.parts.label":"blue"},{"children.title":{"$ends":"-2"}}]}`,
			nestedPerRow(fx, func(_ item, c *child, p *part, _ *owner) bool {
				return label("blue")(p) || c != nil && strings.HasSuffix(c.Title, "-2")
			})},

		// PostgREST: an embedded filter narrows the rows it names; !inner also their parents'.
		{"EmbedDepth2", "select=id,children(id,parts(id,maker(id)))&children.parts.label=eq.red",
			embedded(fx, red, anyMaker, false)},
		{"EmbedDepth2InnerNarrowsChildren", "select=id,children(id,parts!inner(id,maker(id)))&children.parts.label=eq.red",
			embedded(fx, red, anyMaker, true)},
		{"EmbedDepth3", "select=id,children(id,parts(id,maker(id)))&children.parts.maker.name=eq.owner-1",
			embedded(fx, anyPart, func(o owner) bool { return o.Name == "owner-1" }, false)},
		{"EmbedDepth3InnerNarrowsParts", "select=id,children(id,parts(id,maker!inner(id)))&children.parts.maker.name=eq.owner-1",
			embedded(fx, func(_ part, o *owner) bool { return named(o, "owner-1") }, anyMaker, false)},
		{"EmbedInnerChain", "select=id,children!inner(id,parts!inner(id,maker(id)))&children.parts.label=eq.red",
			nestedPerRow(fx, func(_ item, _ *child, p *part, _ *owner) bool { return label("red")(p) })},
		{"EmbedInnerChainTree", "select=id,name,children!inner(id,parts!inner(id,maker!inner(id)))&or=(children.parts.maker.name.eq.owner-0,name.eq.Zeta)",
			nestedPerRow(fx, func(it item, _ *child, _ *part, o *owner) bool { return it.Name == "Zeta" || named(o, "owner-0") })},
	}
	byID := map[uuid.UUID]item{}
	for _, it := range fx.items {
		byID[it.ID] = it
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			params := queryOf(t, c.query)
			params.Set("limit", "100")
			p := list(t, ctx, conn, parse(t, params))
			var wantIDs []uuid.UUID
			wantShape := map[uuid.UUID]string{}
			for _, id := range fx.visible(nil) {
				if keep, shape := c.want(byID[id]); keep {
					wantIDs = append(wantIDs, id)
					wantShape[id] = shape
				}
			}
			if got := ids(t, p); !slices.Equal(got, wantIDs) {
				t.Fatalf("%s: rows\n got %v\nwant %v", c.query, got, wantIDs)
			}
			if len(wantIDs) == 0 || len(wantIDs) == len(fx.visible(nil)) && !strings.HasPrefix(c.name, "Embed") {
				t.Fatalf("%s: the oracle lists %d rows; the case proves little", c.query, len(wantIDs))
			}
			narrowed := false
			for _, raw := range p.Data {
				var v nestView
				if err := json.Unmarshal(raw, &v); err != nil {
					t.Fatal(err)
				}
				if got, want := v.shape(), wantShape[v.ID]; got != want {
					t.Fatalf("%s: %s holds\n %s\nwant\n %s", c.query, v.ID, got, want)
				}
				_, full := embedded(fx, anyPart, anyMaker, false)(byID[v.ID])
				narrowed = narrowed || wantShape[v.ID] != full
			}
			if !narrowed {
				t.Fatalf("%s: no row's relations are narrowed; the case proves little", c.query)
			}
			// The count statement counts the rows listed, not the combinations.
			params.Set("limit", "2")
			if small := list(t, ctx, conn, parse(t, params, "Prefer", "count=exact")); small.Total() != int64(len(wantIDs)) {
				t.Fatalf("%s: total %d, want %d", c.query, small.Total(), len(wantIDs))
			}
		})
	}

	// The same nested query in both dialects: the same page, under the same cache key.
	for _, c := range []struct{ nestjsx, postgrest string }{
		{"fields=name&join=children||title&join=children.parts||label&join=children.parts.maker&limit=100",
			"select=id,name,children(id,title,parts(id,label,maker(*)))&limit=100"},
		{"join=children.parts.maker&join=children.parts&join=children&filter=children.parts.maker.name||$eq||owner-1&sort=name,DESC&limit=100",
			"select=*,children!inner(*,parts!inner(*,maker!inner(*)))&children.parts.maker.name=eq.owner-1&order=name.desc&limit=100"},
	} {
		nq, pq := parse(t, queryOf(t, c.nestjsx)), parse(t, queryOf(t, c.postgrest), "Prefer", "count=exact")
		nb, _ := json.Marshal(list(t, ctx, conn, nq))
		pb, _ := json.Marshal(list(t, ctx, conn, pq))
		if !bytes.Equal(nb, pb) || len(nb) < 1000 {
			t.Errorf("%s ≢ %s:\nnestjsx   %s\npostgrest %s", c.nestjsx, c.postgrest, nb, pb)
		}
		if nq.Key() != pq.Key() {
			t.Errorf("%s and %s answer the same page under different cache keys", c.nestjsx, c.postgrest)
		}
	}

	// Past the depth limit, a 400 naming the parameter; at it, the cycle renders.
	for _, raw := range []string{
		"join=children&join=children.item&join=children.item.children&join=children.item.children.parts",
		"select=id,children(item(children(parts(*))))",
	} {
		_, err := query.ParseRequest(httptest.NewRequest("GET", "/?"+queryOf(t, raw).Encode(), nil), dbItems)
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Code != fault.BadRequest || !strings.Contains(fe.Message, "4 levels deep, more than 3") {
			t.Errorf("%s: %v, want the depth 400", raw, err)
		}
	}
}

// testNestedRendering checks three levels of rendering: every field selected, to-many levels
// [] when empty and in id order, to-one levels null when there is nothing (live) to point to,
// and soft-deleted rows left out at each level; and the cycle items -> children -> item ->
// children.
func testNestedRendering(t *testing.T, ctx context.Context, conn *pgx.Conn, fx *fixture) {
	p := list(t, ctx, conn, parse(t, queryOf(t, "limit=100&fields=name&join=children||title&join=children.parts||label&join=children.parts.maker")))
	if len(p.Data) != len(fx.visible(nil)) {
		t.Fatalf("%d rows, want %d", len(p.Data), len(fx.visible(nil)))
	}
	type maker struct{ ID, Name string }
	type partView struct {
		ID, Label string
		Maker     *maker
	}
	type childView struct {
		ID, Title string
		Parts     []partView
	}
	sawDeletedPart, sawNullMaker, sawNoParts, sawMaker := false, false, false, false
	for _, raw := range p.Data {
		var got struct {
			ID       uuid.UUID
			Name     string
			Children []childView
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		var it item
		for _, x := range fx.items {
			if x.ID == got.ID {
				it = x
			}
		}
		want := []childView{}
		for _, c := range fx.liveChildren(it) {
			cv := childView{ID: c.ID.String(), Title: c.Title, Parts: []partView{}}
			for _, pt := range fx.liveParts(c) {
				pv := partView{ID: pt.ID.String(), Label: pt.Label}
				if o := fx.liveMaker(pt); o != nil {
					pv.Maker = &maker{o.ID.String(), o.Name}
					sawMaker = true
				}
				sawNullMaker = sawNullMaker || pt.Maker != nil && pv.Maker == nil
				cv.Parts = append(cv.Parts, pv)
			}
			for _, pt := range fx.parts {
				sawDeletedPart = sawDeletedPart || pt.ChildID == c.ID && pt.Deleted
			}
			sawNoParts = sawNoParts || len(cv.Parts) == 0
			want = append(want, cv)
		}
		if got.Name != it.Name || !reflect.DeepEqual(got.Children, want) {
			t.Fatalf("%s renders as\n%s\nwant %+v", it.ID, raw, want)
		}
	}
	if !sawDeletedPart || !sawNullMaker || !sawNoParts || !sawMaker {
		t.Fatalf("the fixture lacks a deleted part (%v), a part with a deleted maker (%v), a child without parts (%v) or a maker (%v)",
			sawDeletedPart, sawNullMaker, sawNoParts, sawMaker)
	}

	// The cycle, three levels: each child's item is the row itself, holding the same children.
	p = list(t, ctx, conn, parse(t, queryOf(t, "limit=100&fields=name&join=children||title&join=children.item||name&join=children.item.children||title")))
	sawChild := false
	for _, raw := range p.Data {
		var got struct {
			ID       uuid.UUID
			Name     string
			Children []struct {
				ID    uuid.UUID
				Title string
				Item  struct {
					ID       uuid.UUID
					Name     string
					Children []struct {
						ID    uuid.UUID
						Title string
					}
				}
			}
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		for _, c := range got.Children {
			if c.Item.ID != got.ID || c.Item.Name != got.Name || len(c.Item.Children) != len(got.Children) {
				t.Fatalf("the item of child %s of %s is %+v", c.ID, got.ID, c.Item)
			}
			for i, cc := range c.Item.Children {
				if cc.ID != got.Children[i].ID || cc.Title != got.Children[i].Title {
					t.Fatalf("the cycle renders %s's children differently: %s", got.ID, raw)
				}
			}
			sawChild = true
		}
	}
	if !sawChild {
		t.Fatal("no child rendered")
	}
}

// statementCounter is a pgx tracer that counts the statements a connection sends.
type statementCounter struct{ n int }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n++
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// testNestedOneStatement checks that a page three joins deep, filtered at the deepest level,
// is one statement: no query per row or per level.
func testNestedOneStatement(t *testing.T, ctx context.Context, d devtest.Database) {
	cfg, err := pgx.ParseConfig(d.PoolerURL)
	if err != nil {
		t.Fatal(err)
	}
	counter := &statementCounter{}
	cfg.Tracer = counter
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, raw := range []string{
		"limit=100&join=children&join=children.parts&join=children.parts.maker&or=children.parts.maker.name||$eq||owner-0&or=score||$gt||0",
		"limit=100&select=*,children(*,parts!inner(*,maker(*)))&children.parts.label=eq.blue",
	} {
		q := parse(t, queryOf(t, raw))
		counter.n = 0
		p := list(t, ctx, conn, q)
		if counter.n != 1 {
			t.Errorf("%s: %d statements, want 1", raw, counter.n)
		}
		if page, _ := json.Marshal(p); !bytes.Contains(page, []byte(`"maker":{"id"`)) {
			t.Errorf("%s: no maker rendered three levels down: the check proves little", raw)
		}
	}
}

// queryOf parses a raw query string.
func queryOf(t *testing.T, raw string) url.Values {
	t.Helper()
	v, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
