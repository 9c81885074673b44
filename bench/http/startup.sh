#!/usr/bin/env bash
# Startup-to-ready time of `kubepulse serve`: from exec to the first 200 on /readyz.
#
#   bench/http/startup.sh [BINARY] [RUNS]     defaults: target/release/kubepulse 7
#
# Prints each run and the min/median in milliseconds. Extra flags for `serve` go in SERVE_ARGS.
set -euo pipefail

bin="${1:-target/release/kubepulse}"
runs="${2:-7}"
port="${PORT:-5077}"
[ -x "$bin" ] || { echo "no executable at $bin (cargo build --release -p kubepulse)" >&2; exit 1; }

times=()
for _ in $(seq "$runs"); do
  start=$(date +%s%N)
  # shellcheck disable=SC2086
  "$bin" serve --listen "127.0.0.1:$port" ${SERVE_ARGS:-} >/dev/null 2>&1 &
  pid=$!
  until curl -sf -o /dev/null "http://127.0.0.1:$port/readyz"; do
    kill -0 "$pid" 2>/dev/null || { echo "kubepulse serve exited early" >&2; exit 1; }
  done
  end=$(date +%s%N)
  kill -TERM "$pid"
  wait "$pid" || true
  ms=$(( (end - start) / 1000000 ))
  times+=("$ms")
  echo "startup to ready: ${ms} ms"
done
sorted=$(printf '%s\n' "${times[@]}" | sort -n)
echo "min $(head -1 <<<"$sorted") ms, median $(sed -n "$(( (runs + 1) / 2 ))p" <<<"$sorted") ms over $runs runs"
