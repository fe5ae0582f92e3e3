#!/usr/bin/env bash
# The catalog benchmark: AgentHub (gunicorn, PostgreSQL) against the FastAPI + SQLAlchemy peer
# in ../shared/bench-peers, in the same run, on loopback only. See bench/README.md.
#
#   bash bench/catalog/run.sh                 # defaults: about 6 minutes
#   BENCH_DURATION=10 BENCH_RUNS=3 bash bench/catalog/run.sh
#
# Everything it starts it stops (trap on EXIT). It drops and recreates the databases
# $BENCH_DB and $PEER_DB on the local PostgreSQL.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PEERS_DIR="${PEERS_DIR:-$REPO/../shared/bench-peers}"
PEERS_DIR="$(cd "$PEERS_DIR" && pwd)"
APP_DIR="$(cd "${APP_DIR:-$REPO}" && pwd)"           # the AgentHub checkout to serve (default: this one)
VENV="${VENV:-$REPO/.venv}"                       # AgentHub's virtualenv
PEER_VENV="${PEER_VENV:-/tmp/agenthub-bench-peer-venv}"  # the peer's own virtualenv, outside the repo

PG="${PG:-postgresql://root@127.0.0.1:5432}"
BENCH_DB="${BENCH_DB:-agenthub_bench}"
PEER_DB="${PEER_DB:-agenthub_bench_peer}"
BENCH_REDIS_URL="${BENCH_REDIS_URL:-redis://127.0.0.1:6379/15}"
AGENTHUB_PORT="${AGENTHUB_PORT:-8111}"
PEER_PORT="${PEER_PORT:-8112}"

# Load: wrk through the peer's loadtest.py. Seconds per measured round, rounds, warm-up seconds.
BENCH_DURATION="${BENCH_DURATION:-6}"
BENCH_RUNS="${BENCH_RUNS:-3}"
BENCH_WARMUP="${BENCH_WARMUP:-2}"
BENCH_CONNECTIONS="${BENCH_CONNECTIONS:-64}"
BENCH_QUERY="${BENCH_QUERY:-quantum analyst}"
SMALL_COUNT="${SMALL_COUNT:-10000}"
BIG_COUNT="${BIG_COUNT:-100000}"
BIG_ENDPOINTS="${BIG_ENDPOINTS:-search,list}"   # measured again at BIG_COUNT (search is the target)

# gunicorn on 2 cores: 4 sync workers. The work is CPU-bound Python plus short PostgreSQL waits
# (~1 ms), on 2 cores that PostgreSQL and wrk share. Two processes per core keep both cores busy
# while one process waits on the database; threads (gthread) add nothing but GIL hand-offs here:
# measured on this machine, gthread 2x4 served the list at about half the rate of sync x4 with
# a 2-3x worse p95, and gthread 2x1 matched sync x4 in req/s but with a worse tail, since a
# sync worker only accepts a connection when it is free (the kernel's accept queue then hands
# requests out fairly). Sync workers close the connection after each response, so every request
# pays a loopback TCP connect; in production they sit behind a buffering proxy (nginx).
# Override to compare (GUNICORN_THREADS only matters for gthread).
GUNICORN_CLASS="${GUNICORN_CLASS:-sync}"
GUNICORN_WORKERS="${GUNICORN_WORKERS:-4}"
GUNICORN_THREADS="${GUNICORN_THREADS:-1}"
CONN_MAX_AGE="${CONN_MAX_AGE:-600}"

STAMP="$(date +%Y%m%d-%H%M%S)"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"  # other work on the machine skews every figure: see the summary
RESULTS="${RESULTS:-$REPO/bench/results}"
WORK="$(mktemp -d /tmp/agenthub-bench.XXXXXX)"
mkdir -p "$RESULTS"
# shellcheck source=../lib.sh
source "$HERE/../lib.sh"

# One run at a time: a second run would drop the databases under the first one's servers.
exec 9>"${BENCH_LOCK:-/tmp/agenthub-bench-catalog.lock}"
if ! flock -n 9; then
  echo "another bench/catalog run is in progress (lock ${BENCH_LOCK:-/tmp/agenthub-bench-catalog.lock})" >&2
  exit 1
fi
for port in "$AGENTHUB_PORT" "$PEER_PORT"; do
  if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
    echo "127.0.0.1:$port is already serving: stop that server first (or set AGENTHUB_PORT / PEER_PORT)" >&2
    exit 1
  fi
done

for tool in wrk psql curl flock; do
  command -v "$tool" >/dev/null || { echo "$tool is required (apt-get install $tool)" >&2; exit 1; }
done
[[ -x "$VENV/bin/gunicorn" ]] || { echo "no gunicorn in $VENV (pip install -r requirements.txt)" >&2; exit 1; }
[[ -f "$PEERS_DIR/loadtest.py" ]] || { echo "no peer harness in $PEERS_DIR" >&2; exit 1; }

# --- AgentHub: database, migrations, 10k agents, gunicorn ------------------------------------
export DEBUG=false
export SECRET_KEY="bench-only-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export ALLOWED_HOSTS=127.0.0.1
export DATABASE_URL="$PG/$BENCH_DB"
export DATABASE_CONN_MAX_AGE="$CONN_MAX_AGE"
export REDIS_URL="$BENCH_REDIS_URL"
export SECURE_SSL_REDIRECT=false   # plain HTTP on loopback: no TLS proxy in front of it here
export STATIC_ROOT="$WORK/static"
export PROMETHEUS_MULTIPROC_DIR="$WORK/prometheus"   # as in production under gunicorn
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
export LOG_LEVEL="${LOG_LEVEL:-WARNING}"
export API_THROTTLE_ANON=off API_THROTTLE_USER=off   # measure the app, not the rate limiter

log "AgentHub: database $BENCH_DB (recreated), migrate"
psql "$PG/postgres" -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS $BENCH_DB WITH (FORCE)" \
  -c "CREATE DATABASE $BENCH_DB" >/dev/null
cd "$APP_DIR"
"$VENV/bin/python" manage.py migrate --no-input -v0

log "AgentHub: seed_catalog --count $SMALL_COUNT"
seed_out="$("$VENV/bin/python" manage.py seed_catalog --count "$SMALL_COUNT" | tee /dev/stderr)"
LISTED_SMALL="$(sed -n 's/^LISTED_LAST=//p' <<<"$seed_out")"
psql "$DATABASE_URL" -qc "VACUUM ANALYZE marketplace_agent"

log "AgentHub: gunicorn $GUNICORN_CLASS workers=$GUNICORN_WORKERS threads=$GUNICORN_THREADS on 127.0.0.1:$AGENTHUB_PORT"
setsid "$VENV/bin/gunicorn" agenthub.wsgi:application --bind "127.0.0.1:$AGENTHUB_PORT" \
  --worker-class "$GUNICORN_CLASS" --workers "$GUNICORN_WORKERS" --threads "$GUNICORN_THREADS" \
  --keep-alive 30 --backlog 2048 --graceful-timeout 5 --log-level warning >"$WORK/gunicorn.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$AGENTHUB_PORT/api/health" 60

# --- The peer: its own venv, database and uvicorn -------------------------------------------
log "peer: venv $PEER_VENV, database $PEER_DB (seed.py --rows $SMALL_COUNT)"
stamp="$PEER_VENV/.requirements.sha256"
want="$(sha256sum "$PEERS_DIR/requirements.txt" | cut -d' ' -f1)"
if [[ ! -x "$PEER_VENV/bin/uvicorn" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  python3 -m venv "$PEER_VENV"
  "$PEER_VENV/bin/pip" install -q -r "$PEERS_DIR/requirements.txt" 2>&1 | grep -v "^WARNING: Location" >&2 || true
  echo "$want" >"$stamp"
fi
psql "$PG/postgres" -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS $PEER_DB WITH (FORCE)" >/dev/null
"$PEER_VENV/bin/python" "$PEERS_DIR/seed.py" --dsn "$PG/$PEER_DB" --rows "$SMALL_COUNT" >&2
log "peer: uvicorn --workers 2 on 127.0.0.1:$PEER_PORT"
BENCH_SA_DSN="postgresql+psycopg://${PG#postgresql://}/$PEER_DB" \
  setsid "$PEER_VENV/bin/uvicorn" --app-dir "$PEERS_DIR" fastapi_peer:app --host 127.0.0.1 --port "$PEER_PORT" \
  --workers 2 --no-access-log --log-level warning >"$WORK/uvicorn.log" 2>&1 &
PIDS+=($!)
wait_http "http://127.0.0.1:$PEER_PORT/api/agents?limit=1" 60

# --- Load -------------------------------------------------------------------------------------
Q="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$BENCH_QUERY")"
cat >"$WORK/agenthub.txt" <<EOF
list    GET  /api/agents?limit=20
detail  GET  /api/agents/catalog-{rand:1-$LISTED_SMALL}
search  GET  /api/search?q=$Q&limit=20
EOF
cat >"$WORK/peer.txt" <<EOF
list    GET  /api/agents?limit=20
detail  GET  /api/agents/{rand:1-$SMALL_COUNT}
search  GET  /api/agents?search=$Q&limit=20
EOF

loadtest() {  # label port endpoints-file [--only x,y]
  local label="$1" port="$2" file="$3"; shift 3
  log "load: $label"
  python3 "$PEERS_DIR/loadtest.py" --base-url "http://127.0.0.1:$port" -e "$file" \
    -d "$BENCH_DURATION" -w "$BENCH_WARMUP" -r "$BENCH_RUNS" -c "$BENCH_CONNECTIONS" \
    --label "$label" --json-out "$WORK/$label.json" "$@" >&2
}

loadtest agenthub-small "$AGENTHUB_PORT" "$WORK/agenthub.txt"
loadtest peer-small "$PEER_PORT" "$WORK/peer.txt"

# --- AgentHub again at BIG_COUNT agents (the same first agents, then more appended) -----------
log "AgentHub: seed_catalog up to $BIG_COUNT agents"
seed_out="$("$VENV/bin/python" manage.py seed_catalog --count "$((BIG_COUNT - SMALL_COUNT))" | tee /dev/stderr)"
LISTED_BIG="$(sed -n 's/^LISTED_LAST=//p' <<<"$seed_out")"
psql "$DATABASE_URL" -qc "VACUUM ANALYZE marketplace_agent"
sed "s/{rand:1-$LISTED_SMALL}/{rand:1-$LISTED_BIG}/" "$WORK/agenthub.txt" >"$WORK/agenthub-big.txt"
loadtest agenthub-big "$AGENTHUB_PORT" "$WORK/agenthub-big.txt" --only "$BIG_ENDPOINTS"

# --- Summary ------------------------------------------------------------------------------------
OUT="$RESULTS/catalog-$STAMP.txt"
"$VENV/bin/python" "$HERE/summary.py" --dir "$WORK" --small "$SMALL_COUNT" --big "$BIG_COUNT" \
  --config "agenthub=$APP_DIR at $(git -C "$APP_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$APP_DIR" diff --quiet HEAD 2>/dev/null || echo ' + uncommitted changes')" \
  --config "gunicorn=$GUNICORN_CLASS workers=$GUNICORN_WORKERS threads=$GUNICORN_THREADS conn_max_age=$CONN_MAX_AGE" \
  --config "peer=uvicorn --workers 2 (FastAPI + SQLAlchemy async, $PEERS_DIR)" \
  --config "load=wrk c=$BENCH_CONNECTIONS, ${BENCH_RUNS}x${BENCH_DURATION}s after ${BENCH_WARMUP}s warm-up, median of rounds" \
  --config "query=$BENCH_QUERY; listed agents: $LISTED_SMALL of $SMALL_COUNT, $LISTED_BIG of $BIG_COUNT" \
  --config "machine=$(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%dT%H:%M:%SZ); load average at start: $LOAD_START, at end: $(cut -d' ' -f1-3 /proc/loadavg)" \
  | tee "$OUT"
for f in "$WORK"/*.json; do cp "$f" "$RESULTS/catalog-$STAMP-$(basename "$f")"; done
if grep -q '"level": "ERROR"\|Traceback' "$WORK/gunicorn.log"; then
  log "gunicorn logged $(grep -c '"level": "ERROR"\|Traceback' "$WORK/gunicorn.log") errors; the first ones:"
  grep -m 5 '"level": "ERROR"\|Traceback' "$WORK/gunicorn.log" | cut -c1-300 >&2
fi
echo "summary written to $OUT" >&2
