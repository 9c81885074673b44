#!/usr/bin/env bash
# HTTP benchmark of POST /predict with the original service's snapshot body, with wrk.
#
#   bench/http/run.sh URL            e.g. bench/http/run.sh http://127.0.0.1:5000
#
# Runs 4 and 32 connections, without and with ?explain=true (TreeSHAP), and prints requests/s and
# p50/p99 latency per run. Works against any implementation of the API (the original Flask service
# too: it ignores ?explain). Environment: DURATION (default 15s), THREADS (default 2), CONNS
# (default "4 32"), EXPLAIN (default "false true").
set -euo pipefail

url="${1:?usage: bench/http/run.sh URL (e.g. http://127.0.0.1:5000)}"
url="${url%/}"
here="$(cd "$(dirname "$0")" && pwd)"
duration="${DURATION:-15s}"
threads="${THREADS:-2}"
conns_list="${CONNS:-4 32}"
explain_list="${EXPLAIN:-false true}"

if ! command -v wrk >/dev/null 2>&1; then
  echo "wrk not found; installing the Debian package" >&2
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
  else
    sudo apt-get install -y wrk >/dev/null
  fi
fi

# The body must be accepted before it is benchmarked.
export BENCH_BODY="${BENCH_BODY:-$here/snapshot.json}"
status=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  --data-binary @"$BENCH_BODY" "$url/predict")
if [ "$status" != 200 ]; then
  echo "POST $url/predict answered $status, not 200: is the service up?" >&2
  exit 1
fi

# wrk prints latencies as 512.00us / 1.23ms / 1.01s; convert to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
    else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
    else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
    else { printf "%s", v } }'
}

printf '%-8s %-6s %12s %10s %10s %8s\n' explain conns "requests/s" "p50 ms" "p99 ms" non2xx
for explain in $explain_list; do
  for conns in $conns_list; do
    out=$(wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$here/post.lua" \
      "$url/predict?explain=$explain" 2>&1)
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    bad=$(awk '/^NON_2XX/ {print $2}' <<<"$out")
    printf '%-8s %-6s %12s %10s %10s %8s\n' "$explain" "$conns" "$rps" "$(to_ms "$p50")" \
      "$(to_ms "$p99")" "${bad:-0}"
    if [ -n "${VERBOSE:-}" ]; then echo "$out"; fi
  done
done
