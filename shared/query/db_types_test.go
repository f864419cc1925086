package query_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5"

	"scaleapi/shared/devservices/devtest"
	"scaleapi/shared/query"
)

// The types of the schema-driven resources on a table of their own: a serial key above 2^32,
// floats with the values a double precision column can hold (NaN and ±Infinity included),
// numerics with more digits than a float keeps, jsonb with SQL NULL and JSON null, and a
// bigint above 2^53. Filters are checked against Go predicates that follow PostgreSQL's
// semantics (NaN equals itself and is above every number), sorts against hand-written ORDER
// BYs, and cursor walks against offset walks.

var dbMeasures = query.NewSchema("qmeasures",
	query.Field{Name: "id", Column: "id", Type: query.Int},
	query.Field{Name: "label", Column: "label", Type: query.Text},
	query.Field{Name: "weight", Column: "weight", Type: query.Float, Nullable: true},
	query.Field{Name: "unit_price", Column: "unit_price", Type: query.Numeric},
	query.Field{Name: "attrs", Column: "attrs", Type: query.JSON, Nullable: true},
	query.Field{Name: "big", Column: "big", Type: query.Int},
)

const dbMeasuresSchema = `
CREATE TABLE qmeasures (
    id         bigserial PRIMARY KEY,
    tenant     integer NOT NULL,
    label      text NOT NULL,
    weight     double precision,
    unit_price numeric NOT NULL,
    attrs      jsonb,
    big        bigint NOT NULL,
    deleted_at timestamptz
);
ALTER SEQUENCE qmeasures_id_seq RESTART WITH 4294967290;
`

type measure struct {
	ID      int64
	Tenant  int
	Label   string
	Weight  *float64
	Price   string // numeric text, as inserted
	Attrs   *string
	Big     int64
	Deleted bool
}

const (
	near1 = "12345678901234567890.123456789012345678901"
	near2 = "12345678901234567890.123456789012345678902" // the same float as near1
)

func seedMeasures(t *testing.T, ctx context.Context, conn *pgx.Conn) []measure {
	t.Helper()
	if _, err := conn.Exec(ctx, dbMeasuresSchema); err != nil {
		t.Fatalf("create table: %v", err)
	}
	weights := []float64{0.5, -2.25, 0.30000000000000004, 0.3, 1e20, 3, math.Copysign(0, -1), 0, math.NaN(), math.Inf(1), math.Inf(-1), 1e-300}
	prices := []string{"0", "12.50", "12.5", "-3.14159", near1, near2, "1000000", "0.000000000000000000000001", "NaN", "Infinity"}
	attrs := []string{`{}`, `{"a": 1, "b": [true, null]}`, `null`, `[1, 2]`, `"text"`, `{"name": "Ünïcode"}`}
	bigs := []int64{9007199254740993, 9007199254740992, 1 << 62, -(1 << 40), 4294967296, 7}
	r := rand.New(rand.NewPCG(13, 17))
	var ms []measure
	b := &pgx.Batch{}
	for i := range 50 {
		// The value lists' lengths differ, so rows combine them in many ways, with ties.
		m := measure{ID: 4294967290 + int64(i), Tenant: 1, Label: fmt.Sprintf("m-%02d", r.IntN(20)),
			Price: prices[i%len(prices)], Big: bigs[i%len(bigs)]}
		if i%9 == 8 {
			m.Tenant = 2
		}
		m.Deleted = i%13 == 5
		if i%5 != 0 {
			m.Weight = &weights[i%len(weights)]
		}
		if i%4 != 0 {
			m.Attrs = &attrs[i%len(attrs)]
		}
		var deletedAt *string
		if m.Deleted {
			s := "2024-01-01T00:00:00Z"
			deletedAt = &s
		}
		b.Queue("INSERT INTO qmeasures (tenant, label, weight, unit_price, attrs, big, deleted_at) VALUES ($1, $2, $3, $4::numeric, $5::jsonb, $6, $7::timestamptz)",
			m.Tenant, m.Label, m.Weight, m.Price, m.Attrs, m.Big, deletedAt)
		ms = append(ms, m)
	}
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return ms
}

// fcmp and ncmp order floats and numerics as PostgreSQL does: NaN equals itself and is above
// every number, Infinity included.
func fcmp(a, b float64) int {
	switch an, bn := math.IsNaN(a), math.IsNaN(b); {
	case an || bn:
		return compareBool(an, bn)
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func ncmp(a, b string) int {
	rank := func(s string) int { return map[string]int{"NaN": 2, "Infinity": 1}[s] }
	if ra, rb := rank(a), rank(b); ra != 0 || rb != 0 {
		return ra - rb
	}
	ra, _ := new(big.Rat).SetString(a)
	rb, _ := new(big.Rat).SetString(b)
	return ra.Cmp(rb)
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// serialIDs returns the ids of a page's items.
func serialIDs(t *testing.T, p *query.Page) []int64 {
	t.Helper()
	out := make([]int64, 0, len(p.Data))
	for _, raw := range p.Data {
		var v struct{ ID int64 }
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("item %s: %v", raw, err)
		}
		out = append(out, v.ID)
	}
	return out
}

func TestDatabaseTypes(t *testing.T) {
	d := devtest.NewDatabase(t)
	ctx := context.Background()
	cs := conns(t, ctx, d)
	ms := seedMeasures(t, ctx, cs["PrimaryExec"])
	visible := func(pred func(measure) bool) []int64 {
		var out []int64
		for _, m := range ms {
			if m.Tenant == 1 && !m.Deleted && (pred == nil || pred(m)) {
				out = append(out, m.ID)
			}
		}
		return out
	}
	weight := func(ok func(float64) bool) func(measure) bool {
		return func(m measure) bool { return m.Weight != nil && ok(*m.Weight) }
	}
	price := func(ok func(string) bool) func(measure) bool {
		return func(m measure) bool { return ok(m.Price) }
	}
	var kinds []string
	for _, m := range ms {
		if m.Tenant == 1 && !m.Deleted {
			kinds = append(kinds, m.Price)
			if m.Weight != nil {
				kinds = append(kinds, strconv.FormatFloat(*m.Weight, 'g', -1, 64))
			}
		}
	}
	for _, k := range []string{"NaN", "+Inf", "-Inf", "0.30000000000000004", "0.3", "Infinity", near1, near2} {
		if !slices.Contains(kinds, k) {
			t.Fatalf("no visible row has a weight or price of %s: the test would prove little", k)
		}
	}
	third := visible(nil)[len(visible(nil))/3]
	last := visible(nil)[len(visible(nil))-1]

	filters := []struct {
		params []string
		want   func(measure) bool
	}{
		{[]string{"filter", "weight||$gt||0.3"}, weight(func(w float64) bool { return fcmp(w, 0.3) > 0 })},
		{[]string{"filter", "weight||$eq||0.30000000000000004"}, weight(func(w float64) bool { return w == 0.30000000000000004 })},
		{[]string{"filter", "weight||$eq||0.3"}, weight(func(w float64) bool { return w == 0.3 })},
		{[]string{"filter", "weight||$ne||0"}, weight(func(w float64) bool { return fcmp(w, 0) != 0 })},
		{[]string{"filter", "weight||$lte||-0"}, weight(func(w float64) bool { return fcmp(w, 0) <= 0 })},
		{[]string{"filter", "weight||$between||-3,1"}, weight(func(w float64) bool { return fcmp(w, -3) >= 0 && fcmp(w, 1) <= 0 })},
		{[]string{"filter", "weight||$in||3,0.5,1e20"}, weight(func(w float64) bool { return w == 3 || w == 0.5 || w == 1e20 })},
		{[]string{"filter", "weight||$notin||3,0"}, weight(func(w float64) bool { return fcmp(w, 3) != 0 && fcmp(w, 0) != 0 })},
		{[]string{"filter", "weight||$lt||-1.7976931348623157e308"}, weight(func(w float64) bool { return math.IsInf(w, -1) })},
		{[]string{"filter", "weight||$isnull"}, func(m measure) bool { return m.Weight == nil }},
		{[]string{"filter", "unit_price||$eq||12.5"}, price(func(p string) bool { return ncmp(p, "12.5") == 0 })},
		{[]string{"filter", "unit_price||$eq||" + near1}, price(func(p string) bool { return p == near1 })},
		{[]string{"filter", "unit_price||$gt||" + near1}, price(func(p string) bool { return ncmp(p, near1) > 0 })},
		{[]string{"filter", "unit_price||$in||0,1000000.00"}, price(func(p string) bool { return p == "0" || p == "1000000" })},
		{[]string{"filter", "unit_price||$between||-4,12.50"}, price(func(p string) bool { return ncmp(p, "-4") >= 0 && ncmp(p, "12.5") <= 0 })},
		{[]string{"filter", "unit_price||$lt||0.000000000000000000000001"}, price(func(p string) bool { return ncmp(p, "0.000000000000000000000001") < 0 })},
		{[]string{"filter", "attrs||$isnull"}, func(m measure) bool { return m.Attrs == nil }},
		{[]string{"filter", "attrs||$notnull"}, func(m measure) bool { return m.Attrs != nil }}, // JSON null included
		{[]string{"s", `{"attrs":null,"weight":{"$gte":0}}`}, func(m measure) bool { return m.Attrs == nil && m.Weight != nil && fcmp(*m.Weight, 0) >= 0 }},
		{[]string{"filter", "big||$eq||9007199254740993"}, func(m measure) bool { return m.Big == 9007199254740993 }},
		{[]string{"filter", "big||$gt||4294967296"}, func(m measure) bool { return m.Big > 4294967296 }},
		{[]string{"filter", "id||$in||" + strconv.FormatInt(third, 10) + "," + strconv.FormatInt(last, 10)}, func(m measure) bool { return m.ID == third || m.ID == last }},
		{[]string{"filter", "id||$gt||" + strconv.FormatInt(third, 10)}, func(m measure) bool { return m.ID > third }},
		// PostgREST.
		{[]string{"weight", "gt.0.3"}, weight(func(w float64) bool { return fcmp(w, 0.3) > 0 })},
		{[]string{"unit_price", "not.gt.12.50"}, price(func(p string) bool { return ncmp(p, "12.5") <= 0 })},
		{[]string{"attrs", "not.is.null", "id", "in.(" + strconv.FormatInt(last, 10) + ")"}, func(m measure) bool { return m.Attrs != nil && m.ID == last }},
		{[]string{"or", "(weight.is.null,unit_price.lt.0)"}, func(m measure) bool { return m.Weight == nil || ncmp(m.Price, "0") < 0 }},
	}
	sorts := []struct {
		params  []string
		orderBy string
	}{
		{nil, "id"},
		{[]string{"sort", "weight,ASC"}, "weight ASC NULLS LAST, id ASC"},
		{[]string{"sort", "weight,DESC"}, "weight DESC NULLS FIRST, id DESC"},
		{[]string{"sort", "unit_price,ASC"}, "unit_price ASC, id ASC"},
		{[]string{"sort", "unit_price,DESC", "sort", "weight,ASC"}, "unit_price DESC, weight ASC NULLS LAST, id ASC"},
		{[]string{"sort", "big,DESC", "sort", "label,ASC"}, `big DESC, label COLLATE "und-x-icu" ASC, id ASC`},
		{[]string{"order", "weight.asc.nullsfirst,unit_price.desc"}, "weight ASC NULLS FIRST, unit_price DESC, id DESC"},
		{[]string{"sort", "id,DESC"}, "id DESC"},
	}
	oracle := func(t *testing.T, conn *pgx.Conn, orderBy string) []int64 {
		rows, err := conn.Query(ctx, "SELECT id FROM qmeasures WHERE tenant = 1 AND deleted_at IS NULL ORDER BY "+orderBy)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	for name, conn := range cs {
		t.Run(name, func(t *testing.T) {
			for _, c := range filters {
				got := serialIDs(t, list(t, ctx, conn, parseIn(t, dbMeasures, qs(append(c.params, "limit", "100")...))))
				want := visible(c.want)
				if !slices.Equal(got, want) {
					t.Errorf("%v: got %v, want %v", c.params, got, want)
				}
				if len(want) == 0 {
					t.Errorf("%v: the oracle matches nothing; the case proves little", c.params)
				}
			}
			for _, c := range sorts {
				want := oracle(t, conn, c.orderBy)
				if got := serialIDs(t, list(t, ctx, conn, parseIn(t, dbMeasures, qs(append(c.params, "limit", "100")...)))); !slices.Equal(got, want) {
					t.Errorf("%v: order differs from ORDER BY %s\n got %v\nwant %v", c.params, c.orderBy, got, want)
				}
				if c.params != nil && c.params[0] == "order" {
					continue // the keyset cursor is nestjsx's
				}
				// Keyset pages neither skip nor repeat a row, through the ties, the NULLs, NaN
				// and ±Infinity, and floats that differ in their last digit.
				for _, limit := range []string{"2", "7"} {
					var walked []int64
					cursor := ""
					for range len(want) + 1 {
						p := list(t, ctx, conn, parseIn(t, dbMeasures, qs(append(c.params, "limit", limit, "cursor", cursor)...)))
						walked = append(walked, serialIDs(t, p)...)
						if cursor = p.NextCursor; cursor == "" {
							break
						}
					}
					if !slices.Equal(walked, want) {
						t.Errorf("%v limit %s: the cursor walk differs from ORDER BY %s\n got %v\nwant %v", c.params, limit, c.orderBy, walked, want)
					}
				}
			}
		})
	}

	t.Run("Rendering", func(t *testing.T) {
		byID := map[int64]measure{}
		for _, m := range ms {
			byID[m.ID] = m
		}
		p := list(t, ctx, cs["PoolerExec"], parseIn(t, dbMeasures, qs("limit", "100")))
		if len(p.Data) != len(visible(nil)) {
			t.Fatalf("%d items rendered, want %d", len(p.Data), len(visible(nil)))
		}
		decode := func(s string) any {
			var v any
			dec := json.NewDecoder(bytes.NewReader([]byte(s)))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			return v
		}
		for _, raw := range p.Data {
			got := decode(string(raw)).(map[string]any)
			id, _ := got["id"].(json.Number).Int64()
			m := byID[id]
			want := map[string]any{"id": json.Number(strconv.FormatInt(m.ID, 10)), "label": m.Label, "weight": nil,
				"unit_price": json.Number(m.Price), "attrs": nil, "big": json.Number(strconv.FormatInt(m.Big, 10))}
			// A float renders in PostgreSQL's shortest exact text, which switches to an exponent
			// later than Go's: compare the number. NaN and ±Infinity are no JSON numbers.
			if n, ok := got["weight"].(json.Number); ok {
				got["weight"], _ = n.Float64()
			}
			switch w := m.Weight; {
			case w == nil:
			case math.IsNaN(*w):
				want["weight"] = "NaN"
			case math.IsInf(*w, 0):
				want["weight"] = map[bool]string{true: "Infinity", false: "-Infinity"}[*w > 0]
			default:
				want["weight"] = *w
			}
			if m.Price == "NaN" || m.Price == "Infinity" {
				want["unit_price"] = m.Price
			}
			if m.Attrs != nil {
				want["attrs"] = decode(*m.Attrs)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("item renders as\n%s\nwant %v", raw, want)
			}
		}
	})
}
