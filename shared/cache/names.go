package cache

import "github.com/google/uuid"

// The logical keys and scopes the platform caches under, every one spelled here and nowhere
// else: the writer that invalidates an entry and the readers that fill it must name it alike,
// and one list shows which names are taken. The first segment of each is a fixed noun, its name
// in metrics and logs (see Keys in the package comment). An entity's key starts with the
// entity's noun, which the schema chooses; the platform's nouns (organization, members,
// memberships) are platform tables, which the resource engine does not serve, so an entity's
// key can't take one of theirs. Scopes (OrgScope, ViewScope) live in the generation keys' own
// namespace (gen:{…}), apart from the values'.

// EntityKey is the key of the row id of the resource engine's entity named noun: "project:{id}".
func EntityKey(noun, id string) string { return noun + ":" + id }

// MultiListKey is the key of a list of the entity named noun over several organizations, for
// the digest of the scopes' list keys (their generations) and the query. The "multi" segment
// can't be one of ListKey's scopes, which are escaped and hold a ':' ("org%3A…").
func MultiListKey(noun, digest string) string { return noun + ":list:multi:" + digest }

// OrganizationKey is the key of organization id.
func OrganizationKey(id uuid.UUID) string { return "organization:" + id.String() }

// MembersKey is the key of organization id's member list.
func MembersKey(id uuid.UUID) string { return "members:" + id.String() }

// ShardKey is the key of organization id's placement in the shard directory (shared/shard).
func ShardKey(id uuid.UUID) string { return "shard:" + id.String() }

// MembershipsKey is the key of user's memberships, which organization.Access caches and every
// function's access check reads.
func MembershipsKey(user uuid.UUID) string { return "memberships:" + user.String() }

// OrgScope is the scope of organization id's lists: every write in the organization bumps it,
// so it retires the organization's entity lists, the views that join beyond an entity's
// children, and the summary report, which the reports function caches under it.
func OrgScope(id uuid.UUID) string { return "org:" + id.String() }

// ViewScope is the scope of the views of the row id of the entity named noun, the ones that join
// only the entity's children: the row's writes and its children's bump it.
func ViewScope(noun, id string) string { return "views:" + noun + ":" + id }
