// Package apsorc loads APSO's .apsorc schema files (the format of github.com/apsoai/cli,
// versions 1 and 2) into the model the resource engine serves, and writes that model's
// PostgreSQL DDL (Schema.CreateSQL) and a snapshot of it for migrations (Schema.Snapshot).
//
// Load and Parse check everything before they return: every name resolved, every relation
// linked to both of its sides, every scope walked to the organization, every identifier the
// DDL will write checked. A file they refuse gives an *Error that lists every problem found,
// one a line, each saying where it is:
//
//	.apsorc: entity "Task" field "priority": enum needs values
//	.apsorc: relationship 3 (Task ManyToOne Projekt): no entity "Projekt"
//
// CreateSQL and Snapshot never fail on a schema Load accepted.
//
// # The format
//
// Version 2 declares entities and, at the top level, relationships. Version 1 (a file
// without "version" too) declares each entity's associations instead; they are translated
// as APSO's parse-v1 does: an association whose inverse the other entity declares makes one
// bidirectional relationship (declared by its OneToMany side, or by the ManyToMany side with
// join_table), one without makes a unidirectional one, and two ManyToMany sides that both say
// join_table stay two unidirectional relationships with two join tables. A version 1 file and
// its version 2 translation load to the same model.
//
// Every key is checked: an unknown one is an error naming where it is, and so is a key that
// asks for what scaleapi does not do (see below). The generator's own keys (rootFolder,
// apiType, language, coAuthor) are type-checked and otherwise ignored: scaleapi serves the
// same REST API whatever they say. A key given null counts as absent, as it does for APSO's
// JavaScript.
//
// Field types: text (varchar(length) with length), enum (values required, non-empty, unique;
// a CHECK), integer, boolean, float (double precision), decimal and numeric (numeric, with
// optional precision 1..1000 and scale 0..precision), date, timestamptz (timestamp and
// datetime alike), json and json-plain (both jsonb). PostGIS types and array are refused:
// PostGIS needs an extension scaleapi does not install, and the engine has no array columns.
// A default is checked against its field (an enum's must be one of its values); a number or
// boolean may be written as a string ("0", "false"), as APSO passes defaults on as text. A
// json field takes no default, and "primary" is refused: the key is always id.
//
// # Names
//
// An entity's table is snake_case(name) with the last word pluralized ("WorkspaceUser" →
// workspace_users), unless "table" says otherwise; its path is pluralize(name) in lower case
// ("workspaceusers"): APSO's controllers answer pluralize(name) case-insensitively, API
// Gateway paths are case-sensitive, so the engine serves the one lower-case spelling. A
// field's column is snake_case(name) ("fullName" → full_name, "logoURL" → logo_url,
// "cognito_id" unchanged). Pluralization is github.com/gertd/go-pluralize, a port of the
// pluralize library APSO uses, so relation names come out as APSO's do.
//
// Relations are named as APSO's parse.ts names them: a OneToMany from A to B gives A the
// collection camelCase(pluralize(to_name or B)) and B the ManyToOne camelCase(A) with the
// foreign key camelCase(A)+"Id"; a ManyToOne from A to B gives A camelCase(to_name or B) and,
// unless bi_directional is false or B is A, B the collection camelCase(pluralize(A)); a
// OneToOne gives A the owning side (a unique foreign key) and, when bidirectional, B the
// inverse camelCase(A); a ManyToMany gives A to_name or camelCase(pluralize(B)) and, when
// bidirectional, B the inverse. A OneToMany and the ManyToOne declared back (as APSO's own
// templates write them) are one relationship. A OneToOne or ManyToMany declared from both
// sides, either bidirectional, is one relationship too: the first declaration owns the foreign
// key, or the join table unless only the second names it, and the second's to_name names
// the inverse. Two bidirectional ManyToOne from A to B (networkStack, databaseStack) would
// give B two collections of one name; the first keeps it, the second has no inverse, as in
// APSO's generator.
//
// A ManyToMany's join table is joinTableName, else snake_case(A) + "_" + B's default table
// ("recipe_ingredients"); its columns joinColumnName and inverseJoinColumnName, else
// snake_case(A)+"_id" and snake_case(B)+"_id".
//
// Every table, column, index and join table name must be a plain lower-case identifier of at
// most 63 bytes that is not a PostgreSQL reserved word, and tables and indexes must be unique
// in the database. Index and constraint names the file doesn't give are
// <table>_<columns>_idx, _key, _check and _fkey, shortened with a hash when longer than 63
// bytes.
//
// # Keys
//
// primaryKeyType "uuid", and no primaryKeyType at all, is a time-ordered UUID (v7) that the
// engine makes: a deliberate departure from APSO, whose default is serial. UUIDv7 ids reveal
// no row counts, can't be guessed from a neighbour's, are known before the INSERT and still
// insert in index order. "serial" (a bigint identity) is honoured when written. Foreign keys
// take their target's key type.
//
// # The platform
//
// scaleapi's users, organizations and memberships are its platform's tables, behind its own
// JWT + sessions auth: the auth block may only name the custom-db-session or better-auth
// provider (or be absent), whose model it is; auth0, clerk, cognito and api-key are refused.
// The entities named auth.userEntity ("User"), auth.accountUserEntity ("AccountUser") and
// the organization entity (the target of the account-user entity's ManyToOne whose foreign key
// is auth.organizationField, "organizationId"; "Organization" when there is no account-user
// entity) stand for those tables: CreateSQL creates none of them, they are UUID-keyed, and
// they may declare only what the tables have (users: name, email; organizations: name;
// memberships: the role field, an enum of owner, admin and member or fewer). They keep their
// relations, so `Task ManyToOne User as assignee` is a foreign key assignee_id to users(id);
// but no foreign key may live in a platform table other than the memberships' own, and
// nothing may reference memberships, which has no id.
//
// Without an auth block, only an entity named Organization stands for the platform's table: a
// User is then the schema's own entity (APSO's published examples have one with cognito_id),
// served like any other. An ordinary entity whose derived table is a platform table gets
// "app_" before it (app_users); a table the file names must be free. A field that is another
// spelling of an engine column (a text "ID") gets the column <column>_value (id_value).
//
// # Tenancy
//
// Every served entity belongs to an organization, through scopeBy: a foreign key field to the
// organization entity ("organizationId"), or a path of ManyToOne relations ending at one
// ("project.organizationId"; a step may name the relation or its foreign key). Every element
// of a scopeBy list must lead to the organization, and must not be nullable; the shortest is
// the one the engine enforces. A scope that leads elsewhere ("serviceId") is refused:
// scaleapi scopes by the organization only. An entity without scopeBy is scoped by its
// organizationId: the foreign key to the organization when it declares one, else an implicit
// organizationId field (organization_id, uuid, not null, referencing organizations) with an
// "organization" relation when the schema declares the organization entity. So is an entity
// whose scopeBy names an organizationId it doesn't declare.
//
// scopeOptions.injectOnCreate is honoured (default true). The engine enforces the scope on
// every operation and no role crosses tenants, so enforceOn is accepted only when it lists all
// five operations, and bypassRoles only when empty.
//
// # scaleapi's own keys
//
// An entity may carry a "scaleapi" block for what APSO's format has nothing to say about (see
// Options):
//
//	"scaleapi": {"cacheTTL": 300, "listCacheTTL": 60, "softDelete": true,
//	             "reads": "primary", "deleteRole": "member"}
//
// TTLs are whole seconds from 0 (no caching) to a year. emitEvents is refused when true:
// scaleapi has no domain events.
//
// # The DDL
//
// Every served table has id, its fields, created_at and updated_at when flagged, version
// (optimistic concurrency) and, with soft delete, deleted_at. Every foreign key leads an index,
// and a directly scoped entity has (organization_id, id) for keyset pages. A foreign key
// cascades with cascadeDelete, is set null when nullable, and otherwise restricts. Unique
// constraints span soft-deleted rows too, so that recovering a row never breaks one.
package apsorc
