package apsorc

import "time"

// Schema is a loaded, validated .apsorc: every name resolved, every relation linked to both of
// its sides, every scope path walked to the organization. It is read-only after Load.
type Schema struct {
	// Version is the file's format version, 1 or 2.
	Version int
	// Auth maps the platform's identity and tenant onto the schema's entities.
	Auth Auth
	// Entities are the schema's entities in file order, platform entities included.
	Entities []*Entity

	byName map[string]*Entity
}

// Entity returns the entity named name (as written in the file).
func (s *Schema) Entity(name string) (*Entity, bool) {
	e, ok := s.byName[name]
	return e, ok
}

// Auth is the schema's auth block resolved: which of its entities stand for the platform's
// users, organizations and memberships. A name is "" when the schema doesn't declare that
// entity; the platform's tables exist either way.
type Auth struct {
	// Provider is the auth block's provider ("custom-db-session" when the block is absent).
	Provider string
	// UserEntity is the entity that is the platform's users table (auth.userEntity, "User").
	UserEntity string
	// AccountUserEntity is the entity that is the platform's memberships table
	// (auth.accountUserEntity, "AccountUser").
	AccountUserEntity string
	// OrganizationEntity is the entity that is the platform's organizations table: the target of
	// the account-user entity's ManyToOne whose foreign key is OrganizationField, or
	// "Organization" when the schema declares no account-user entity.
	OrganizationEntity string
	// OrganizationField and RoleField are the account-user entity's organization and role
	// fields (auth.organizationField, auth.roleField).
	OrganizationField, RoleField string
}

// Platform says which platform table an entity stands for.
type Platform uint8

// The platform tables.
const (
	// NotPlatform is an ordinary entity, served by the resource engine from its own table.
	NotPlatform Platform = iota
	// Users is the platform's users table.
	Users
	// Organizations is the platform's organizations table.
	Organizations
	// Memberships is the platform's memberships table.
	Memberships
)

// PrimaryKey is an entity's key type.
type PrimaryKey uint8

// The key types.
const (
	// UUIDKey is a time-ordered UUID (v7) made by the engine; scaleapi's default.
	UUIDKey PrimaryKey = iota + 1
	// SerialKey is a bigint identity column (primaryKeyType "serial").
	SerialKey
)

// Entity is one entity of the schema.
type Entity struct {
	// Name is the entity's name as written ("Project", "WorkspaceUser").
	Name string
	// Table is its table: the entity's "table" key, else snake_case(Name) pluralized
	// ("projects", "workspace_users"); a platform entity's is the platform's table.
	Table string
	// Path is the route base without the slash: pluralize(Name) in lower case ("projects",
	// "workspaceusers"). APSO's controllers answer pluralize(Name) case-insensitively; API
	// Gateway paths are case-sensitive, so the engine serves the lower-case spelling.
	Path string
	// Noun is lower(Name), the prefix of the entity's cache keys ("project:{id}") and its
	// metric and log name.
	Noun string
	// Key is the primary key's type; the column is always "id".
	Key PrimaryKey
	// CreatedAt and UpdatedAt say the entity has created_at / updated_at columns (API
	// createdAt / updatedAt), as the file's created_at and updated_at flags ask.
	CreatedAt, UpdatedAt bool
	// HTTP is false when the file says http: false: the table exists, no route does.
	HTTP bool
	// Platform is set for the entities that stand for platform tables; the engine serves none
	// of them (the platform's functions do).
	Platform Platform
	// Fields are the entity's scalar fields in file order, followed by the foreign keys its
	// ManyToOne and owning OneToOne relations add (Field.Relation set), and by the implicit
	// organizationId of an entity without scopeBy (Field.Implicit).
	Fields []*Field
	// Relations are the relations a client may join or list through, in file order.
	Relations []*Relation
	// Indexes are the file's indexes and index: true fields and relations, plus what the
	// engine needs (the scope column's keyset index); Uniques the file's uniques and unique:
	// true fields. Index and unique names are made by the loader when the file has none.
	Indexes []Index
	Uniques []Index
	// Scope is how the entity's rows belong to an organization.
	Scope Scope
	// Options are scaleapi's own per-entity settings (the entity's "scaleapi" block).
	Options Options
}

// Field returns the entity's field with API name name.
func (e *Entity) Field(name string) (*Field, bool) {
	for _, f := range e.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}

// Relation returns the entity's relation with API name name.
func (e *Entity) Relation(name string) (*Relation, bool) {
	for _, r := range e.Relations {
		if r.Name == name {
			return r, true
		}
	}
	return nil, false
}

// Type is a field's type.
type Type uint8

// The field types the engine serves: every type of the format that PostgreSQL has natively.
// PostGIS types are refused at load.
const (
	Text        Type = iota + 1 // text, or varchar(Length) when Length > 0
	Enum                        // text with a CHECK on Values
	Integer                     // integer
	Boolean                     // boolean
	Float                       // double precision
	Decimal                     // numeric(Precision, Scale); "decimal" and "numeric" alike
	Date                        // date
	Timestamptz                 // timestamptz; the format's "timestamp" and "datetime" too
	JSON                        // jsonb; "json" and "json-plain" alike
	UUID                        // uuid: only keys (id of a UUID-keyed entity and foreign keys to one)
	BigInt                      // bigint: only keys (id of a serial entity and foreign keys to one)
)

// Field is one scalar field (column) of an entity.
type Field struct {
	// Name is the API name as written in the file ("fullName", "cognito_id"), and the JSON key.
	// A foreign key's is camelCase(relation name) + "Id" ("projectId", "ownerId").
	Name string
	// Column is snake_case(Name) ("full_name", "cognito_id", "project_id").
	Column string
	Type   Type
	// Length bounds a Text field (varchar(n)); 0 for none.
	Length int
	// Values are an Enum's allowed values, in file order.
	Values []string
	// Precision and Scale are a Decimal's (0, 0: unconstrained numeric).
	Precision, Scale int
	// Nullable, Unique and Email are the file's nullable, unique and is_email.
	Nullable, Unique, Email bool
	// Default is the field's default as a JSON value (string, number or boolean), validated
	// against the type at load; nil for none. A field with a default may be left out of a
	// create.
	Default any
	// Relation is the relation whose foreign key this field is, or nil.
	Relation *Relation
	// Implicit marks the organizationId that the loader adds to an entity without scopeBy.
	Implicit bool
}

// Kind is a relation's kind, as seen from the entity that has it.
type Kind uint8

// The relation kinds.
const (
	ManyToOne  Kind = iota + 1 // this entity holds the foreign key (Field); JSON object or null
	OneToMany                  // the target holds it (Inverse); JSON array
	OneToOne                   // Field != nil: this entity holds it, else the target (Inverse)
	ManyToMany                 // through JoinTable; JSON array
)

// Relation is one side of a relationship of the file.
type Relation struct {
	// Name is the API name: the join= value and the JSON key ("project", "tasks", "owner").
	Name string
	Kind Kind
	// Target is the entity at the other end.
	Target *Entity
	// Field is the foreign key on this entity (ManyToOne, owning OneToOne), else nil.
	Field *Field
	// Inverse is the other side, when the relationship has one on Target (the side that holds
	// the foreign key for a OneToMany or an inverse OneToOne; the other side of a bidirectional
	// ManyToMany); nil for a unidirectional relationship.
	Inverse *Relation
	// Nullable says the foreign key may be NULL (ManyToOne, owning OneToOne).
	Nullable bool
	// CascadeDelete, on the side holding the foreign key, says that deleting (soft or hard) the
	// target deletes this entity's rows that point at it, and recovering it recovers them.
	CascadeDelete bool
	// JoinTable, JoinColumn and InverseJoinColumn are a ManyToMany's join table and its two
	// columns: JoinColumn points at this entity, InverseJoinColumn at Target.
	JoinTable, JoinColumn, InverseJoinColumn string
}

// Index is an index or a unique constraint.
type Index struct {
	Name string
	// Columns are column names (not API names), in order.
	Columns []string
}

// Scope is how an entity's rows belong to an organization, from scopeBy.
type Scope struct {
	// Path is the chain of ManyToOne relations from the entity to the one whose Field holds the
	// organization's id; empty when the entity holds it itself ("organizationId"), one
	// relation for "project.organizationId".
	Path []*Relation
	// Field is the field that holds the organization's id: on the entity itself when Path is
	// empty, else on the last relation's Target.
	Field *Field
	// InjectOnCreate is scopeOptions.injectOnCreate (default true): a create that leaves the
	// scope field out gets the caller's organization when the caller has exactly one.
	InjectOnCreate bool
}

// Direct reports whether the entity holds its organization's id itself.
func (s Scope) Direct() bool { return len(s.Path) == 0 }

// Reads says which pool serves an entity's reads.
type Reads uint8

// The read routings.
const (
	// ReadPrimary reads from the primary: read-your-writes. The default.
	ReadPrimary Reads = iota + 1
	// ReadReplica reads lists from the replica (a lagging list is acceptable); single reads
	// and every write still use the primary.
	ReadReplica
)

// Options are scaleapi's own per-entity keys, in the entity's "scaleapi" block, where APSO's
// format has nothing to say:
//
//	"scaleapi": {"cacheTTL": 300, "listCacheTTL": 60, "softDelete": true, "reads": "primary",
//	             "deleteRole": "admin"}
type Options struct {
	// CacheTTL is the entity cache TTL (seconds in the file; default 300, 0 disables).
	CacheTTL time.Duration
	// ListCacheTTL is the list cache TTL (seconds; default 60, 0 disables).
	ListCacheTTL time.Duration
	// SoftDelete keeps deleted rows (deleted_at) for recovery; default true. With false, DELETE
	// removes the row and there is no recover route.
	SoftDelete bool
	// Reads routes the entity's list reads; default ReadPrimary.
	Reads Reads
	// DeleteRole is the least role that may delete and recover ("member", "admin" or "owner";
	// default "member"). Every other write needs membership only.
	DeleteRole string
}
