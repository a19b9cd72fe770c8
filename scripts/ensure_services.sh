#!/usr/bin/env bash
# Installs (apt) and starts what the test suite talks to: PostgreSQL and Redis, plus the
# system tools the tests use. Safe to run again: it only does what is missing.
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=0
apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "ensure_services: installing ${missing[*]}"
  if [ "$APT_UPDATED" -eq 0 ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# chromium and its CJK fonts: the browser tests (tests/e2e) drive Debian's Chromium.
# nginx-light and docker-compose: tests/e2e/test_reverse_proxy.py runs nginx with
# deploy/nginx.conf in front of gunicorn and checks docker-compose.yml with `config`.
apt_install postgresql redis-server gettext chromium fonts-noto-cjk nginx-light docker-compose

PGHOST=127.0.0.1; PGPORT=5432
if ! pg_isready -q -h "$PGHOST" -p "$PGPORT"; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  echo "ensure_services: starting PostgreSQL $version"
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root pg_ctlcluster "$version" main start
  for _ in $(seq 1 30); do pg_isready -q -h "$PGHOST" -p "$PGPORT" && break; sleep 1; done
fi
# The test URL carries the password 'postgres': ignored under trust auth, needed under scram.
if ! PGPASSWORD=postgres psql -h "$PGHOST" -p "$PGPORT" -U postgres -d postgres -tAc "SELECT 1" >/dev/null 2>&1; then
  echo "ensure_services: setting a local password for the postgres role"
  as_root runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD 'postgres'"
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  echo "ensure_services: starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && break; sleep 1; done
fi
echo "ensure_services: PostgreSQL and Redis are up"
