// Package auth holds everything that decides who a caller is: password hashing (argon2id),
// access tokens (HS256 JWTs, 15 minutes), sessions and refresh tokens in Redis, the middleware
// that turns a Bearer token into a Principal, and the roles a member holds in an organization.
//
// # Why sessions live in Redis
//
// An access token is a signed, self-contained claim, so on its own it could not be withdrawn
// before it expires. Every token names a session (its sid claim), and the middleware checks that
// the session still exists in Redis on every request: one EXISTS, about a tenth of a
// millisecond. Logout and refresh-token reuse delete the session, and from that moment every
// execution environment rejects the session's access tokens, not just the one that served the
// logout.
//
// That makes Redis a dependency for correctness on authenticated routes, and the one place in
// the API where it is: when Redis can't be reached the middleware answers 503 (with
// Retry-After) rather than letting a possibly revoked token through. The cache, the rate limiter
// and everything else treat Redis as an optimisation.
//
// The EXISTS does not have to cost a round trip of its own: middleware that runs right after
// Require and needs Redis too (the rate limiter) can implement Joiner, and its commands then
// travel in the same pipeline. Verified tokens are remembered (only their lifetime is checked
// again), so a client's later requests skip the HMAC; the session check is never skipped.
//
// # Keys
//
// A session is two keys that share the hash tag {sid}, so they live in one Redis Cluster slot
// and a Lua script may touch both:
//
//	sess:{<sid>}        hash: uid (user id), rt (SHA-256 of the current refresh secret),
//	                    gen (rotations so far), created (Unix seconds)
//	sess:{<sid>}:dead   sorted set: hashes of rotated-away refresh secrets scored by gen;
//	                    the newest 128 are kept
//
// Both expire together after the refresh-token TTL, and each rotation extends them: a session
// lives as long as it is used at least once per refresh-token TTL.
package auth
