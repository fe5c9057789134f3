#!/usr/bin/env bash
# Makes this checkout ready to run and test: Node >= 20, node_modules in step with package-lock.json,
# MariaDB and NATS JetStream reachable. Idempotent: when everything is already fine it only checks.
# It starts the local MariaDB/NATS the same way this machine does when they are down, but never stops
# or restarts a running service (others may share it).
#
# Where the platform looks:
#   MariaDB: NOTIFY_DB_URL, else mysql://root@${NOTIFY_DB_HOST:-127.0.0.1}:${NOTIFY_DB_PORT:-3306}/
#   NATS:    NOTIFY_NATS_URL, else nats://127.0.0.1:4222
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[ensure-services] %s\n' "$*"; }
die() {
  printf '[ensure-services] ERROR: %s\n' "$@" >&2
  exit 1
}

SERVICE_WAIT_SECONDS=30

# ---------------------------------------------------------------------------------------------- Node
if ! command -v node >/dev/null 2>&1; then
  die "Node.js >= 20 is not installed." "Install it, e.g.: apt-get install -y nodejs npm"
fi
node_version=$(node -p 'process.versions.node')
if ((${node_version%%.*} < 20)); then
  die "Node.js >= 20 is required, found ${node_version}."
fi

# Several people (and CI) may run this at once in one tree: serialise installs and service starts.
mkdir -p .run
exec 9>.run/ensure-services.lock
if command -v flock >/dev/null 2>&1; then flock 9; fi

# ------------------------------------------------------------------------------------- node_modules
# npm rewrites node_modules/.package-lock.json on every install; a package-lock.json newer than it
# means someone added or bumped a dependency since the last install here.
if [[ ! -d node_modules ]]; then
  if [[ -f package-lock.json ]]; then
    log "node_modules missing: npm ci"
    # npm 11 rejects in ci a lock that its own install wrote when optional per-platform packages
    # (@bufbuild/buf-darwin-*...) are missing from it; install from the same lock instead.
    if ! npm ci --no-audit --no-fund; then
      log "npm ci refused the lock file; falling back to npm install"
      npm install --no-audit --no-fund
    fi
  else
    log "node_modules missing: npm install"
    npm install --no-audit --no-fund
  fi
  touch node_modules/.package-lock.json
elif [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ||
  package.json -nt node_modules/.package-lock.json ]]; then
  # npm install, not npm ci: ci deletes node_modules, which would break processes running from it.
  log "package.json/package-lock.json changed since the last install: npm install"
  npm install --no-audit --no-fund
  touch node_modules/.package-lock.json
fi

# ---------------------------------------------------------------------------------------- services
# host and port of the first server in a URL such as mysql://u:p@h:3306/db or nats://h:4222,nats://...
url_host() {
  local rest=${1#*://}
  rest=${rest%%,*}
  rest=${rest%%/*}
  rest=${rest##*@}
  printf '%s' "${rest%%:*}"
}
url_port() {
  local rest=${1#*://}
  rest=${rest%%,*}
  rest=${rest%%/*}
  rest=${rest##*@}
  if [[ $rest == *:* ]]; then printf '%s' "${rest##*:}"; else printf '%s' "$2"; fi
}
is_local() { [[ $1 == 127.0.0.1 || $1 == localhost ]]; }

DB_URL=${NOTIFY_DB_URL:-mysql://root@${NOTIFY_DB_HOST:-127.0.0.1}:${NOTIFY_DB_PORT:-3306}/}
NATS_URL=${NOTIFY_NATS_URL:-nats://127.0.0.1:4222}
db_host=$(url_host "$DB_URL")
db_port=$(url_port "$DB_URL" 3306)
nats_host=$(url_host "$NATS_URL")
nats_port=$(url_port "$NATS_URL" 4222)

check_out=""
check_rc=0
check_db() { check_out=$(node scripts/check-services.mjs db "$DB_URL" 2>&1); }
check_nats() {
  # With the monitoring port on, /jsz answers without starting a Node process.
  if [[ $NATS_URL == "nats://127.0.0.1:4222" ]] && command -v curl >/dev/null 2>&1; then
    local jsz
    if jsz=$(curl -s -m 2 http://127.0.0.1:8222/jsz 2>/dev/null) && [[ $jsz == *'"config"'* ]] &&
      [[ $jsz != *'"disabled": true'* && $jsz != *'"disabled":true'* ]]; then
      check_out="nats-server with JetStream (monitoring /jsz)"
      return 0
    fi
  fi
  check_rc=0
  check_out=$(node scripts/check-services.mjs nats "$NATS_URL" 2>&1) || check_rc=$?
  return "$check_rc"
}

wait_for() { # $1 check function
  local deadline=$((SECONDS + SERVICE_WAIT_SECONDS))
  while ((SECONDS < deadline)); do
    if "$1"; then return 0; fi
    sleep 0.5
  done
  "$1"
}

find_bin() { # absolute path of an executable daemon binary, preferring the Debian location
  local p
  if [[ -x /usr/sbin/$1 ]]; then
    printf '%s' "/usr/sbin/$1"
    return
  fi
  # command -v may answer with a non-executable file when nothing better is on PATH.
  p=$(command -v "$1" || true)
  if [[ -n $p && -x $p ]]; then printf '%s' "$p"; fi
}

point_elsewhere_hint() {
  cat >&2 <<EOF
[ensure-services]   Or point the platform at servers that run elsewhere:
[ensure-services]     export NOTIFY_DB_URL=mysql://USER:PASSWORD@HOST:3306/notify
[ensure-services]     export NOTIFY_NATS_URL=nats://HOST:4222      (JetStream must be enabled: nats-server -js)
EOF
}

ensure_mariadb() {
  if check_db; then
    log "MariaDB ok at ${db_host}:${db_port}: ${check_out}"
    return 0
  fi
  log "MariaDB not reachable at ${db_host}:${db_port} (${check_out##*$'\n'})"
  if ! is_local "$db_host" || [[ $db_port != 3306 ]]; then
    die "MariaDB at ${db_host}:${db_port} is down and is not the local default; start it yourself."
  fi
  local bin
  bin=$(find_bin mariadbd)
  if [[ -z $bin ]]; then
    printf '[ensure-services] ERROR: mariadbd is not installed. Install it with:\n' >&2
    printf '[ensure-services]     apt-get update && apt-get install -y mariadb-server\n' >&2
    point_elsewhere_hint
    exit 1
  fi
  if ((EUID != 0)); then
    printf '[ensure-services] ERROR: MariaDB is down; start it as root:\n' >&2
    printf '[ensure-services]     sudo start-stop-daemon --start --oknodo --background --exec %s\n' "$bin" >&2
    point_elsewhere_hint
    exit 1
  fi
  # /run is a tmpfs: after a reboot the socket directory from the Debian package is gone.
  if [[ ! -d /run/mysqld ]] && id mysql >/dev/null 2>&1; then
    install -d -o mysql -g mysql -m 755 /run/mysqld
  fi
  log "starting MariaDB: start-stop-daemon --start --oknodo --background --exec ${bin}"
  start-stop-daemon --start --oknodo --background --exec "$bin"
  if ! wait_for check_db; then
    die "MariaDB did not come up within ${SERVICE_WAIT_SECONDS}s: ${check_out}" \
      "Look at: journalctl -u mariadb, /var/log/mysql/, or run '${bin}' in a terminal to see why."
  fi
  log "MariaDB started: ${check_out}"
}

ensure_nats() {
  if check_nats; then
    log "NATS ok at ${nats_host}:${nats_port}: ${check_out}"
    return 0
  fi
  if ((check_rc == 2)); then
    die "NATS at ${NATS_URL} is running without JetStream (${check_out})." \
      "Run it with -js (and a store dir, -sd DIR), or set NOTIFY_NATS_URL to a server with JetStream."
  fi
  log "NATS not reachable at ${NATS_URL} (${check_out##*$'\n'})"
  if ! is_local "$nats_host" || [[ $nats_port != 4222 || $NATS_URL == *,* ]]; then
    die "NATS at ${NATS_URL} is down and is not the local default; start it yourself."
  fi
  local bin
  bin=$(find_bin nats-server)
  if [[ -z $bin ]]; then
    printf '[ensure-services] ERROR: nats-server is not installed. Install it with:\n' >&2
    printf '[ensure-services]     apt-get update && apt-get install -y nats-server\n' >&2
    point_elsewhere_hint
    exit 1
  fi
  local args=(-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log)
  if ((EUID != 0)); then
    printf '[ensure-services] ERROR: NATS is down; start it as root:\n' >&2
    printf '[ensure-services]     sudo start-stop-daemon --start --oknodo --background --exec %s -- %s\n' \
      "$bin" "${args[*]}" >&2
    point_elsewhere_hint
    exit 1
  fi
  install -d -m 750 /var/lib/nats-server
  log "starting NATS: start-stop-daemon --start --oknodo --background --exec ${bin} -- ${args[*]}"
  start-stop-daemon --start --oknodo --background --exec "$bin" -- "${args[@]}"
  if ! wait_for check_nats; then
    die "NATS did not come up within ${SERVICE_WAIT_SECONDS}s: ${check_out}" \
      "Look at /var/log/nats-server.log."
  fi
  log "NATS started: ${check_out}"
}

ensure_mariadb
ensure_nats
log "ready"
