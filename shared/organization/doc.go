// Package organization holds the organizations function's business (organizations, which are the
// tenants, and their members) and Access, the membership check that every other function runs
// before touching an organization's projects, tasks or reports.
//
// # Who may do what
//
// Every route needs a member of the organization; anyone else gets 404, never 403, so that a
// caller can't learn which organization ids exist. Among members, auth.Role decides:
//
//   - read the organization and its members: any member;
//   - PATCH /organizations/{id}: owner or admin;
//   - DELETE /organizations/{id}: owner;
//   - add a member: owner or admin, and only an owner may add an owner (auth.Role.CanAssign), so an
//     admin can't create someone more powerful than themself;
//   - remove a member: owner or admin, except that only an owner may remove an owner. An admin
//     who could remove owners could take the organization over by removing every owner but
//     the last one standing in their way; the owners' standing is theirs to change. Any member may
//     remove themself (leave), whatever their role: without that a member could never leave.
//   - the organization's last owner can't be removed, by anyone, themself included (409): an
//     organization without an owner could never be deleted or get a new owner.
//
// Writes check the caller's role inside their transaction, against the memberships table, not
// against Access's cache: a cache can only lag behind a change of role or membership, and a
// write must not act on a stale permission. Reads use Access, whose cache is invalidated on
// every membership change (see Access).
//
// # Caching
//
// Under the names shared/cache owns (names.go):
//
//   - memberships:{userID}: the user's memberships (Access), 60 s.
//   - organization:{id}: one organization, 300 s, deleted on PATCH and DELETE.
//   - members:{organizationID}: an organization's member list, 60 s, deleted when a member
//     is added or removed and when the organization is deleted.
//
// Every invalidation happens after the transaction commits; shared/cache's leases keep a read
// that loaded before the commit from putting the old value back.
//
// GET /organizations is not cached: it is one index scan of memberships (user_id) joined to
// organizations by primary key, and a cached copy would have to be invalidated for every member
// whenever one organization is renamed, which costs more than it saves for a list a client reads
// rarely (it reads projects and tasks).
//
// # Organizations on other shards
//
// The directory's shard holds every organization, membership and user: the truth, which
// Access and every decision of this package read. An organization placed on another shard
// (shared/shard) also has there a copy of its own row, of its memberships and of its members'
// users (id, email, name; never a password hash), because the resource engine's statements check
// membership, and the schema's foreign keys point at organizations and users, in the database
// that holds the rows. The copies are written inside the directory's transaction and
// before its commit: a change the copy refused is not made at all. If the directory's commit
// fails after the copy's, the copy is made again from the directory's committed state, which undoes
// the copy; until then the copy may grant a membership the directory doesn't (milliseconds, and
// only to what the member would have been granted). With one shard there is no copy and nothing
// here runs.
package organization
