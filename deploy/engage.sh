#!/bin/sh
# Coalition Engage on many machines, one role per command (README, "Running on a Prefect server"):
#
#   deploy/engage.sh server [OPTIONS]   the Prefect server: API and UI (prefect server start OPTIONS)
#   deploy/engage.sh setup [FILE]       once per release: schema, reference data (FILE, default
#                                       sample_data/reference.json), work pool, deployments
#   deploy/engage.sh worker [OPTIONS]   a process worker: runs the flows (prefect worker start OPTIONS)
#   deploy/engage.sh portal [OPTIONS]   the portal (engage serve OPTIONS), behind an https reverse proxy
#   deploy/engage.sh dispatcher [OPTIONS]  delivers mail as soon as a commit queues it
#                                       (engage dispatch --follow OPTIONS; woken by PostgreSQL NOTIFY)
#
# Settings: ENGAGE_ENV_FILE (default /etc/engage/engage.env, from deploy/engage.env.example) and
# PREFECT_ENV_FILE (default /etc/engage/prefect.env, from deploy/prefect.env.example). Every role but
# the server checks the settings first and refuses to start, naming each bad one.
set -eu
cd "$(dirname "$0")/.."
set -a
. "${ENGAGE_ENV_FILE:-/etc/engage/engage.env}"
. "${PREFECT_ENV_FILE:-/etc/engage/prefect.env}"
set +a
# Flow runs start in this folder, with this virtualenv's python; no setting is stored in a deployment.
export ENGAGE_PROJECT_DIR="$PWD" PATH="$PWD/.venv/bin:$PATH" PREFECT_SERVER_ANALYTICS_ENABLED=false
role=${1:-}
[ $# -gt 0 ] && shift
case "$role" in
  server)
    exec prefect server start "$@" ;;
  setup)
    engage migrate
    engage load-reference "${1:-sample_data/reference.json}"
    prefect work-pool create engage-process --type process --overwrite
    exec prefect --no-prompt deploy --all ;;
  worker)
    engage check-config
    exec prefect worker start --pool engage-process "$@" ;;
  portal)
    engage check-config
    exec engage serve "$@" ;;
  dispatcher)
    engage check-config
    exec engage dispatch --follow "$@" ;;
  *)
    echo "usage: deploy/engage.sh server|setup|worker|portal|dispatcher [OPTIONS]" >&2
    exit 2 ;;
esac
