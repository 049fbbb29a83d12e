#!/usr/bin/env bash
# The hub's store: its own database, owned by its own login role, beside Airflow's metadata
# database on the same server, the DAGs' runtime role, plus the consumer roles of SIAPP NV:
#   $STORE_DB_USER      the owner: `siapp-siasn store migrate` and `store grant` run as it
#   $STORE_RUNTIME_USER the DAGs' login (connection siapp_siasn_store): owns nothing;
#                       `siapp-siasn store grant` gives it DML on the hub's tables, no DDL
#   siapp_nv_reader   NOLOGIN group role; `siapp-siasn store migrate` (migration 0002) grants it
#                     SELECT on the consumer views (v_asn_current, v_asn_family, v_referensi,
#                     v_asn_history) and nothing else
#   $STORE_READER_USER  SIAPP NV's login, a member of siapp_nv_reader
# The official postgres image runs this once, on an empty data directory, as the superuser
# ($POSTGRES_USER on $POSTGRES_DB). It is idempotent, so it may also be run by hand (psql's
# PG* variables select the server).
set -euo pipefail

: "${STORE_DB_PASSWORD:?STORE_DB_PASSWORD is required (the store owner's password)}"
: "${STORE_READER_PASSWORD:?STORE_READER_PASSWORD is required (SIAPP NV reader's password)}"
: "${STORE_RUNTIME_PASSWORD:?STORE_RUNTIME_PASSWORD is required (password of the runtime role the DAGs log in as)}"

psql -v ON_ERROR_STOP=1 --no-psqlrc --username "${POSTGRES_USER:-postgres}" \
    --dbname "${POSTGRES_DB:-postgres}" \
    -v store_db="${STORE_DB_NAME:-siapp_siasn}" \
    -v owner="${STORE_DB_USER:-siapp_siasn}" \
    -v owner_password="${STORE_DB_PASSWORD}" \
    -v reader="${STORE_READER_USER:-siapp_nv}" \
    -v reader_password="${STORE_READER_PASSWORD}" \
    -v runtime="${STORE_RUNTIME_USER:-siapp_siasn_runtime}" \
    -v runtime_password="${STORE_RUNTIME_PASSWORD}" \
    -v metadata_db="${POSTGRES_DB:-postgres}" <<'SQL'
-- roles (created once; passwords set every time)
SELECT format('CREATE ROLE %I LOGIN', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'owner') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L',
              :'owner', :'owner_password') \gexec
SELECT 'CREATE ROLE siapp_nv_reader NOLOGIN'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'siapp_nv_reader') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'reader')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'reader') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L',
              :'reader', :'reader_password') \gexec
SELECT format('GRANT siapp_nv_reader TO %I', :'reader') \gexec
SELECT format('CREATE ROLE %I LOGIN', :'runtime')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'runtime') \gexec
SELECT format('ALTER ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD %L',
              :'runtime', :'runtime_password') \gexec

-- the store database, owned by the store role; nobody else connects but the readers
SELECT format('CREATE DATABASE %I OWNER %I', :'store_db', :'owner')
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'store_db') \gexec
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'store_db') \gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO siapp_nv_reader', :'store_db') \gexec
-- the runtime role connects and stages batches in TEMP tables; its table rights come from
-- `siapp-siasn store grant`, run as the owner after every `store migrate`
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', :'store_db', :'runtime') \gexec
-- and the store roles stay out of Airflow's metadata database
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', :'metadata_db') \gexec
SQL
