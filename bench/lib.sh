# Shared by the benchmarks' run.sh scripts (sourced): logging, starting servers in their own
# process groups and stopping them all on exit, waiting for a URL to answer.
# The caller sets WORK (a scratch folder, removed on exit) and appends server pids to PIDS.

PIDS=()

log() { printf '\n== %s  %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

cleanup() {  # each server runs in its own process group (setsid): stop the whole group
  local status=$?
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_http() {  # url, seconds
  local url="$1" deadline=$((SECONDS + $2))
  until curl -fsS -o /dev/null "$url"; do
    if ((SECONDS > deadline)); then echo "no answer from $url" >&2; return 1; fi
    sleep 0.3
  done
}

require() {  # tool...: stop unless every tool is on PATH
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null || { echo "$tool is required" >&2; exit 1; }
  done
}

production_env() {  # database_url redis_url: the settings of a production-style run on loopback
  export DEBUG=false
  export SECRET_KEY="bench-only-$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  export ALLOWED_HOSTS=127.0.0.1
  export DATABASE_URL="$1" REDIS_URL="$2"
  export DATABASE_CONN_MAX_AGE="${DATABASE_CONN_MAX_AGE:-600}"
  export SECURE_SSL_REDIRECT=false   # plain HTTP on loopback: no TLS proxy in front of it here
  export STATIC_ROOT="$WORK/static"
  export PROMETHEUS_MULTIPROC_DIR="$WORK/prometheus"   # as in production under gunicorn
  mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
  export LOG_LEVEL="${LOG_LEVEL:-WARNING}"
  export API_THROTTLE_USER=off API_THROTTLE_ANON=off API_THROTTLE_API_KEY=off   # measure the app, not the limiter
}

recreate_database() {  # server_url name: drop (forcing others off) and create it again
  psql "$1/postgres" -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS $2 WITH (FORCE)" -c "CREATE DATABASE $2" >/dev/null
}
