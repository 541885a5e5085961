#!/usr/bin/env bash
# A local Label Studio server for tests and CI, on loopback only, in its own venv.
#
#   scripts/label_studio.sh start   # install (once) and start; waits until the API answers
#   scripts/label_studio.sh stop    # stop the server and its children (idempotent)
#   scripts/label_studio.sh env     # print LABEL_STUDIO_URL=, LABEL_STUDIO_API_KEY= (and the document root)
#
# Then: `set -a; . "${LS_HOME:-.label-studio}/env"; set +a`.
# Settings (environment): LS_HOME (default $REPO/.label-studio), LS_PORT (8089), LS_DOCUMENT_ROOT (/),
# LS_VERSION (1.23.2), LS_TIMEOUT (seconds to wait for start, 300), LS_PYTHON (python3), LS_USERNAME
# (ci@example.com) and LS_PASSWORD (the token) for the web UI's login.
# LS lives in a venv of its own: its SDK pins an opencv that clashes with the project's.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LS_HOME="${LS_HOME:-$REPO/.label-studio}"
LS_PORT="${LS_PORT:-8089}"
LS_VERSION="${LS_VERSION:-1.23.2}"
LS_TIMEOUT="${LS_TIMEOUT:-300}"
LS_PYTHON="${LS_PYTHON:-python3}"
LS_DOCUMENT_ROOT="${LS_DOCUMENT_ROOT:-/}"
VENV="$LS_HOME/venv"
PID_FILE="$LS_HOME/server.pid"
LOG="$LS_HOME/server.log"
ENV_FILE="$LS_HOME/env"
TOKEN_FILE="$LS_HOME/token"
SECRET_FILE="$LS_HOME/secret_key"
URL="http://127.0.0.1:$LS_PORT"

log() { echo "label_studio.sh: $*" >&2; }

running_pid() {
  # The server's pid if the pid file names a live label-studio process (not a reused pid), else nothing.
  [[ -f "$PID_FILE" ]] || return 1
  local pid
  pid="$(cat "$PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  ps -o args= -p "$pid" 2>/dev/null | grep -q "label-studio" || return 1
  echo "$pid"
}

install_ls() {
  local marker="$VENV/.installed-label-studio-$LS_VERSION" # written only after a complete install
  if [[ -f "$marker" && -x "$VENV/bin/label-studio" ]]; then
    return
  fi
  log "installing label-studio==$LS_VERSION into $VENV (once; a few minutes)"
  local t0=$SECONDS
  "$LS_PYTHON" -m venv "$VENV"
  # (grep drops pip's warnings about find-links folders that this machine's pip config names but lacks)
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "label-studio==$LS_VERSION" 2>&1 |
    { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
  touch "$marker"
  log "installed in $((SECONDS - t0)) s ($(du -sh "$VENV" | cut -f1))"
}

secret() {
  # $1: file; a random hex string of $2 bytes, made once and kept with the data.
  if [[ ! -s "$1" ]]; then
    (umask 077 && "$LS_PYTHON" -c "import secrets, sys; print(secrets.token_hex(int(sys.argv[1])))" "$2" >"$1")
  fi
  cat "$1"
}

token() { secret "$TOKEN_FILE" 20; } # 40 hex digits: the legacy API token

token_works() {
  curl -fsS -o /dev/null --max-time 10 -H "Authorization: Token $1" "$URL/api/current-user/whoami"
}

start() {
  mkdir -p "$LS_HOME/data"
  local tok
  tok="$(token)"
  if pid="$(running_pid)"; then
    if token_works "$tok"; then
      log "already running (pid $pid) at $URL"
      write_env "$tok"
      return
    fi
    log "pid $pid is alive but $URL does not answer with our token; restarting"
    stop
  fi
  if curl -fsS -o /dev/null --max-time 5 "$URL/health" 2>/dev/null; then
    log "something else already answers at $URL; set LS_PORT to a free port"
    exit 1
  fi
  install_ls

  # Loopback only; no telemetry (COLLECT_ANALYTICS), no PyPI version check, no Sentry (backend or
  # frontend), feature flags offline; legacy token auth. A fixed SECRET_KEY keeps sessions across restarts.
  # GIT_CEILING_DIRECTORIES: LS reports the git commit of the folder it is installed in; keep it out of
  # this repository. setsid: the server leads its own process group, so `stop` can end it with its children.
  # version_.py is LS's cache of that git info; an old one may name this repository's commit.
  rm -f "$VENV"/lib/python3*/site-packages/label_studio/core/version_.py
  log "starting Label Studio at $URL (log: $LOG)"
  (
    cd "$LS_HOME"
    exec env \
      LABEL_STUDIO_BASE_DATA_DIR="$LS_HOME/data" \
      LATEST_VERSION_CHECK=false \
      SENTRY_DSN= FRONTEND_SENTRY_DSN= SENTRY_RATE=0 FRONTEND_SENTRY_RATE=0 \
      COLLECT_ANALYTICS=false \
      FEATURE_FLAGS_OFFLINE=true \
      SECRET_KEY="$(secret "$SECRET_FILE" 32)" \
      GIT_CEILING_DIRECTORIES="$LS_HOME" \
      LABEL_STUDIO_USERNAME="${LS_USERNAME:-ci@example.com}" \
      LABEL_STUDIO_PASSWORD="${LS_PASSWORD:-$tok}" \
      LABEL_STUDIO_USER_TOKEN="$tok" \
      LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true \
      LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true \
      LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT="$LS_DOCUMENT_ROOT" \
      LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK=true \
      DJANGO_DB=sqlite \
      setsid "$VENV/bin/label-studio" start --no-browser --internal-host 127.0.0.1 -p "$LS_PORT" \
      </dev/null >"$LOG" 2>&1
  ) &
  echo $! >"$PID_FILE"

  local deadline=$((SECONDS + LS_TIMEOUT))
  until curl -fsS -o /dev/null --max-time 5 "$URL/health" 2>/dev/null && token_works "$tok" 2>/dev/null; do
    # kill -0, not running_pid: until the subshell has exec'd the server, its command line is this script's
    if ! kill -0 "$(cat "$PID_FILE")" 2>/dev/null; then
      log "the server exited during start; last lines of $LOG:"
      tail -n 40 "$LOG" >&2
      rm -f "$PID_FILE"
      exit 1
    fi
    if ((SECONDS > deadline)); then
      log "no answer from $URL with the token after ${LS_TIMEOUT}s; last lines of $LOG:"
      tail -n 40 "$LOG" >&2
      stop
      exit 1
    fi
    sleep 2
  done
  write_env "$tok"
  log "ready at $URL (pid $(cat "$PID_FILE"))"
}

write_env() {
  printf 'LABEL_STUDIO_URL=%s\nLABEL_STUDIO_API_KEY=%s\nLABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=%s\n' \
    "$URL" "$1" "$LS_DOCUMENT_ROOT" >"$ENV_FILE"
  cat "$ENV_FILE"
}

stop() {
  local pid
  if ! pid="$(running_pid)"; then
    rm -f "$PID_FILE"
    log "not running"
    return 0
  fi
  # The pid leads its own process group (setsid): signal the whole group.
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 30); do
    kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  # Whatever of the group is still alive (the leader or a child) gets SIGKILL.
  if kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PID_FILE"
  log "stopped (pid $pid)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env)
    if [[ -f "$ENV_FILE" ]]; then cat "$ENV_FILE"; else log "no $ENV_FILE: run start first" && exit 1; fi
    ;;
  *)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
