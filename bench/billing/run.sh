#!/usr/bin/env bash
# The billing benchmark: holds + captures per second through billing.services, on one contended
# wallet and on 100 distinct wallets, from several worker processes. PostgreSQL only (no HTTP,
# no Celery, no Redis): it measures the ledger's conditional updates and row locks.
#
#   bash bench/billing/run.sh                 # well under a minute
#   RUNS=10000 PROCESSES=8 bash bench/billing/run.sh
#
# It drops and recreates database $BENCH_DB, and writes bench/results/billing-<stamp>.json.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PG="${PG:-postgresql://root@127.0.0.1:5432}"
BENCH_DB="${BENCH_DB:-agenthub_bench_billing}"
export RUNS="${RUNS:-3000}" PROCESSES="${PROCESSES:-4}" WALLETS="${WALLETS:-100}"

STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="${RESULTS:-$REPO/bench/results}"
WORK="$(mktemp -d /tmp/agenthub-bench-billing.XXXXXX)"
mkdir -p "$RESULTS"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

exec 9>"${BENCH_LOCK:-/tmp/agenthub-bench-billing.lock}"
flock -n 9 || { echo "another bench/billing run is in progress" >&2; exit 1; }
require psql

export DEBUG=false
export SECRET_KEY="bench-only-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export ALLOWED_HOSTS=127.0.0.1
export DATABASE_URL="$PG/$BENCH_DB"
export DATABASE_CONN_MAX_AGE=600
export REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/13}"
export LOG_LEVEL="${LOG_LEVEL:-WARNING}"
export PLATFORM_FEE_PERCENT="${PLATFORM_FEE_PERCENT:-10}"

log "database $BENCH_DB (recreated), migrate"
recreate_database "$PG" "$BENCH_DB"
cd "$REPO"
"$VENV/bin/python" manage.py migrate --no-input -v0

OUT="$RESULTS/billing-$STAMP.json"
log "measuring: $RUNS runs (hold + capture) from $PROCESSES processes, on 1 wallet then on $WALLETS wallets"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
"$VENV/bin/python" "$HERE/bench.py" >"$WORK/billing.json"
"$VENV/bin/python" - "$WORK/billing.json" "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY' | tee "$OUT"
import json, sys
data = json.load(open(sys.argv[1]))
data.update(load_average_at_start=sys.argv[2], load_average_at_end=sys.argv[3])
print(json.dumps(data, indent=2))
PY
echo "results written to $OUT" >&2
