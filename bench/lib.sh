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
