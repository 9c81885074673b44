#!/usr/bin/env bash
# Memory under sustained load: drives POST /predict until TOTAL requests have been answered and
# prints the server's resident memory (VmRSS) after every round, so growth would show.
#
#   bench/http/soak.sh URL PID [TOTAL]     e.g. bench/http/soak.sh http://127.0.0.1:5000 1234 1000000
#
# PID is the server process (same machine). Environment: CONNS (default 32), ROUND (default 20s),
# EXPLAIN (default false), FOR_SECONDS (stop after this many seconds even if TOTAL is not reached;
# e.g. FOR_SECONDS=600 with a large TOTAL is the 10-minute bounded run).
set -euo pipefail

url="${1:?usage: bench/http/soak.sh URL PID [TOTAL]}"
url="${url%/}"
pid="${2:?usage: bench/http/soak.sh URL PID [TOTAL]}"
total="${3:-1000000}"
here="$(cd "$(dirname "$0")" && pwd)"
export BENCH_BODY="${BENCH_BODY:-$here/snapshot.json}"
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 1; }

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$pid/status"; }

done_requests=0
first_rss=$(rss_kb)
echo "before: RSS $((first_rss / 1024)) MiB"
start=$SECONDS
limit="${FOR_SECONDS:-0}"
while [ "$done_requests" -lt "$total" ]; do
  if [ "$limit" -gt 0 ] && [ $((SECONDS - start)) -ge "$limit" ]; then break; fi
  out=$(wrk -t2 -c"${CONNS:-32}" -d"${ROUND:-20s}" -s "$here/post.lua" \
    "$url/predict?explain=${EXPLAIN:-false}" 2>&1)
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  done_requests=$((done_requests + n))
  echo "requests so far: $done_requests, RSS $(( $(rss_kb) / 1024 )) MiB ($(rss_kb) kB)"
done
echo "after $done_requests requests in $((SECONDS - start)) s: RSS $(( $(rss_kb) / 1024 )) MiB (was $((first_rss / 1024)) MiB)"
