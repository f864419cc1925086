// Package resource is the resource engine: it serves every entity of an .apsorc schema (see
// package apsorc) from the schema alone, with the same rules for all of them. The only
// per-entity code is Hooks, the domain rules a schema cannot say (package domain holds the root
// schema's).
//
// # Routes
//
// Each entity with http (the default) gets APSO's routes at /{path}, where path is
// pluralize(Name) in lower case: GET (getMany, the list query syntax of package query), POST
// (createOne; 201, Location and ETag), POST /bulk ({"bulk":[…]}, 1 to MaxBulk items, all or
// none), GET /{id} (getOne), PATCH (updateOne: the fields present), PUT (replaceOne: every
// field; absent ones go back to their default or NULL, the organization and required references
// stay) and DELETE (deleteOne). Ours: PATCH /{id}/recover for soft-deleted entities, GET
// /{id}/{relation} for every OneToMany and ManyToMany relation, and PUT and DELETE
// /{id}/{relation}/{otherId} to link and unlink a ManyToMany pair (idempotent, 204).
//
// # Bodies
//
// A body is an object of the entity's fields. Unknown fields and the engine's own (id,
// createdAt, updatedAt, version, deletedAt, and a scope field that follows the parent) are a
// 400, as a value of the wrong JSON type is; a value the field doesn't accept (an enum outside
// its values, a text over its length, a decimal past its scale, a date that doesn't exist, a
// null in a field that isn't nullable, a required field left out) is a 422 naming the field,
// every problem of the request at once (bulk[i].field in a bulk).
//
// # Tenancy
//
// Every entity belongs to an organization of the platform, through its scope (apsorc.Scope):
// its own organizationId, or a path of references (product.storeId). Every statement checks it
// in SQL: lists are scoped to the caller's organizations in their WHERE; reads of one entity
// check the caller's membership also on a cache hit (an entry is shared by every user); writes
// carry the membership guard and their reference checks in the statement itself, so a
// permission withdrawn a moment ago, or a reference deleted concurrently (references are read
// FOR SHARE), is never acted on. The guard calls the migrations' scaleapi_member_role, a
// PL/pgSQL function, so that PostgreSQL keeps its plan per server connection instead of
// planning the membership's join in every write (memberOf). An id that doesn't exist, is
// deleted or is another tenant's is a 404, the same answer for all three: tenants can't learn
// what exists. A create naming an organization of which the caller is not a member is a 404
// naming the field, never kept. A reference to a row of another tenant is a 404 naming the
// field; to a row of another of the caller's own organizations, a 422; to a user who is not a
// member, a 422.
//
// A create that leaves the scope field out gets it: from its parent, the first required
// ManyToOne to another entity (a task's organization is always its project's, and the field is
// read-only), else the caller's organization if they have exactly one
// (scopeOptions.injectOnCreate); otherwise it is required. An entity can't move to another
// organization (422). Deleting and recovering needs the entity's deleteRole (403 below it).
//
// # Deletes
//
// With soft delete (the default) DELETE sets deleted_at and recover clears it. Rows of
// entities whose reference to the deleted one has cascadeDelete go with it, with the same
// deleted_at, recursively and in the same transaction; recover brings back exactly those,
// leaving a child deleted on its own before deleted. A row whose required reference is deleted
// can't be recovered before it (409). The deleted row is locked first, so no child can be
// added meanwhile.
//
// # ETags
//
// An entity's ETag is strong and is its version: "7". Strong because If-Match, which guards
// PATCH, PUT and DELETE, compares strongly (RFC 9110 §13.1.1): a weak tag would never match.
// The version alone is enough because an ETag is scoped to its URL, and a representation of
// one version is always the same bytes: PostgreSQL renders every row (json_build_object, see
// package query), for a write's answer, a GET and a list alike. A GET with fields= or join=
// answers another representation, whose ETag is a digest of its bytes, for If-None-Match only.
//
// # Caching
//
//   - {noun}:{id} (project:…): the entity, for the entity TTL (the schema's cacheTTL, 300 s),
//     with jitter, through shared/cache's leased cache-aside; stored as its organization,
//     version and JSON, so that a hit is answered with the cached bytes.
//   - lists: for the list TTL (listCacheTTL, 60 s), under a key made of the generation of every
//     organization the list spans and the query's Key. A list of a user in organizations A and
//     B is invalidated by a write in A or in B; two users with the same organizations share
//     their cached lists.
//   - views (GET /{path}/{id}?fields=…&join=…): under the entity's own view scope when they
//     join only its children, else like a list of its organization (see engine_views.go).
//
// Every write, after its transaction commits, deletes the entities it changed and bumps the
// generation of the organization's scope "org:{id}" (cache.OrgScope), which invalidates every cached
// list of that organization, entities' and the reports function's summary alike.
package resource
