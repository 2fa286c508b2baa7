#!/usr/bin/env bash
# Makes sure the services the tests need are running: Redis at REDIS_URL (default 127.0.0.1:6379), and
# PostgreSQL when DATABASE_URL points to it. Installs them from Debian's packages on a machine without them,
# and Debian's Chromium (/usr/bin/chromium) for the browser tests.
set -euo pipefail

redis_url="${REDIS_URL:-redis://127.0.0.1:6379/0}"
database_url="${DATABASE_URL:-}"

host_port() {  # URL default_port -> "host port"
  python3 - "$1" "$2" <<'PY'
import sys
from urllib.parse import urlparse
url = urlparse(sys.argv[1])
print(url.hostname or "127.0.0.1", url.port or int(sys.argv[2]))
PY
}

reachable() { timeout 2 bash -c "</dev/tcp/$1/$2" 2>/dev/null; }

wait_for() {  # host port name
  for _ in $(seq 1 30); do reachable "$1" "$2" && return 0; sleep 1; done
  echo "error: $3 did not come up on $1:$2" >&2
  exit 1
}

is_local() { [[ "$1" == "127.0.0.1" || "$1" == "localhost" || "$1" == "::1" ]]; }

apt_install() {
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "error: $* is not installed; install it (e.g. apt-get install $*) and run again" >&2
    exit 1
  fi
  echo "Installing $* from Debian's packages…"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

read -r redis_host redis_port <<<"$(host_port "$redis_url" 6379)"
if ! reachable "$redis_host" "$redis_port"; then
  if ! is_local "$redis_host"; then echo "error: Redis at $redis_url is not reachable" >&2; exit 1; fi
  command -v redis-server >/dev/null || apt_install redis-server
  echo "Starting Redis on $redis_host:$redis_port"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
    --logfile "${TMPDIR:-/tmp}/lookalike-redis.log"
  wait_for "$redis_host" "$redis_port" Redis
fi

if [[ "$database_url" == postgres* ]]; then
  read -r pg_host pg_port <<<"$(host_port "$database_url" 5432)"
  if ! reachable "$pg_host" "$pg_port"; then
    if ! is_local "$pg_host"; then echo "error: PostgreSQL at $pg_host:$pg_port is not reachable" >&2; exit 1; fi
    if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
      apt_install postgresql
      version=$(ls /etc/postgresql | sort -V | tail -n 1)
      # A fresh cluster asks for passwords over TCP; the tests connect as postgres without one, locally only.
      sed -i 's/^\(host\s\+all\s\+all\s\+\(127.0.0.1\/32\|::1\/128\)\s\+\)\S\+/\1trust/' \
        "/etc/postgresql/$version/main/pg_hba.conf"
    fi
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "Starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || pg_ctlcluster "$version" main start
    wait_for "$pg_host" "$pg_port" PostgreSQL
  fi
fi

if [ ! -x /usr/bin/chromium ]; then
  apt_install chromium
fi
