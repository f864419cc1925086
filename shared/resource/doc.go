// Package resource is what projects and tasks have in common: both are tenant-owned (every row
// belongs to one organization), versioned (ETag / If-Match), soft-deletable, cached, listed with
// the APSO query syntax and served by the same nine routes. Packages project and task hold what
// differs (their fields, rules and SQL) and lean on this package for the rest, so that a rule
// such as "another tenant's id is a 404" or "If-Match with a stale version is a 412" is written
// once.
//
// # Tenancy and roles
//
// Every read checks that the caller is a member of the entity's organization (through the
// Members interface, which *organization.Access implements from its cached memberships), also
// when the entity comes from the cache: a cache entry is shared by every user, so the check can't be
// skipped on a hit. A non-member gets 404, the same answer as for an id that doesn't exist
// (API.md). Among members, writes need at least the role the domain asks for (Authorize): any
// member may create and change projects and tasks and delete or recover tasks; deleting or
// recovering a project, which takes all its tasks with it, needs an admin or owner (403 for a
// member). Writes also re-check the membership in their SQL statement, against the
// memberships table, so a permission withdrawn a moment ago (and still in the memberships
// cache) is not acted on.
//
// # PUT and PATCH
//
// PATCH changes the fields present (null clears a nullable one: Optional tells absent from
// null). PUT takes POST's body and replaces every writable field, absent ones going back to
// their defaults; it is applied as the PATCH that sets every field (Replacement). Both take
// If-Match and answer 412 when it names a stale version; the UPDATE itself carries the version
// condition, so a concurrent write can't slip between a check and the write.
//
// # ETags
//
// An entity's ETag is strong and is its version: "7". Strong because If-Match, which guards
// PATCH, PUT and DELETE, compares strongly (RFC 9110 §13.1.1): a weak tag would never match.
// The version alone is enough because an ETag is scoped to its URL, and a representation of one
// version is always the same bytes. A GET with fields= or join= answers another representation,
// whose ETag is a digest of its bytes ("h…"), usable with If-None-Match only.
//
// # Caching
//
//   - {noun}:{id} (project:…, task:…): the entity, for the entity TTL (300 s), with jitter,
//     through shared/cache's leased cache-aside; stored as its organization, version and JSON,
//     so that a hit is answered with the cached bytes (see Core.Document).
//   - lists: for the list TTL (60 s), under a key made of the generation of every organization
//     the list spans (see Core.List) and the query's Key. A list of a user in organizations A
//     and B is therefore invalidated by a write in A or in B, and two users with the same
//     organizations share their cached lists.
//   - GET /{noun}s/{id} with fields= or join=: like a list of the entity's organization.
//
// Every write, after its transaction commits, deletes the entities it changed and bumps the
// generation of the organization's scope "org:{id}" (Scope), which invalidates every cached list
// of that organization: projects, tasks, and the reports function's summary, which is cached
// under the same scope.
package resource
