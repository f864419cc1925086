#!/usr/bin/env bash
# Entrypoint of postgres-replica, run as the postgres user: on first start, clone the primary with
# pg_basebackup -R (which writes standby.signal and primary_conninfo), then run PostgreSQL as a
# hot standby streaming from the slot primary-init.sh created. The same steps as the test
# harness's replica (shared/devservices), with the primary across the network.
set -euo pipefail

: "${PGDATA:?}" "${PRIMARY_HOST:?}" "${REPLICATION_USER:?}" "${REPLICATION_SLOT:?}"
primary_port=${PRIMARY_PORT:-5432}

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  # Clone into a scratch directory and rename it into place, so that a clone interrupted half way
  # is started over rather than taken for a data directory.
  partial="$PGDATA.partial"
  rm -rf "$partial"
  until pg_isready -q -h "$PRIMARY_HOST" -p "$primary_port" -U "$REPLICATION_USER"; do
    echo "replica: waiting for $PRIMARY_HOST"
    sleep 1
  done
  echo "replica: cloning $PRIMARY_HOST (pg_basebackup -R, slot $REPLICATION_SLOT)"
  pg_basebackup -h "$PRIMARY_HOST" -p "$primary_port" -U "$REPLICATION_USER" -D "$partial" \
    -R -X stream -c fast -S "$REPLICATION_SLOT"
  rm -rf "$PGDATA"
  mv "$partial" "$PGDATA"
  chmod 0700 "$PGDATA"
fi

# hot_standby: answer read-only queries (reports) while replaying. hot_standby_feedback: tell the
# primary which rows replica queries still read, so that vacuum there does not cancel them.
exec postgres -D "$PGDATA" -c hot_standby=on -c hot_standby_feedback=on -c max_connections=200
