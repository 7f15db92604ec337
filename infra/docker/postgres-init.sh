#!/bin/sh
# First start of the PostgreSQL volume only: the service's runtime role, as a LOGIN role with
# a password. The migrations (run as the owner, POSTGRES_USER) grant it what it needs and
# nothing more; they create it NOLOGIN themselves when it is missing.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v role="$TRIAL_LEDGER_RUNTIME_ROLE" -v password="$TRIAL_LEDGER_APP_DB_PASSWORD" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
SQL
