// Package query parses the APSO / nestjsx-crud list query syntax (filter, or, s, fields, join,
// sort, limit, page, offset, cache, and our keyset cursor) against a per-resource allow-list
// (Schema) and turns it into PostgreSQL: a WHERE fragment, an ORDER BY, the select expression
// that renders each row (with its joined relations) as JSON, and the page arithmetic.
//
// Safety rests on two rules that the fuzz test checks on every input: identifiers in the SQL
// come only from a Schema (validated when the Schema is built), and every client value is a
// bound parameter ($n) with an explicit cast, so the SQL text is a function of the query's
// shape (which fields, which operators, how many conditions) and never of its values.
//
// # Semantics
//
// The reference implementation is nestjsx/crud on TypeORM; clients rely on its behaviour, so
// we follow it, except where it is buggy (each deviation is marked "deviation").
//
//   - filter=field||$op||value is repeatable and AND-ed; or=... likewise. Both present: (all
//     filters AND-ed) OR (all ors AND-ed). Only or present: the ors are OR-ed with each other
//     (the reference does this; "AND of no filters" would otherwise match every row).
//   - s={...} (JSON) replaces filter and or. An object is the AND of its entries; "$and":[...]
//     and "$or":[...] nest; {"field": value} means $eq; {"field": {"$gt": 1, "$lt": 5}} ANDs the
//     operators; {"field": {"$or": {"$eq": 1, "$isnull": true}}} ORs them. Deviation: the
//     reference silently drops the siblings of "$and"; we AND them. {"field": null} is a 400
//     (use $isnull): the reference turns it into "= NULL", which matches nothing.
//   - Operators: $eq $ne $gt $gte $lt $lte $starts $ends $cont $excl $in $notin $isnull
//     $notnull $between and $eqL $neL $startsL $endsL $contL $exclL $inL $notinL; the
//     reference's deprecated spellings without "$" (eq, ne, ...) are accepted too.
//     $in/$notin/$between take comma-separated values (a JSON array in s); $between takes
//     exactly two and includes both ends; reversed bounds match nothing (SQL BETWEEN, not
//     BETWEEN SYMMETRIC). $isnull/$notnull ignore their value.
//   - Negative operators ($ne, $excl, $notin and their L forms) never match NULL.
//   - Deviation: the L operators lower() both the column and the value (the reference lowers
//     only the column). They, and $starts/$ends/$cont/$excl, apply to text and enum fields only;
//     on other types they are a 400 (the reference answers 500).
//   - Deviation: % _ and \ in $starts/$ends/$cont/$excl values are literal characters.
//   - Deviation: the value of filter=a||$eq||b||c is "b||c" (the reference drops "||c").
//   - Values are validated per field type: a malformed uuid, number, date, time or boolean, an
//     enum value outside the field's set (for $eq $ne $in $notin and their L forms), text that is
//     not UTF-8 or holds a NUL byte, and an empty value in filter/or syntax are 400s naming the
//     field. Time values are RFC 3339 (a bare date means midnight UTC).
//   - sort=field,ASC|DESC is repeatable (the order is case-insensitive and defaults to ASC).
//     NULLs sort last with ASC and first with DESC; id is always the final tiebreak, in the
//     direction of the last sort term, so that pages are stable and the keyset is unique.
//     Without sort, rows come in id order.
//   - fields=a,b selects fields (id always included; repeatable, alias select); join=relation
//     or join=relation||a,b loads an allow-listed relation, in the same statement.
//   - limit (alias per_page): default 20, 0 means the default, above 100 is capped to 100.
//     page wins over offset; page 0 means "not given". The reported page is
//     floor(offset/limit)+1 and pageCount is ceil(total/limit), at least 1 (as the reference).
//     A negative or non-integer limit, page or offset is a 400.
//   - cursor (ours): present, even empty, selects keyset pagination and the {data, count,
//     nextCursor} shape; an empty value asks for the first page. A cursor remembers the sort it
//     was made for; using it with another sort, or together with page/offset, is a 400.
//   - cache=0 asks the caller to bypass its cache for this read (NoCache).
//   - Parameter names may carry the brackets a query-string library adds (filter[]=...,
//     filter[0]=...). Empty values (fields=, filter=, limit=, ...) are ignored, as the reference
//     ignores them; an empty s is a 400 (not JSON) and an empty cursor asks for the first
//     keyset page. Unknown parameters are ignored; an unknown field, operator or relation is a
//     400 naming it.
//
// # Rendering
//
// Item renders a row as a JSON object in PostgreSQL: selected fields under their API names
// (uuid and text as strings, integers as numbers, dates as YYYY-MM-DD, timestamptz as RFC 3339
// in UTC with the fraction trimmed, exactly like Go's time.RFC3339Nano of a UTC time, NULL as
// null), then each joined relation. Rendering in the database is what makes fields= and join=
// cheap: a store returns the rows as they come, with no per-field Go code.
package query
