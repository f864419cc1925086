// Package shard places organizations on PostgreSQL clusters and finds them again: the shard map
// of a deployment (DATABASE_SHARDS), the directory that says which shard holds an
// organization's rows, and the pools of every shard, opened when first used.
//
// # The map
//
// A shard is a writer URL (in AWS, an RDS Proxy in front of one Aurora cluster) and an optional
// reader URL (the proxy's read-only endpoint), with a name and a placement weight. The first
// shard of the map is the directory's: it keeps what is global (users, sessions' owners,
// memberships, organizations, the directory itself and the cache epoch), so that login,
// /auth/me and every access check read one database and never fan out. A one-shard map (the
// default: DATABASE_URL and DATABASE_READER_URL alone) is the unsharded deployment, and Set
// answers it without reading the directory at all: no round trip is added to any request.
//
// # The directory
//
// Table organization_shards (migration 00008), on the first shard: organization → shard name,
// and while a move runs the time until which the organization's writes are frozen. An
// organization without a row is on the first shard, so a deployment that grows from one shard
// to several moves nothing until organizations are placed or moved. A lookup is answered from
// the environment's own memory for LocalTTL, then from Redis (key "shard:{id}", RedisTTL),
// then from the directory; a move deletes the Redis entry, and LocalTTL bounds how long an
// environment may still act on what it read before (a move's freeze outlasts it).
//
// # Placement
//
// A new organization is placed by weighted rendezvous hashing of its id over the shards
// (highest random weight): each shard scores -weight/ln(h) for a uniform hash h of (id, shard
// name), and the highest wins. The share of new organizations a shard gets is its weight over
// the sum; a weight of 0 takes a shard out of placement (a full cluster) without moving
// anything; adding a shard changes no existing organization's place. It needs no counter that
// every creation would update (a hot row), and the same id always lands on the same shard, so
// a retried creation is placed where its first attempt was. Load is balanced in the aggregate;
// a tenant that outgrows its shard is moved.
package shard
