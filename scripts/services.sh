#!/usr/bin/env bash
# Makes sure PostgreSQL and Redis answer on loopback for the tests of the shared (multi-replica) mode:
# starts them when installed but stopped, installs them from Debian's packages when missing (as root).
# Prints the INTONE_TEST_* variables to use, for `eval`.
set -euo pipefail

if ! command -v redis-server >/dev/null || ! command -v pg_ctlcluster >/dev/null; then
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >&2
fi

if ! redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; then
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/intone-ci.log >&2
fi

if ! pg_isready -q -h 127.0.0.1; then
  for version in /etc/postgresql/*; do
    pg_ctlcluster --skip-systemctl-redirect "$(basename "$version")" main start >&2 || true
  done
fi

for _ in $(seq 50); do
  pg_isready -q -h 127.0.0.1 && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break
  sleep 0.2
done

# A machine set up for these tests trusts local connections; a fresh Debian install asks for a password,
# so give the postgres role one it can be reached with.
url="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
if ! psql -h 127.0.0.1 -U postgres -c "select 1" postgres >/dev/null 2>&1; then
  su postgres -c "psql -q -c \"ALTER USER postgres PASSWORD 'intone-tests'\"" >&2
  url="postgresql+psycopg://postgres:intone-tests@127.0.0.1:5432/postgres"
fi
echo "export INTONE_TEST_POSTGRES_URL=$url INTONE_TEST_REDIS_URL=redis://127.0.0.1:6379/0"
