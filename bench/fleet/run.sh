#!/usr/bin/env bash
# Benchmark: `kubepulse train` and `kubepulse eval` on simulated fleets of growing size, from Parquet.
#
#   bench/fleet/run.sh [SIZES]     (default "2 10": millions of rows; work files in ${BENCH_DIR:-/tmp/kubepulse-bench})
#
# Each size N is the `large` preset (50 deployments per cluster) for 7 days at a 15 s step over N/2 clusters
# (2.016M rows per cluster), generated once into Parquet (`simulate --format parquet`, not timed; kept for
# the next run). Then, timed with GNU time (wall clock, peak RSS):
#   train  --data D --train-until 2026-01-10T00:00:00Z          (the first 5 days)
#   eval   --data D --model M --train-until 2026-01-10T00:00:00Z (the last 2 days, never seen in training)
# Default model options otherwise. Environment: KUBEPULSE_BIN (default target/release/kubepulse), SKIP_BUILD=1,
# TRAIN_ARGS (extra `train`/`eval` flags). Needs GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/../.."

SIZES=${1:-"2 10"}
ROOT=${BENCH_DIR:-/tmp/kubepulse-bench}/fleet
mkdir -p "$ROOT"
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p kubepulse
BIN=${KUBEPULSE_BIN:-target/release/kubepulse}
SPLIT=2026-01-10T00:00:00Z

figure() { # FILE FIELD
  grep "$2" "$1" | awk '{print $NF}'
}

printf '| rows | targets | metrics.parquet | train wall | train peak RSS | eval wall | eval peak RSS |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|\n'
for n in $SIZES; do
  clusters=$(( n / 2 ))
  [ "$clusters" -ge 1 ] || clusters=1
  data="$ROOT/large-${clusters}c-7d"
  if [ ! -f "$data/metrics.parquet" ]; then
    echo "generating $clusters clusters x 7 days into $data ..." >&2
    "$BIN" simulate -q --preset large --seed 777 --clusters "$clusters" --duration 7d --format parquet --out "$data" >&2
  fi
  # shellcheck disable=SC2086
  /usr/bin/time -v "$BIN" train --data "$data" --train-until "$SPLIT" --out "$data/model.kpm" ${TRAIN_ARGS:-} \
    > "$data/train.out" 2> "$data/train.time"
  # shellcheck disable=SC2086
  /usr/bin/time -v "$BIN" eval --data "$data" --model "$data/model.kpm" --train-until "$SPLIT" --out "$data/report" \
    ${TRAIN_ARGS:-} > "$data/eval.out" 2> "$data/eval.time"
  printf '| %sM | %s | %s | %s | %s MB | %s | %s MB |\n' "$n" "$(( clusters * 50 ))" \
    "$(du -h "$data/metrics.parquet" | cut -f1)" \
    "$(figure "$data/train.time" "Elapsed (wall clock)")" "$(( $(figure "$data/train.time" "Maximum resident set size") / 1024 ))" \
    "$(figure "$data/eval.time" "Elapsed (wall clock)")" "$(( $(figure "$data/eval.time" "Maximum resident set size") / 1024 ))"
done
