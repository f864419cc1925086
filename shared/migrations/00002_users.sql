-- +goose Up
CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    -- Stored lower-case (the API normalises emails); the CHECK makes a forgotten normalisation a
    -- loud 422 instead of a silent duplicate that the unique index below would not catch.
    email         text        NOT NULL
        CONSTRAINT users_email_check CHECK (email = lower(email) AND char_length(email) BETWEEN 3 AND 254),
    name          text        NOT NULL CONSTRAINT users_name_check CHECK (char_length(name) BETWEEN 1 AND 200),
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- Login looks a user up by email, and registration relies on this index to turn a concurrent
-- duplicate into a unique violation (23505 -> 409) rather than a check-then-insert race.
-- A plain (not lower(email)) index is enough because emails are stored lower-case.
CREATE UNIQUE INDEX users_email_key ON users (email);

-- +goose Down
DROP TABLE users;
