#!/usr/bin/env bash
# A screenshot of Label Studio's data manager sorted by uncertainty, for the README.
#
#   scripts/label_studio_screenshot.sh --demo      # build the "autolabel demo" project, then screenshot it
#   scripts/label_studio_screenshot.sh [ARGS...]   # screenshot only; ARGS go to label_studio_screenshot.py
#                                                  # (--project TITLE, --out PNG, --url, --username, --password)
#
# Needs a running server (scripts/label_studio.sh start). Installs, once, Debian's chromium (apt) and the
# playwright package into LS's venv (never a browser download). --demo writes 12 small images and their
# auto-label records (scripts/label_studio_demo_data.py, no model), picks 10 with autolabel.select and
# pushes them with autolabel.sync, with the project venv; rerunning reuses the data and pushes nothing new.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LS_HOME="${LS_HOME:-$REPO/.label-studio}"
LS_PY="$LS_HOME/venv/bin/python"
PY="${PYTHON:-$REPO/.venv/bin/python}" # the project's venv: autolabel
DEMO="$LS_HOME/demo"
cd "$REPO"
log() { echo "label_studio_screenshot.sh: $*" >&2; }

[[ -f "$LS_HOME/env" ]] || { log "no $LS_HOME/env: run scripts/label_studio.sh start first"; exit 1; }
set -a
. "$LS_HOME/env"
set +a

if [[ ! -x /usr/bin/chromium ]]; then
  log "installing Debian's chromium"
  apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null
fi
if ! "$LS_PY" -c "import playwright" 2>/dev/null; then
  log "installing playwright into $LS_HOME/venv"
  "$LS_PY" -m pip install -q --disable-pip-version-check playwright
fi

args=()
for a in "$@"; do
  if [[ "$a" == "--demo" ]]; then demo=1; else args+=("$a"); fi
done
if [[ -n "${demo:-}" ]]; then
  [[ -d "$DEMO/out" ]] || "$PY" scripts/label_studio_demo_data.py "$DEMO" >/dev/null
  "$PY" -m autolabel.select labels="$DEMO/out" n=10 output="$DEMO/batch" hydra.run.dir="$DEMO/runs/select" >/dev/null
  "$PY" -m autolabel.sync action=push batch="$DEMO/batch" project="autolabel demo" hydra.run.dir="$DEMO/runs/sync" >/dev/null
  args=(--project "autolabel demo" "${args[@]}")
fi
exec "$LS_PY" scripts/label_studio_screenshot.py "${args[@]}"
