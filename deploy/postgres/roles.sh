#!/bin/sh
# Run by the postgres image once, when it initialises an empty data volume: the two roles relops'
# migration grants to, with the passwords .env gives them (read by psql from the environment, never
# on a command line). The migration keeps roles that exist.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
\getenv worker_password PG_WORKER_PASSWORD
\getenv web_password PG_WEB_PASSWORD
CREATE ROLE relops_worker LOGIN PASSWORD :'worker_password';
CREATE ROLE relops_web LOGIN PASSWORD :'web_password';
SQL
