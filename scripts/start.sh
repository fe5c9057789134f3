#!/usr/bin/env bash
# npm start: the whole platform on this machine. Ensures MariaDB and NATS, builds dist/, then runs
# users-demo, mailcatcher and notifyd (all roles; it migrates at start) as children of this script.
# Ctrl-C or SIGTERM is passed on to every child; if one child exits, the others are stopped and this
# script exits non-zero, so a half-running platform never looks healthy.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[start] %s\n' "$*"; }

bash scripts/ensure-services.sh
bash scripts/build.sh

# A stable dev API key, so curl commands and the admin keep working across restarts.
mkdir -p .run
chmod 700 .run
if [[ ! -s .run/dev-api-key ]]; then
  (
    umask 077
    if command -v openssl >/dev/null 2>&1; then
      openssl rand -hex 24
    else
      node -e 'console.log(require("node:crypto").randomBytes(24).toString("hex"))'
    fi >.run/dev-api-key
  )
fi
API_KEY=$(<.run/dev-api-key)
export NOTIFY_BOOTSTRAP_API_KEY=$API_KEY
# A dev HS256 secret for the cinema's user JWTs, so the websocket gateway and InboxService work locally
# (docs/websocket.md shows how to sign a token with it). Production sets its own secret or a JWKS URL.
if [[ -z "${NOTIFY_JWT_SECRET:-}${NOTIFY_JWT_JWKS_URL:-}" ]]; then
  if [[ ! -s .run/dev-jwt-secret ]]; then
    (umask 077; node -e 'console.log(require("node:crypto").randomBytes(32).toString("hex"))' >.run/dev-jwt-secret)
  fi
  NOTIFY_JWT_SECRET=$(<.run/dev-jwt-secret)
  export NOTIFY_JWT_SECRET
fi

export NOTIFY_DB_URL=${NOTIFY_DB_URL:-mysql://root@${NOTIFY_DB_HOST:-127.0.0.1}:${NOTIFY_DB_PORT:-3306}/notify}
export NOTIFY_NATS_URL=${NOTIFY_NATS_URL:-nats://127.0.0.1:4222}
export NOTIFY_GRPC_ADDR=${NOTIFY_GRPC_ADDR:-127.0.0.1:50051}
export NOTIFY_HTTP_ADDR=${NOTIFY_HTTP_ADDR:-127.0.0.1:8080}
export NOTIFY_PUBLIC_URL=${NOTIFY_PUBLIC_URL:-http://${NOTIFY_HTTP_ADDR}}
export NOTIFY_SMTP_URL=${NOTIFY_SMTP_URL:-smtp://127.0.0.1:1025}
export NOTIFY_USERS_ADDR=${NOTIFY_USERS_ADDR:-127.0.0.1:50061}
# users-demo listens where notifyd looks for the user service, with its own database on the same server.
export USERS_DEMO_ADDR=${USERS_DEMO_ADDR:-$NOTIFY_USERS_ADDR}
export USERS_DEMO_DB_URL=${USERS_DEMO_DB_URL:-mysql://root@${NOTIFY_DB_HOST:-127.0.0.1}:${NOTIFY_DB_PORT:-3306}/users_demo}
export MAILCATCHER_SMTP_ADDR=${MAILCATCHER_SMTP_ADDR:-127.0.0.1:1025}
export MAILCATCHER_WEB_ADDR=${MAILCATCHER_WEB_ADDR:-127.0.0.1:8025}
MAILCATCHER_WEB=http://${MAILCATCHER_WEB_ADDR}

declare -A child_name=()
children=()
start_child() { # name, script, args...
  local name=$1
  shift
  node "$@" &
  child_name[$!]=$name
  children+=("$!")
  say "started ${name} (pid $!)"
}

alive_children() {
  local pid
  for pid in "${children[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then printf '%s\n' "$pid"; fi
  done
}

# Stops the children in reverse start order (notifyd first, so it can finish in-flight sends while the
# mail sink and user service are still up), each with $1 and up to 30 s to exit (notifyd drains within
# NOTIFY_SHUTDOWN_GRACE), SIGKILLs what is left, and exits with $2.
stop_all() {
  local sig=$1 code=$2 i pid deadline
  trap '' INT TERM
  for ((i = ${#children[@]} - 1; i >= 0; i--)); do
    pid=${children[i]}
    kill -0 "$pid" 2>/dev/null || continue
    kill -s "$sig" "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      say "${child_name[$pid]} (pid ${pid}) did not stop in 30 s: SIGKILL"
      kill -s KILL "$pid" 2>/dev/null || true
    fi
  done
  wait 2>/dev/null || true
  exit "$code"
}
# Children always get SIGTERM, the stop signal every service handles. On Ctrl-C the terminal has already
# sent them SIGINT too (they share this script's process group); their shutdown handlers run once.
trap 'say "SIGINT: stopping"; stop_all TERM 130' INT
trap 'say "SIGTERM: stopping"; stop_all TERM 143' TERM

start_child users-demo dist/cmd/users-demo/main.js
start_child mailcatcher dist/cmd/mailcatcher/main.js
start_child notifyd dist/cmd/notifyd/main.js

# Wait for notifyd to answer before printing the banner, but give up on a child that died.
ready=no
for _ in $(seq 1 120); do
  if [[ $(alive_children | wc -l) -lt ${#children[@]} ]]; then break; fi
  if curl -fs -m 1 "http://${NOTIFY_HTTP_ADDR}/readyz" >/dev/null 2>&1; then
    ready=yes
    break
  fi
  sleep 0.5
done

if [[ $(alive_children | wc -l) -eq ${#children[@]} ]]; then
  [[ $ready == yes ]] || say "notifyd has not answered /readyz within 60 s; it may still be starting."
  cat <<EOF

  ==================== cinema notification platform ====================
  gRPC (h2c):                                      ${NOTIFY_GRPC_ADDR}
      npx buf curl --protocol grpc --http2-prior-knowledge --list-services http://${NOTIFY_GRPC_ADDR}
  HTTP (Connect, gRPC-Web, links, websocket):      http://${NOTIFY_HTTP_ADDR}
  admin panel:                                     http://${NOTIFY_HTTP_ADDR}/admin/
  mailcatcher (caught mail):                       ${MAILCATCHER_WEB}  (SMTP ${NOTIFY_SMTP_URL#smtp://})
  users-demo (UserDirectory, gRPC):                ${NOTIFY_USERS_ADDR}
  API key (dev, kept in .run/dev-api-key):         ${API_KEY}

  Send a notification (the variables each template needs are in README.md):
    KEY=\$(cat .run/dev-api-key)
    curl -s http://${NOTIFY_HTTP_ADDR}/notify.v1.NotificationService/Send -H 'content-type: application/json' -H "authorization: Bearer \$KEY" -d '{"idempotencyKey":"hello-1","template":"welcome","recipients":[{"email":"you@example.test"}],"data":{}}'

  Ctrl-C stops everything.
  ======================================================================

EOF
fi

# Block until the first child exits (or a signal arrives: the traps above take over).
while true; do
  exited_pid=""
  set +e
  wait -n -p exited_pid "${children[@]}"
  status=$?
  set -e
  if [[ -n $exited_pid ]]; then
    say "${child_name[$exited_pid]} (pid ${exited_pid}) exited with status ${status}; stopping the others"
    stop_all TERM $((status == 0 ? 1 : status))
  fi
done
