#!/bin/sh
# First start: a cluster in $PGDATA owned by postgres, password authentication (scram-sha-256)
# for every connection over the network, the database $POSTGRES_DB owned by $POSTGRES_USER.
# Every start: the server as the postgres user, listening on the container's network.
set -eu
: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_PASSWORD_FILE:?set POSTGRES_PASSWORD_FILE to a file holding the password (a secret)}"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "postgres: initialising $PGDATA for user $POSTGRES_USER, database $POSTGRES_DB"
    chown postgres:postgres "$PGDATA" && chmod 0700 "$PGDATA"
    pwfile=$(mktemp) && cat "$POSTGRES_PASSWORD_FILE" > "$pwfile" && chown postgres "$pwfile"
    as_postgres initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
    if [ "$POSTGRES_DB" != postgres ]; then
        as_postgres createdb --username="$POSTGRES_USER" --owner="$POSTGRES_USER" "$POSTGRES_DB"
    fi
    as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -c listen_addresses='*' "$@"
