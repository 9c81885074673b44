#!/usr/bin/env bash
# Scripted benchmark of `kubepulse simulate` (release build):
#   the `large` preset (~500 pods) for 7 days at a 15 s step = ~20M pod-samples, written as a dataset.
# Acceptance: < 2 minutes wall clock and < 500 MB peak RSS on the 2-core CI machine.
# Measures with GNU time (/usr/bin/time -v); prints one line per run, then min/median.
#
# Usage: bench/simulate/run.sh [RUNS] [-- extra kubepulse simulate arguments]
#   RUNS defaults to 3. Example (two clusters, ~1000 pods): bench/simulate/run.sh 1 -- --clusters 2
set -euo pipefail
cd "$(dirname "$0")/../.."

runs=${1:-3}
shift || true
[ "${1:-}" = "--" ] && shift
extra=("$@")

if [ ! -x /usr/bin/time ]; then
  echo "bench/simulate/run.sh: GNU time is missing: apt-get install -y time" >&2
  exit 1
fi

cargo build --release -p kubepulse --locked >&2
bin=target/release/kubepulse
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

walls=()
for i in $(seq 1 "$runs"); do
  NO_COLOR=1 /usr/bin/time -v "$bin" simulate --preset large --duration 7d --step 15s --seed "$i" \
    --out "$work/data" --quiet "${extra[@]}" 2> "$work/time.$i" >/dev/null
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.$i")
  secs=$(echo "$wall" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
  rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.$i")
  summary=$(grep -o 'pod_samples[^ ]*\|rows[^ ]*\|incidents[^ ]*' "$work/time.$i" | tr '\n' ' ' || true)
  size=$(du -sm "$work/data" | cut -f1)
  printf 'run %d: wall %6.1f s  peak RSS %5d MB  dataset %d MB  %s\n' \
    "$i" "$secs" "$((rss_kb / 1024))" "$size" "$summary"
  walls+=("$secs")
done
printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {printf "wall min %.1f s, median %.1f s over %d runs\n", a[1], a[int((NR+1)/2)], NR}'
