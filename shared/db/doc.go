// Package db opens the project's PostgreSQL pools and holds what every store needs around them:
// a small DBTX interface that pools and transactions both satisfy, a transaction helper that
// retries serialization failures and deadlocks, translation of driver errors into *fault.Error,
// per-pool query timing, and IAM authentication for RDS Proxy.
//
// # Pool size
//
// A Lambda execution environment serves one request at a time, so its pool is tiny (MaxConns 2:
// one for the request, one spare so that a query made while a transaction holds a connection
// doesn't deadlock the pool) and starts empty (MinConns 0: no connection is opened during a cold
// start that a request may never need). The transaction-mode pooler in front of the database
// (RDS Proxy in AWS, PgBouncer locally) multiplexes thousands of such environments onto a few
// server connections; a container-sized pool of 20 per instance would only pin pooler slots.
//
// # Query exec mode: QueryExecModeExec
//
// A transaction-mode pooler hands each transaction (and each statement outside one) to whichever
// server connection is free, so nothing may rely on server-side state surviving from one round
// trip to the next. What pgx v5 (conn.go, extended_query_builder.go) does in each mode:
//
//   - QueryExecModeCacheStatement (pgx's default): Parse into a named statement "stmtcache_<hash>"
//     once per connection, then Bind/Execute it by name. Behind the pooler the next execution can
//     land on a server that never saw the Parse ("prepared statement ... does not exist", 26000)
//     or a second client can Parse the same name on a server that has it ("already exists",
//     42P05). PgBouncer 1.18 does not track protocol-level prepared statements (1.21 added
//     max_prepared_statements). Broken here; TestDefaultModeBreaksBehindPooler shows it.
//   - QueryExecModeDescribeExec: Parse the unnamed statement and Describe it, Sync, then Bind and
//     Execute it in a second round trip. The pooler may switch servers at the Sync in between,
//     so the second round trip can bind a statement that isn't there; and it costs two round
//     trips on every query.
//   - QueryExecModeCacheDescribe: Parse+Describe the unnamed statement once per connection per SQL
//     text and cache the parameter and result types; later executions send Parse+Bind+Execute of
//     the unnamed statement in one round trip with binary parameters and results. Pooler-safe,
//     but the cached description is trusted blindly: after a migration changes a column's type,
//     or a "SELECT *" gains a column, already-warm environments fail or misdecode until their
//     connections are recycled, and every new connection (each cold start, each reconnect) pays
//     an extra round trip per distinct statement.
//   - QueryExecModeExec (chosen): Parse of the unnamed statement with no parameter types, Bind,
//     Describe portal, Execute, Sync: always exactly one round trip, no server-side state that
//     outlives it, and nothing cached that a schema change can make stale. Parameters are sent
//     in text format (their types are inferred by the server from the SQL) and results come back
//     as text. The cost is text encoding/decoding of uuid and timestamptz values, which is small
//     next to a network round trip for our row sizes, and two rules for store authors: a
//     parameter whose type the server can't infer from the SQL needs a cast ("$1::text IS NULL"
//     fails with 42P18 without it), and pgx must know a PostgreSQL type for every Go type it is
//     given, since it encodes without the server's help. Open registers uuid.UUID and
//     []uuid.UUID (for "id = ANY($1)"); pass JSON as a string with a ::jsonb cast ([]byte is
//     bytea to pgx).
//   - QueryExecModeSimpleProtocol: one round trip too, but pgx interpolates the escaped values
//     into the SQL text on the client. pgx's own advice is to prefer Exec; we keep server-side
//     parameter binding.
//
// TestPoolerConcurrentQueries runs 50 goroutines through the real PgBouncer in transaction mode
// and fails on any prepared-statement error, so changing the mode breaks a test.
//
// # Idle connections and frozen environments
//
// Lambda freezes an environment between invocations, and RDS Proxy closes client connections
// that have been idle for IdleClientTimeout (1800 s by default). MaxConnIdleTime (5 minutes) makes
// the pool close its own idle connections long before the proxy does, and pgxpool pings any
// connection that has been idle for more than a second before handing it out, so the first
// request after a long freeze reconnects instead of failing on a socket the proxy has closed.
package db
