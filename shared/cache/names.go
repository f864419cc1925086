package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"

	"github.com/google/uuid"
)

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

// ListKey is the key of a list under scopes (one OrgScope or ViewScope, or the sorted scopes of
// the organizations a list spans) identified by parts: a noun first ("projects"), then the
// canonical query. Read it with GetList under the same scopes. The key carries no generation:
// its entry holds the generations it was filled under, and GetList checks them against the
// scopes' own, so the key is known before any round trip and is read in the same one as the
// generations (Prefetch). Over one scope the key spells it out ("projects:list:org%3A…:…");
// over several, a digest of the scopes and the parts stands in for them ("projects:list:multi:…"),
// and "multi" can't be a scope, which is escaped and holds a ':' ("org%3A…").
func ListKey(scopes []string, parts ...string) string {
	noun := "list"
	if len(parts) > 0 {
		noun, parts = partEscaper.Replace(parts[0]), parts[1:]
	}
	var b strings.Builder
	b.WriteString(noun)
	b.WriteString(":list:")
	if len(scopes) == 1 {
		b.WriteString(partEscaper.Replace(scopes[0]))
		for _, p := range parts {
			b.WriteByte(':')
			b.WriteString(partEscaper.Replace(p))
		}
		return b.String()
	}
	// Each string length-prefixed, and the scopes counted, so no two lists share a digest input.
	h := sha256.New()
	var n [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(n[:], uint64(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	binary.BigEndian.PutUint64(n[:], uint64(len(scopes)))
	h.Write(n[:])
	for _, s := range scopes {
		field(s)
	}
	for _, p := range parts {
		field(p)
	}
	b.WriteString("multi:")
	b.WriteString(hex.EncodeToString(h.Sum(nil)[:16]))
	return b.String()
}

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
