// Package cache is the project's Redis cache: a client constructor tuned for Lambda (NewClient),
// and a typed cache-aside (Get) with TTL jitter, a per-process stampede guard, negative caching,
// invalidation after commit (Delete), per-scope generation numbers for lists (GetList, Bump) and
// protection against the cache-aside race. The cache is an optimisation, never a dependency for
// correctness: a read never fails because Redis did.
//
// # Keys
//
// A logical key such as "project:0190..." is stored as
//
//	<prefix><epoch>:{project:0190...}        the value: JSON, or a tombstone for a cached "not found"
//	<prefix><epoch>:{project:0190...}:lease  the fill lease (see below)
//	<prefix><epoch>:gen:{org:42}             the generation number of scope "org:42"
//	<prefix><epoch>:{projects:list:org%3A42:…}  a list of that scope, its generation inside
//
// where <epoch> is the fence's current epoch in base 36 (see Failures), or nothing for a Cache
// without Options.Epochs.
//
// The braces are a Redis Cluster hash tag, deliberately: a value and its lease always hash to the
// same slot, so the fill script and Delete's DEL touch two keys without CROSSSLOT. Nothing else
// is ever combined in one command: different keys, and a list and its scope's generation key,
// live in whatever slots they hash to, so no scope or tenant turns into a hot slot.
//
// The first ':'-separated segment of a logical key ("project") names it in metrics and logs, so
// keep that segment a fixed noun. The keys and scopes the platform's packages use are named in
// names.go (EntityKey, OrgScope, MembershipsKey, …), and only there.
//
// A key must name what the loader returns for everyone who reads that key. Cache an entity by its
// id with a loader that does no access check, and check the caller's organization on the result;
// a loader that answers "not found" to a non-member would cache that tombstone for the members
// too (and a loader that filters by caller would serve one caller's view to another). Lists are
// keyed by their scope (ListKey), which is the organization they belong to.
//
// # The cache-aside race, and leases
//
// The classic race: a read misses, loads the old row, a write commits and deletes the key, and
// the read then puts the old row back for a whole TTL. Fills are therefore guarded by a lease:
//
//  1. On a miss, before reading the database, the reader takes a lease:
//     SET <key>:lease <random token> NX PX LeaseTTL.
//  2. Delete (called after the write commits) removes the value and the lease together.
//  3. The reader commits its value with a script that writes it only if the lease still holds the
//     reader's token, and drops the lease in the same step.
//
// A write that commits after the reader's database read necessarily deletes after the lease was
// taken, so it kills the lease and the stale fill is discarded (counted in Stats.Discarded). A
// write that commits before the read is seen by the read. A reader that cannot take the lease
// (another environment is filling) still answers from the database but does not write. A lease
// that outlives a crashed reader expires after LeaseTTL; until then the key is served from the
// database, never stale. The same lease guards tombstones, so a row created while a reader was
// seeing "not found" is not hidden for NegativeTTL.
//
// Within one process, fills are deduplicated per key with singleflight: N concurrent misses of a
// key make one database read. Delete also forgets the in-flight fill, so a read that starts
// after Delete returns never joins a load that began before it.
//
// # Bypass
//
// A read whose context carries WithBypass (an API's cache=0) skips the lookup and singleflight,
// reads the database and still refreshes the entry: it takes the lease unconditionally (its read
// is the newest, so it may supersede another reader's fill) and commits like any fill. So cache=0
// also repairs an entry, and never leaves the cache older than it was.
//
// # Lists and generations
//
// A list of a scope (an organization) is cached with the scope's generation number inside its
// entry, as it was read before the list was loaded; GetList reads the entry and gen:{scope} in the
// same round trip and serves the entry only if the two agree. Bump increments the generation,
// and every cached list of the scope is retired at once: one key touched, no SCAN; the retired
// entries are overwritten by the next fill or expire by their own (short) TTL. A missing
// generation starts at the current Unix time in microseconds and Bump sets max(gen+1, now), so a
// generation key that expired or was evicted never comes back with a number that older,
// still-cached lists carry (a bump takes a round trip, so generations cannot outrun a
// microsecond clock).
//
// The generation is in the entry, not in its key, so that the key is known before anything is
// read: a cached list then costs one round trip with the request's other reads (Prefetch),
// where a key holding the generation needs the generation first. Loads of a list are shared
// (singleflight) per key and generation, and fills take the same lease as Get's, so a fill
// that loaded before a write can at worst write an entry under the generation it read, which
// every read after the write's Bump refuses.
//
// # Prefetch
//
// A request that knows several keys up front, none depending on another, reads them in one round
// trip with Prefetch (GET /projects/{id}: the project and the caller's memberships). Get and
// GetList then take their reply from the context instead of sending a GET, and handle it exactly
// as their own: hits, misses, tombstones, fills under a lease and Redis errors are unchanged. A
// reply is taken once, so a read after a write in the same request goes to Redis again.
//
// # Failures
//
// Reads (Get, GetList) never return Redis errors: they count them (Stats, Observer), log them at
// debug, and answer from the loader. Every Redis call is bounded by the client's timeouts and the
// request's context, and after a connection-level failure the Cache skips Redis for Cooldown, so a
// dead or blackholed Redis costs one request one timeout, and the requests after it nothing.
//
// Invalidations (Delete, Bump) can't be answered from anywhere else: a lost one would leave
// Redis serving what the committed write replaced, for a whole TTL, and after Redis is reachable
// again it would hold them still. So an invalidation that fails (after one retry, and also when
// the caller's context ended after its commit) falls back to the fence: Options.Epochs, a row in
// PostgreSQL whose epoch every key carries. Delete and Bump advance it, which retires every entry
// at once, and return nil. The guarantee, tested in TestFailedInvalidationFences against real
// Redis and PostgreSQL:
//
//   - the environment that wrote reads nothing older than its write from then on;
//   - every other environment reads the epoch again at most EpochInterval (1 s) after it last
//     did, so none reads a retired entry later than EpochInterval after the write returned.
//
// Reading the epoch costs one indexed single-row query per environment per interval, not per
// request. If it can't be read, the cache is skipped (reads go to the database and nothing is
// filled) until it can: an epoch older than the interval is never trusted. Delete and Bump
// return an error only when the fence could not be advanced either (the database unreachable
// right after the write committed), and the caller logs it.
//
// Advancing retires the whole cache, not just the keys concerned: it happens only when Redis
// failed, and a cold cache afterwards costs database reads, never correctness. A successful
// invalidation is seen at once by every environment on the current epoch; in the interval after
// an advance, an environment still on the retired epoch may read entries of it until its own
// interval ends.
package cache
