#!/usr/bin/env bash
# The runtime benchmark: what the platform adds to one call of a trivial HTTP agent, how many
# executions per second two Celery worker processes complete, and the hosted sandbox's
# start-to-result time for the Echo package. PostgreSQL, Redis, gunicorn, loopback only.
#
#   bash bench/runtime/run.sh                    # about 2 minutes
#   CALLS=500 EXECUTIONS=2000 bash bench/runtime/run.sh
#
# Everything it starts it stops (trap on EXIT). It drops and recreates database $BENCH_DB.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PG="${PG:-postgresql://root@127.0.0.1:5432}"
BENCH_DB="${BENCH_DB:-agenthub_bench_runtime}"
BENCH_REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/14}"
AGENTHUB_PORT="${AGENTHUB_PORT:-8121}"
AGENTS_PORT="${AGENTS_PORT:-8122}"
GUNICORN_WORKERS="${GUNICORN_WORKERS:-4}"
CELERY_PROCESSES="${CELERY_PROCESSES:-2}"
export CALLS="${CALLS:-300}" EXECUTIONS="${EXECUTIONS:-1000}" CLIENTS="${CLIENTS:-16}"

STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="${RESULTS:-$REPO/bench/results}"
WORK="$(mktemp -d /tmp/agenthub-bench-runtime.XXXXXX)"
mkdir -p "$RESULTS"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

exec 9>"${BENCH_LOCK:-/tmp/agenthub-bench-runtime.lock}"
flock -n 9 || { echo "another bench/runtime run is in progress" >&2; exit 1; }
require psql curl flock redis-cli

production_env "$PG/$BENCH_DB" "$BENCH_REDIS_URL"
export DEMO_AGENTS_URL="http://127.0.0.1:$AGENTS_PORT"
export AGENT_ALLOWED_INTERNAL_HOSTS=127.0.0.1
export BENCH_BASE="http://127.0.0.1:$AGENTHUB_PORT" BENCH_AGENT_URL="$DEMO_AGENTS_URL/echo"

log "database $BENCH_DB (recreated), migrate, the benchmark's user and echo agent"
recreate_database "$PG" "$BENCH_DB"
redis-cli -u "$BENCH_REDIS_URL" flushdb >/dev/null
cd "$REPO"
"$VENV/bin/python" manage.py migrate --no-input -v0
"$VENV/bin/python" manage.py shell -c "
from accounts.models import User
from marketplace.models import Agent
user = User.objects.create_user('bench', 'bench@example.com', 'bench-password-123')
Agent.objects.create(slug='echo-http', name='Echo (HTTP)', created_by=user, status='active', is_public=True,
                     transport='http', endpoint_url='$BENCH_AGENT_URL', skills=['echo'])
"

log "demo agents on :$AGENTS_PORT, gunicorn x$GUNICORN_WORKERS on :$AGENTHUB_PORT, celery prefork x$CELERY_PROCESSES"
setsid "$VENV/bin/python" manage.py run_demo_agents --port "$AGENTS_PORT" >"$WORK/agents.log" 2>&1 &
PIDS+=($!)
setsid "$VENV/bin/gunicorn" agenthub.wsgi:application --bind "127.0.0.1:$AGENTHUB_PORT" \
  --workers "$GUNICORN_WORKERS" --keep-alive 30 --log-level warning >"$WORK/gunicorn.log" 2>&1 &
PIDS+=($!)
setsid "$VENV/bin/celery" -A agenthub worker --pool prefork --concurrency "$CELERY_PROCESSES" \
  --loglevel WARNING --without-gossip --without-mingle >"$WORK/celery.log" 2>&1 &
PIDS+=($!)
wait_http "$DEMO_AGENTS_URL/echo/health" 30
wait_http "$BENCH_BASE/api/health" 60

OUT="$RESULTS/runtime-$STAMP.json"
log "measuring: $CALLS calls each way, then $EXECUTIONS executions from $CLIENTS clients"
"$VENV/bin/python" "$HERE/bench.py" >"$WORK/platform.json"
log "hosted Echo in the sandbox"
"$VENV/bin/python" "$HERE/hosted_echo.py" >"$WORK/hosted.json"
"$VENV/bin/python" - "$WORK/platform.json" "$WORK/hosted.json" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY' | tee "$OUT"
import json, sys
platform, hosted = (json.load(open(path)) for path in sys.argv[1:3])
print(json.dumps({"platform": platform, "hosted_echo": hosted, "load_average_at_end": sys.argv[3]}, indent=2))
PY
if grep -q 'Traceback\|"level": "ERROR"' "$WORK/gunicorn.log" "$WORK/celery.log"; then
  log "errors were logged:"; grep -m 5 'Traceback\|"level": "ERROR"' "$WORK/gunicorn.log" "$WORK/celery.log" >&2
fi
echo "results written to $OUT" >&2
