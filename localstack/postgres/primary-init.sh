#!/usr/bin/env bash
# Runs once, from the postgres image's /docker-entrypoint-initdb.d, when postgres-primary's data
# directory is created: the role and slot postgres-replica clones and streams with, and the
# pg_hba line that lets it in.
#
# The image runs an executable init script and sources one that is not; `set -u` is left out
# because a sourced script's options would leak into the image's entrypoint.
set -eo pipefail

: "${REPLICATION_USER:?}" "${REPLICATION_PASSWORD:?}" "${REPLICATION_SLOT:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=repl_user="$REPLICATION_USER" --set=repl_password="$REPLICATION_PASSWORD" \
  --set=repl_slot="$REPLICATION_SLOT" <<'SQL'
CREATE ROLE :"repl_user" WITH REPLICATION LOGIN PASSWORD :'repl_password';
-- A physical slot: the primary keeps the WAL the replica has not received yet, so a replica
-- that was stopped for a while catches up instead of needing a new base backup.
SELECT pg_create_physical_replication_slot(:'repl_slot');
SQL

# The image's own line, "host all all all scram-sha-256", does not cover replication
# connections: the keyword "all" in the database column excludes them.
echo "host replication $REPLICATION_USER all scram-sha-256" >>"$PGDATA/pg_hba.conf"
