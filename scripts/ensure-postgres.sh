#!/usr/bin/env bash
# Make sure Debian's PostgreSQL server binaries exist (the tests start their own server with them).
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" > /dev/null; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get > /dev/null; then
  echo "installing PostgreSQL server binaries (Debian package 'postgresql')"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postgresql > /dev/null
  # The package may start a cluster; the tests run their own server, so stop it.
  if command -v service > /dev/null; then service postgresql stop > /dev/null 2>&1 || true; fi
  exit 0
fi
echo "PostgreSQL server binaries are missing: install them with 'sudo apt-get install postgresql'" >&2
exit 1
