package query

// arity says how many values an operator takes.
type arity uint8

const (
	arityNone arity = iota // $isnull, $notnull: the value is ignored
	arityOne               // a single value
	arityList              // one or more, comma-separated
	arityPair              // exactly two, comma-separated
)

// likeKind says where an operator's value sits in its LIKE pattern.
type likeKind uint8

const (
	likeNone likeKind = iota
	likeStarts
	likeEnds
	likeCont
	likeStar // PostgREST's like/ilike: the value is the pattern, with * as the wildcard
)

// operator is one comparison operator of the internal query: every dialect's operators map to
// these, so that validation and SQL are written once.
type operator struct {
	name  string   // canonical name, "$eq", for messages
	arity arity    //
	cmp   string   // SQL comparison for arityOne: "=", "<>", ">", ...
	like  likeKind // set for the LIKE family
	not   bool     // NOT LIKE, <> ALL, IS NOT NULL
	lower bool     // the L forms: lower() on both sides
	enum  bool     // an exact-match operator: an Enum value must be in the field's set
}

// textOnly reports whether the operator only applies to Text and Enum fields.
func (o *operator) textOnly() bool { return o.lower || o.like != likeNone }

// ordered reports whether the operator compares by order (<, >, BETWEEN), which for text
// depends on a collation.
func (o *operator) ordered() bool {
	return o.arity == arityPair || o.arity == arityOne && o.like == likeNone && o.cmp != "=" && o.cmp != "<>"
}

// The PostgREST dialect's like and ilike, which nestjsx has no spelling for.
var (
	opLike     = &operator{name: "like", arity: arityOne, like: likeStar}
	opNotLike  = &operator{name: "not.like", arity: arityOne, like: likeStar, not: true}
	opILike    = &operator{name: "ilike", arity: arityOne, like: likeStar, lower: true}
	opNotILike = &operator{name: "not.ilike", arity: arityOne, like: likeStar, not: true, lower: true}
)

// operators are the nestjsx dialect's operators by the names a client writes.
var operators = func() map[string]*operator {
	list := []operator{
		{name: "$eq", arity: arityOne, cmp: "=", enum: true},
		{name: "$ne", arity: arityOne, cmp: "<>", enum: true},
		{name: "$gt", arity: arityOne, cmp: ">"},
		{name: "$gte", arity: arityOne, cmp: ">="},
		{name: "$lt", arity: arityOne, cmp: "<"},
		{name: "$lte", arity: arityOne, cmp: "<="},
		{name: "$starts", arity: arityOne, like: likeStarts},
		{name: "$ends", arity: arityOne, like: likeEnds},
		{name: "$cont", arity: arityOne, like: likeCont},
		{name: "$excl", arity: arityOne, like: likeCont, not: true},
		{name: "$in", arity: arityList, enum: true},
		{name: "$notin", arity: arityList, not: true, enum: true},
		{name: "$isnull", arity: arityNone},
		{name: "$notnull", arity: arityNone, not: true},
		{name: "$between", arity: arityPair},
		{name: "$eqL", arity: arityOne, cmp: "=", lower: true, enum: true},
		{name: "$neL", arity: arityOne, cmp: "<>", lower: true, enum: true},
		{name: "$startsL", arity: arityOne, like: likeStarts, lower: true},
		{name: "$endsL", arity: arityOne, like: likeEnds, lower: true},
		{name: "$contL", arity: arityOne, like: likeCont, lower: true},
		{name: "$exclL", arity: arityOne, like: likeCont, not: true, lower: true},
		{name: "$inL", arity: arityList, lower: true, enum: true},
		{name: "$notinL", arity: arityList, not: true, lower: true, enum: true},
	}
	m := make(map[string]*operator, 2*len(list))
	for i := range list {
		op := &list[i]
		m[op.name] = op
	}
	// The reference still accepts its first, "$"-less spellings; APSO clients generated
	// against old versions send them.
	for _, n := range []string{"eq", "ne", "gt", "lt", "gte", "lte", "starts", "ends", "cont",
		"excl", "in", "notin", "isnull", "notnull", "between"} {
		m[n] = m["$"+n]
	}
	return m
}()

// opIsNull is what any operator whose value is null means in s (see searchOperators).
var opIsNull = operators["$isnull"]
