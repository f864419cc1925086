// Package query parses list queries against a per-resource allow-list (Schema), in the two
// dialects APSO's crud package speaks: nestjsx-crud's RequestQueryBuilder (filter, or, s,
// fields, join, sort, limit, page, offset, cache, and our keyset cursor) and PostgREST's
// (select, column=op.value, or, and, order, limit, offset). Both parse into one Query, which
// turns into PostgreSQL: a WHERE fragment, an ORDER BY, the select expression that renders each
// row (with its joined relations) as JSON, the page arithmetic, and the answer in the
// dialect's shape (Respond). ParseRequest is the only way in.
//
// Safety rests on two rules that the fuzz test checks on every input, in both dialects:
// identifiers in the SQL come only from a Schema (validated when the Schema is built), and
// every client value is a bound parameter ($n) with an explicit cast, so the SQL text is a
// function of the query's shape (which fields, which operators, how many conditions) and never
// of its values. The dialects differ in surface syntax only: every condition goes through the
// same validation (parser.condition) and the same SQL (cond.sql).
//
// # Choosing the dialect
//
// As APSO's crud package chooses it: the X-Crud-Dialect header (postgrest or nestjsx, any
// case; another value is a 400) wins. Without it, PostgREST's parameters (select, order, and,
// not.or, not.and, or=(…), and a column=op.value whose column is a field or relation.field of
// the Schema, even one named like a nestjsx parameter such as per_page, and whose op is one of
// PostgREST's) choose PostgREST; anything else nestjsx, the incumbent. limit, offset, page and
// cache belong to both, and other parameters to neither, so that a stray parameter can't flip
// a request. Parameters of both families are a 400 naming them, with the header too (the other
// family's parameters would otherwise be silently ignored). select is the reference's alias of
// fields, but APSO reads it as PostgREST's: it is nestjsx's only under X-Crud-Dialect: nestjsx.
// Every answer carries X-Crud-Dialect, the dialect that ran.
//
// # Semantics (nestjsx)
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
//     reference silently drops the siblings of "$and"; we AND them.
//   - In s, {"field": null}, and any operator whose value is null ({"$eq": null}, {"$ne": null},
//     {"$in": null}, …), means IS NULL, as in the reference (its builderSetWhere turns a null
//     value into $isnull). $isnull and $notnull take no value, so theirs is ignored:
//     {"$notnull": null} is IS NOT NULL (deviation: the reference makes it IS NULL too, against
//     the operator's name). A null inside an array ($in: [null]) is a 400. In filter and or,
//     the value null is the text "null" (the reference JSON-parses it into IS NULL; use $isnull).
//   - Operators: $eq $ne $gt $gte $lt $lte $starts $ends $cont $excl $in $notin $isnull
//     $notnull $between and $eqL $neL $startsL $endsL $contL $exclL $inL $notinL; the
//     reference's deprecated spellings without "$" (eq, ne, ...) are accepted too.
//     $in/$notin/$between take comma-separated values (a JSON array in s); $between takes
//     exactly two and includes both ends; reversed bounds match nothing (SQL BETWEEN, not
//     BETWEEN SYMMETRIC). $isnull/$notnull ignore their value.
//   - Negative operators ($ne, $excl, $notin and their L forms) never match NULL.
//   - Deviation: the L operators lower() both the column and the value (the reference lowers
//     only the column). They, and $starts/$ends/$cont/$excl, apply to text and enum fields only;
//     on other types they are a 400 (the reference answers 500). A json field filters on null
//     only ($isnull, $notnull, a null in s); any other operator on it is a 400.
//   - Deviation: % _ and \ in $starts/$ends/$cont/$excl values are literal characters.
//   - Deviation: the value of filter=a||$eq||b||c is "b||c" (the reference drops "||c").
//   - Values are validated per field type (see Field types): a malformed uuid, number, date,
//     time or boolean, an enum value outside the field's set (for $eq $ne $in $notin and their
//     L forms), and an empty value in filter/or syntax are 400s naming the field. Time values
//     are RFC 3339 (a bare date means midnight UTC).
//   - Every field of the Schema, that is every scalar field a client can read, can be selected,
//     sorted on and filtered on, except that a json field doesn't sort (a 400) and filters on
//     null only. sort=field,ASC|DESC is repeatable (the order is case-insensitive and defaults
//     to ASC). NULLs sort last with ASC and first with DESC; id is always the final tiebreak,
//     in the direction of the last sort term, so that pages are stable and the keyset is
//     unique. Without sort, rows come in id order.
//   - fields=a,b selects fields (id always included; repeatable, alias select under the
//     header); join=relation or join=relation||a,b loads an allow-listed relation, in the same
//     statement, and join=relation.relation its relations (see Joins below).
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
// # Joins
//
// A joined relation's own relations can be joined too, each level named, as in the reference:
// join=project&join=project.organization||id,name loads each task's project and, in it, the
// project's organization (with the fields listed, id always included). The parent of a nested
// join must be joined in the same query (join=project.organization alone is a 400 naming
// join=project: the reference needs it, and fails in SQL without it); unlike the reference, the
// order of the join parameters doesn't matter. Joins nest at most 3 levels deep
// (join=a.b.c; deeper is a 400 naming the parameter), and a query loads at most 100 relations
// in all (in PostgREST's select too, where one value can embed many): each is a correlated
// subquery per row of its parent, a bounded cost (OWASP API4). The schemas' relations may form
// cycles (projects -> tasks -> project): the query, not the schema, bounds the depth.
// Soft-deleted related rows (Relation.DeletedAt) are left out at every level.
//
// # Filters on joined relations
//
// A condition may name a field of a relation the query joins, as relation.field, or
// relation.relation.field for a nested join, in filter, or and s
// (filter=tasks.status||$eq||done&join=tasks; join=organization with
// organization.name||$contL||acme; join=project&join=project.organization with
// project.organization.name||$eq||acme). A relation that is not joined in the same query is a
// 400 naming it (the reference fails in SQL). Sorting on a relation's field is a 400 at any
// depth. The semantics are the reference's, whose LEFT JOINs evaluate the whole WHERE on every
// combination of the row with its joined rows: a condition holds for a row when it holds for
// the row together with one row of each relation it names, and of each relation between (a
// row of its parent's: a task's project, that project's organization), NULLs standing for a
// relation with no live row (and for everything below it); the row is listed when some
// combination passes, and each loaded relation, at every level, holds the related rows of the
// combinations that pass. So:
//
//   - filter=tasks.status||$eq||done keeps the projects with a done task, and their tasks hold
//     only the done ones; two conditions on tasks must hold for the same task;
//   - inside an OR, filter=name||$eq||x&or=tasks.status||$eq||done lists x (with all its
//     tasks, since the OR holds for each of them) and every project with a done task (with its
//     done tasks only); a project x without tasks is listed through its NULL task;
//   - a condition that holds on NULLs reaches the rows without related rows:
//     tasks.id||$isnull lists the projects without (live) tasks, and s={"organization.name":
//     null} the tasks whose organization is gone; negative operators never match NULL, so
//     tasks.title||$ne||x needs a task;
//   - nested: join=tasks&join=tasks.assignee&filter=tasks.assignee.name||$eq||ann keeps the
//     projects with a task of ann's, and their tasks hold only those (each with its assignee);
//     a condition on tasks.title and one on tasks.assignee.name must hold for the same task.
//
// In SQL, the top-level conjuncts that name only the row's own fields stay in the WHERE (an
// index serves them); the rest goes into EXISTS (SELECT FROM (SELECT) AS one LEFT JOIN
// relation … [LEFT JOIN nested relation …] WHERE condition), the one-row LEFT JOIN keeping the
// NULL combination, and the same condition, over the subqueries' rows, into the correlated
// subquery of each relation it names or passes through, with an EXISTS over the relations it
// names below that one. Values are bound at each place they appear. It is one statement,
// answered on the relations' foreign-key indexes: no N+1. The count counts rows, not
// combinations.
//
// # Text: case folding and order
//
// Text compares by order (sort, $gt/$gte/$lt/$lte/$between, the keyset) and folds case (the L
// operators, PostgREST's ilike) under ICU's root collation, "und-x-icu", named explicitly in the
// SQL, on both sides of every comparison. The project's databases are created with locale C
// (the harness, make run's embedded PostgreSQL) or whatever RDS/Aurora was given, and C's lower()
// folds ASCII only, so ÜBERMENSCH would not be found by $contL übermensch, and C's order puts
// É after z. und-x-icu is present on every PostgreSQL built with ICU (Debian's, RDS and
// Aurora's, Homebrew's) and sorts the same everywhere (base letters, then accents, then case,
// lower first); C.UTF-8 is not available everywhere, and a database's default locale is a
// deployment accident. Equality, $in and the case-sensitive LIKE operators keep the column's
// collation: a deterministic collation compares bytes either way, and a plain index still
// serves them.
//
// The cost: a sort is correct first. id and createdAt ride the (organization_id, created_at,
// id) keyset indexes; every other sort, text under und-x-icu included (a default-collation
// index can't serve it), sorts the rows the tenant scope has already narrowed down to one
// tenant's, in memory: cheap while a tenant's rows are thousands, not millions. A common text
// sort that outgrows that wants an index on (organization_id, name COLLATE "und-x-icu", id),
// and likewise lower(name COLLATE "und-x-icu") for the L operators; none is needed yet, so
// none is migrated.
//
// # Text that isn't text, and limits
//
// Every value a dialect reads must be UTF-8 without a NUL byte (PostgreSQL text can hold
// neither): anything else is a 400 naming the parameter and, where the syntax has one, the
// field, checked before parsing. In s, each JSON string is checked in its raw form, for
// invalid UTF-8, \u0000 and lone surrogate escapes, which encoding/json would otherwise turn
// into U+FFFD and search for text the client never sent.
//
// Limits are checked from the counts, before any value is parsed, so that a hostile query
// costs a count and not a parse: at most 100 conditions (filter and or values together, every
// PostgREST column filter, and within s and or=/and= trees as they are parsed), 100 values of
// any other parameter, 500 values in one $in, nesting 16 deep, and 32 KiB of parameter names
// and values in all (API Gateway refuses longer URLs anyway; a real query is far smaller, and
// 500 UUIDs in one $in are 18.5 KiB).
//
// # The PostgREST dialect
//
// Supported, mapping onto the nestjsx dialect's operators (so that the same query in either
// dialect is the same statement, the same values and, counted, the same cache entry):
//
//   - column=op.value, repeatable and AND-ed, with eq neq gt gte lt lte like ilike in (in.(a,b),
//     double-quoted items holding , ( ) or ", backslash escaping in quotes) is (is.null,
//     is.true, is.false; on a json field is.null only), each negatable with not. (not.eq is
//     $ne, not.gt is $lte: SQL's NOT excludes NULLs as the negative operators do; not.is.true
//     holds for false and NULL, as IS NOT TRUE does). Other PostgREST operators (fts, cs, match, …) are a 400 naming them.
//     The value is everything after op. (dots included); only in or/and trees and in-lists
//     are double quotes special. eq. with nothing after it compares with the empty text.
//   - like and ilike take a pattern with * as the wildcard (PostgREST's alias of %).
//     Deviation: % and _ are literal, as in every other value of the API, so that a client can
//     search for them; a pattern without * is an exact match (ilike: a case-folded one).
//   - or=(…), and=(…), not.or=(…), not.and=(…), with or(…), and(…), not.or(…), not.and(…)
//     nested; negations are pushed down to the conditions (De Morgan), so no NOT reaches the
//     SQL.
//   - select=a,b,* and embedded relations rel(a,b) or rel(*), nested at any level up to the
//     join depth (select=*,project(*,organization(id,name)); see Joins above): the fields named,
//     exactly (id only when named, unlike nestjsx's fields; select=project(organization(name))
//     selects no field of the row or the project), and the relations joined. In JSON the
//     fields come in schema order, not select order (equal selections are one statement).
//     Renaming (alias:field), casts (field::type), JSON paths and spreads are a 400.
//   - Filters on an embedded relation, rel.field=op.value and rel.or=(…), and on a nested one,
//     rel.nested.field=op.value and rel.nested.or=(…): as in PostgREST, they narrow the rows of
//     the relation they name only, and every parent is listed (with [] or null). With
//     rel!inner(…) in select they also keep only the parents with a matching related row, and
//     so on up through !inner embeds; up to the row, that is the nestjsx semantics above
//     (select=*,tasks!inner(*)&tasks.status=eq.done is join=tasks&filter=tasks.status||$eq||done,
//     and select=*,tasks!inner(*,assignee!inner(*))&tasks.assignee.name=eq.ann is its nested
//     spelling). A relation's field in an or=/and= tree needs !inner on each relation between
//     the tree's rows and it: it filters the tree's rows. rel!left(…) is rel(…). Ordering or
//     paging embedded rows (rel.order, rel.limit) is a 400.
//   - order=a.asc,b.desc.nullsfirst: asc (the default) or desc, and nullsfirst or nullslast to
//     override the NULL placement (NULLs last with asc, first with desc, otherwise); ordering
//     by an embedded relation's field is a 400.
//   - limit and offset (and page, as in the nestjsx dialect), with the same default (20) and
//     cap (100); limit=0 answers no rows, PostgREST's way to ask for the count alone. The
//     keyset cursor is nestjsx's only. The Range request header is not read.
//   - Prefer: count=exact (planned and estimated are answered exactly: a tenant's rows are few
//     enough) counts the total; without it no count runs.
//
// The answer, as PostgREST's and as APSO's conformance battery expects it: a bare JSON array of
// the items, with Content-Range: first-last/total (*/total for an empty page; * for the total
// without Prefer: count=exact), and 206 Partial Content when the total is known and the page
// holds fewer items. Past the end it is 200 and [] (PostgREST answers 416). The cached answer
// is the same page for both dialects; Respond shapes it.
//
// # Field types
//
// A field's Type decides what a client's value must be (anything else is a 400 naming the
// field), the cast of its placeholder and the operators that apply:
//
//   - UUID (uuid): any spelling uuid.Parse reads, bound in canonical form.
//   - Text (text) and Enum (text, and one of Field.Values for the exact-match operators):
//     UTF-8 without NUL; the only types of the LIKE and L operators, and compared by order
//     under the collation (see Text below).
//   - Int (bigint, for an integer column of any width, serial keys included): a decimal
//     integer within 64 bits.
//   - Float (float8, a double precision column): a finite number as strconv.ParseFloat reads
//     it (NaN and Infinity are 400s), bound as the shortest text that is exactly that double.
//     Answers and cursors render floats exactly under PostgreSQL's default extra_float_digits
//     (1); a session must not lower it.
//   - Numeric (numeric): a decimal literal, -?digits[.digits] (no exponent, no + or bare .), at
//     most 100 characters, bound as written so that no precision is lost.
//   - Timestamptz (timestamptz): RFC 3339, a date (midnight UTC) or ±infinity, bound in UTC.
//   - Date (date): YYYY-MM-DD or ±infinity.
//   - Bool (boolean): what strconv.ParseBool reads.
//   - JSON (jsonb): selected and joined like any field, but it takes no value: only $isnull and
//     $notnull apply (is.null and not.is.null in PostgREST, null in s), and sorting on it is a
//     400.
//
// The id field is the unique tiebreak of every sort and the last value of every cursor: a
// UUID (NewSchema adds a uuid id when the fields declare none) or, for a serial key, an Int.
// Field and relation names are a letter, then letters, digits and underscores (createdAt,
// cognito_id). Sort key values that a column holds but no condition accepts (a float's or a
// numeric's NaN and ±Infinity) page all the same: PostgreSQL orders NaN above every number.
//
// # Rendering
//
// Item renders a row as a JSON object in PostgreSQL: selected fields under their API names
// (uuid and text as strings; integers, floats and numerics as numbers, in PostgreSQL's text of
// the value, so every digit of a numeric, and NaN and ±Infinity as strings; json as itself;
// dates as YYYY-MM-DD, timestamptz as RFC 3339 in UTC with the fraction trimmed, exactly like
// Go's time.RFC3339Nano of a UTC time; NULL as null), then each joined relation, with its own
// nested joins likewise (each a correlated subquery inside its parent's object). Rendering in
// the database is what makes fields= and join= cheap: a store returns the rows as they come,
// with no per-field Go code.
package query
