-- +goose Up
-- A user's role in a live organization, NULL when they have none there (not a member, or the
-- organization is deleted): the check every write makes (shared/resource, memberOf).
--
-- PL/pgSQL rather than SQL on purpose. Behind a transaction-mode pooler every statement is
-- parsed and planned afresh (see shared/db), and the membership's EXISTS, a join of two tables,
-- was a large share of a create's planning. A call to a PL/pgSQL function is opaque to the
-- planner, and the function's own query is planned once per server connection and then reused:
-- a project's create took 305–405 µs of the primary's CPU with the EXISTS inline and 260–332 µs
-- with this function (pgbench in extended mode, one connection, 4,000 statements a round, three
-- alternating rounds). An SQL function would be inlined, and planned every time again.
-- +goose StatementBegin
CREATE FUNCTION scaleapi_member_role(org uuid, member uuid) RETURNS text
    LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT m.role FROM memberships m
            JOIN organizations o ON o.id = m.organization_id AND o.deleted_at IS NULL
            WHERE m.organization_id = org AND m.user_id = member);
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION scaleapi_member_role(uuid, uuid);
