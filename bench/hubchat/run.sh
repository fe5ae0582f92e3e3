#!/usr/bin/env bash
# HubChat benchmarks, one part at a time:
#
#   bash bench/hubchat/run.sh planner     # the built-in planner over a 10,000-agent catalog (about a minute)
#   bash bench/hubchat/run.sh chain       # a chained request end to end (chain.sh)
#   ROUNDS=500 AGENTS=20000 bash bench/hubchat/run.sh planner
#
# Each part drops and recreates its own database and stops whatever it started (trap on EXIT).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PART="${1:-}"

usage() { echo "usage: bash bench/hubchat/run.sh {planner|chain}" >&2; }

case "$PART" in
  chain)
    shift
    exec bash "$HERE/chain.sh" "$@"
    ;;
  planner) ;;
  *) usage; exit 2 ;;
esac

# --- planner: PostgreSQL (its own database) and Redis (the shared cache the vocabulary lives in) -----
VENV="${VENV:-$REPO/.venv}"
PG="${PG:-postgresql://root@127.0.0.1:5432}"
BENCH_DB="${BENCH_DB:-agenthub_bench_planner}"
BENCH_REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/12}"
export AGENTS="${AGENTS:-10000}" UNLISTED="${UNLISTED:-1000}" SKILLS="${SKILLS:-300}"
export ROUNDS="${ROUNDS:-200}" COLD_RUNS="${COLD_RUNS:-10}"

STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="${RESULTS:-$REPO/bench/results}"
WORK="$(mktemp -d /tmp/agenthub-bench-planner.XXXXXX)"
mkdir -p "$RESULTS"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

exec 9>"${BENCH_LOCK:-/tmp/agenthub-bench-planner.lock}"
flock -n 9 || { echo "another bench/hubchat planner run is in progress" >&2; exit 1; }
require psql flock redis-cli

export DEBUG=false
export SECRET_KEY="bench-only-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export ALLOWED_HOSTS=127.0.0.1
export DATABASE_URL="$PG/$BENCH_DB"
export REDIS_URL="$BENCH_REDIS_URL"
export LOG_LEVEL="${LOG_LEVEL:-WARNING}"

log "database $BENCH_DB (recreated), Redis $BENCH_REDIS_URL (flushed), migrate"
recreate_database "$PG" "$BENCH_DB"
redis-cli -u "$BENCH_REDIS_URL" flushdb >/dev/null
cd "$REPO"
"$VENV/bin/python" manage.py migrate --no-input -v0

OUT="$RESULTS/hubchat-planner-$STAMP.json"
log "$AGENTS listed agents (+$UNLISTED unlisted), then the planner: $COLD_RUNS cold builds, $ROUNDS warm rounds"
"$VENV/bin/python" "$HERE/planner.py" | tee "$OUT"
echo "results written to $OUT" >&2
