-- The shard directory (shared/shard): which shard holds each organization's rows, on the first
-- shard of a sharded deployment, beside the users, memberships and organizations it routes by.
-- An organization without a row is on the first shard: a deployment that was never sharded has
-- none, and adding shards later moves nothing until an organization is placed or moved.
-- +goose Up
CREATE TABLE organization_shards (
    organization_id uuid        PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    -- The shard's name in DATABASE_SHARDS.
    shard           text        NOT NULL CONSTRAINT organization_shards_shard_check CHECK (char_length(shard) BETWEEN 1 AND 63),
    -- While set and in the future, the organization is being moved: its writes answer 503
    -- with Retry-After, its reads are served from shard.
    frozen_until    timestamptz NULL,
    placed_at       timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE organization_shards;
