#!/bin/sh
# Creates one role and one database per service. Run by the postgres image's entrypoint from
# /docker-entrypoint-initdb.d on the FIRST start only (empty data volume); to change a password
# later use ALTER ROLE and update .env. Each service owns its database and sees no other.
set -e

for service in registry coverage stations training; do
    var="PG_$(echo "$service" | tr '[:lower:]' '[:upper:]')_PASSWORD"
    password="$(printenv "$var" || true)"
    if [ -z "$password" ]; then
        echo "init-databases: $var is not set" >&2
        exit 1
    fi
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        -v service="$service" -v password="$password" <<'SQL'
CREATE ROLE :"service" LOGIN PASSWORD :'password';
CREATE DATABASE :"service" OWNER :"service";
REVOKE ALL ON DATABASE :"service" FROM PUBLIC;
SQL
done
