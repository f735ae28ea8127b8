#!/usr/bin/env bash
# Make sure PostgreSQL and Redis are up on 127.0.0.1: start them when installed and down, and on a fresh
# Debian/Ubuntu machine install them with apt-get first (as `make test` does for Chromium). SERVICES_NO_INSTALL=1
# never installs. Says clearly what to do when neither works.
set -u
PG_CONF_DIR=${PG_CONF_DIR:-/etc/postgresql}  # Debian's cluster configuration (overridable for the script's tests)
pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
pg_installed() { command -v pg_ctlcluster >/dev/null && [ -n "$(ls "$PG_CONF_DIR" 2>/dev/null)" ]; }
pg_version() { ls "$PG_CONF_DIR" | sort -V | tail -n1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi
}

apt_install() {
  [ -z "${SERVICES_NO_INSTALL:-}" ] && command -v apt-get >/dev/null || return 1
  echo "installing $* with apt-get"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null 2>&1 || {
    as_root apt-get update -q >/dev/null && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
  }
}

trust_local_connections() {
  # Only for a cluster installed just now: development connects as `postgres` over 127.0.0.1 without a password
  # (DATABASE_URL's default), which Debian's scram-sha-256 default refuses. Lines first, so they win.
  local hba
  hba="$PG_CONF_DIR/$(pg_version)/main/pg_hba.conf"
  grep -qE '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba" && return 0
  as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
}

if ! pg_up; then
  installed_now=""
  if ! pg_installed && apt_install postgresql; then installed_now=1; fi
  if pg_installed; then
    [ -n "$installed_now" ] && trust_local_connections
    echo "starting PostgreSQL"
    as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main start 2>/dev/null ||
      as_root pg_ctlcluster --skip-systemctl-redirect "$(pg_version)" main reload 2>/dev/null || true
    for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  fi
  pg_up || { echo "ERROR: PostgreSQL is not running on 127.0.0.1:5432 and could not be installed or started: install PostgreSQL 15+ (apt-get install postgresql) or set DATABASE_URL to a server" >&2; exit 1; }
fi
if ! redis_up; then
  command -v redis-server >/dev/null || apt_install redis-server || true
  if command -v redis-server >/dev/null; then
    redis_up || { echo "starting Redis"; redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no; }
    for _ in $(seq 1 30); do redis_up && break; sleep 0.5; done
  fi
  redis_up || { echo "ERROR: Redis is not running on 127.0.0.1:6379 and could not be installed or started: install it (apt-get install redis-server) or set CELERY_BROKER_URL and CACHE_URL to a server" >&2; exit 1; }
fi
