#!/usr/bin/env bash
# HubChat end to end: a two-step chained request ("summarise this and translate the summary into
# Spanish") over the demo agents, from POST /api/tasks to the task completed: planning, choosing
# and quoting agents, two executions in sequence through Celery, two holds and captures.
# PostgreSQL, Redis, gunicorn, two Celery worker processes, loopback only.
#
#   bash bench/hubchat/chain.sh            # about a minute
#   TASKS=200 bash bench/hubchat/chain.sh
#
# Everything it starts it stops (trap on EXIT). It drops and recreates database $BENCH_DB.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PG="${PG:-postgresql://root@127.0.0.1:5432}"
BENCH_DB="${BENCH_DB:-agenthub_bench_hubchat}"
BENCH_REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/13}"
AGENTHUB_PORT="${AGENTHUB_PORT:-8131}"
AGENTS_PORT="${AGENTS_PORT:-8132}"
GUNICORN_WORKERS="${GUNICORN_WORKERS:-2}"
CELERY_PROCESSES="${CELERY_PROCESSES:-2}"
export TASKS="${TASKS:-100}"

STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="${RESULTS:-$REPO/bench/results}"
WORK="$(mktemp -d /tmp/agenthub-bench-hubchat.XXXXXX)"
mkdir -p "$RESULTS"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

exec 9>"${BENCH_LOCK:-/tmp/agenthub-bench-hubchat.lock}"
flock -n 9 || { echo "another bench/hubchat run is in progress" >&2; exit 1; }
require psql curl flock redis-cli

production_env "$PG/$BENCH_DB" "$BENCH_REDIS_URL"
export DEMO_AGENTS_URL="http://127.0.0.1:$AGENTS_PORT"
export AGENT_ALLOWED_INTERNAL_HOSTS=127.0.0.1
export BENCH_BASE="http://127.0.0.1:$AGENTHUB_PORT"

log "database $BENCH_DB (recreated), migrate"
recreate_database "$PG" "$BENCH_DB"
redis-cli -u "$BENCH_REDIS_URL" flushdb >/dev/null
cd "$REPO"
"$VENV/bin/python" manage.py migrate --no-input -v0

log "demo agents on :$AGENTS_PORT, gunicorn x$GUNICORN_WORKERS on :$AGENTHUB_PORT, celery prefork x$CELERY_PROCESSES"
setsid "$VENV/bin/python" manage.py run_demo_agents --port "$AGENTS_PORT" >"$WORK/agents.log" 2>&1 &
PIDS+=($!)
wait_http "$DEMO_AGENTS_URL/summarizer/health" 30
log "the demo catalog (seed_demo) and the benchmark's funded user"
"$VENV/bin/python" manage.py seed_demo >/dev/null
"$VENV/bin/python" manage.py shell -c "
from decimal import Decimal
from accounts.models import User
from billing.services import wallet_credit
user = User.objects.create_user('bench', 'bench@example.com', 'bench-password-123')
wallet_credit(user=user, amount=Decimal('1000'), reference='bench-top-up')
"
setsid "$VENV/bin/gunicorn" agenthub.wsgi:application --bind "127.0.0.1:$AGENTHUB_PORT" \
  --workers "$GUNICORN_WORKERS" --keep-alive 30 --log-level warning >"$WORK/gunicorn.log" 2>&1 &
PIDS+=($!)
setsid "$VENV/bin/celery" -A agenthub worker --pool prefork --concurrency "$CELERY_PROCESSES" \
  --loglevel WARNING --without-gossip --without-mingle >"$WORK/celery.log" 2>&1 &
PIDS+=($!)
wait_http "$BENCH_BASE/api/health" 60

OUT="$RESULTS/hubchat-chain-$STAMP.json"
log "measuring $TASKS chained requests, one at a time"
"$VENV/bin/python" "$HERE/chain.py" | tee "$OUT"
if grep -q 'Traceback\|"level": "ERROR"' "$WORK/gunicorn.log" "$WORK/celery.log"; then
  log "errors were logged:"; grep -m 5 'Traceback\|"level": "ERROR"' "$WORK/gunicorn.log" "$WORK/celery.log" >&2
fi
echo "results written to $OUT" >&2
