-- +goose Up
CREATE TABLE memberships (
    organization_id uuid        NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text        NOT NULL
        CONSTRAINT memberships_role_check CHECK (role IN ('owner', 'admin', 'member')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Leading organization_id serves "members of an organization" and the role check
    -- "is user U a member of organization O", both by primary key.
    PRIMARY KEY (organization_id, user_id)
);

-- Every authenticated list is scoped by "the organizations the caller belongs to"
-- (WHERE user_id = $1), and /auth/me lists them. INCLUDE makes that an index-only scan, and the
-- index also serves the ON DELETE CASCADE from users, which the primary key (organization first)
-- cannot.
CREATE INDEX memberships_user_id_idx ON memberships (user_id) INCLUDE (organization_id, role);

-- +goose Down
DROP TABLE memberships;
