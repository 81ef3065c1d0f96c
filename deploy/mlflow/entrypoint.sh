#!/bin/sh
# mlflow server on $MLFLOW_DB (host:port/database, user $MLFLOW_DB_USER), the password read from
# the file $MLFLOW_DB_PASSWORD_FILE into PGPASSWORD (libpq reads it; nothing else sees it).
# MLflow refuses requests whose Host header it does not know (DNS-rebinding protection):
# MLFLOW_ALLOWED_HOSTS names the stack's own (the services call http://mlflow:5000) and loopback.
set -eu
: "${MLFLOW_DB:=postgres:5432/mlflow}" "${MLFLOW_DB_USER:=mlflow}"
: "${MLFLOW_ALLOWED_HOSTS:=mlflow,mlflow:5000,localhost,localhost:*,127.0.0.1,127.0.0.1:*}"
: "${MLFLOW_DB_PASSWORD_FILE:?set MLFLOW_DB_PASSWORD_FILE to a file holding the database password (a secret)}"
PGPASSWORD=$(cat "$MLFLOW_DB_PASSWORD_FILE")
export PGPASSWORD
exec mlflow server --host 0.0.0.0 --port 5000 --workers 1 \
    --backend-store-uri "postgresql+psycopg2://$MLFLOW_DB_USER@$MLFLOW_DB" \
    --allowed-hosts "$MLFLOW_ALLOWED_HOSTS" --serve-artifacts --artifacts-destination /artifacts "$@"
