#!/usr/bin/env bash
# Benchmark: `kubepulse train` and `kubepulse eval` on simulated fleets of growing size, from Parquet.
#
#   bench/fleet/run.sh [SIZES]     (default "2 10": millions of rows, e.g. "2 10 50"; work files in
#                                   ${BENCH_DIR:-/tmp/kubepulse-bench})
#
# Each size N is the `large` preset (50 deployments per cluster) for 7 days at a 15 s step over N/2 clusters
# (2.016M rows per cluster), generated once into Parquet (`simulate --format parquet`, not timed; kept for
# the next run). Then, timed with GNU time (wall clock, peak RSS), under `nice`:
#   train  --data D --train-until 2026-01-10T00:00:00Z          (the first 5 days; above
#          --max-rows-in-memory, default 2M rows, read target by target)
#   eval   --data D --model M --train-until 2026-01-10T00:00:00Z (the last 2 days, never seen in training;
#          above --max-rows-in-memory, default 2M rows, read target by target)
# Default model options otherwise. Environment: KUBEPULSE_BIN (default target/release/kubepulse), SKIP_BUILD=1,
# SKIP_EVAL=1 (train only; the eval fields are `—`), TRAIN_ARGS / EVAL_ARGS (extra flags). Appends one line per size to $ROOT/results.tsv (rows, train wall s,
# train peak RSS MB, eval wall s, eval peak RSS MB, load before, load after, train CPU s, eval CPU s; for
# bench/fleet/plot.py). Needs GNU time (/usr/bin/time).
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
secs() { # h:mm:ss or m:ss.ss -> seconds
  awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }' <<< "$1"
}
load() { cut -d' ' -f1 /proc/loadavg; }
cpu() { # FILE -> user + system seconds
  awk -F': ' '/User time|System time/ { s += $2 } END { printf "%.0f", s }' "$1"
}

printf '| rows | targets | metrics.parquet | train wall | train CPU | train peak RSS | eval wall | eval CPU | eval peak RSS | load (1 min) |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
for n in $SIZES; do
  clusters=$(( n / 2 ))
  [ "$clusters" -ge 1 ] || clusters=1
  data="$ROOT/large-${clusters}c-7d"
  if [ ! -f "$data/metrics.parquet" ]; then
    echo "generating $clusters clusters x 7 days into $data ..." >&2
    nice "$BIN" simulate -q --preset large --seed 777 --clusters "$clusters" --duration 7d --format parquet --out "$data" >&2
  fi
  load_before=$(load)
  # shellcheck disable=SC2086
  nice /usr/bin/time -v "$BIN" train --data "$data" --train-until "$SPLIT" --out "$data/model.kpm" ${TRAIN_ARGS:-} \
    > "$data/train.out" 2> "$data/train.time"
  train_wall=$(secs "$(figure "$data/train.time" "Elapsed (wall clock)")")
  train_rss=$(( $(figure "$data/train.time" "Maximum resident set size") / 1024 ))
  if [ -n "${SKIP_EVAL:-}" ]; then
    eval_wall="—"; eval_rss="—"; eval_cpu="—"
  else
    # shellcheck disable=SC2086
    nice /usr/bin/time -v "$BIN" eval --data "$data" --model "$data/model.kpm" --train-until "$SPLIT" --out "$data/report" \
      ${EVAL_ARGS:-} > "$data/eval.out" 2> "$data/eval.time"
    eval_wall=$(secs "$(figure "$data/eval.time" "Elapsed (wall clock)")")
    eval_rss=$(( $(figure "$data/eval.time" "Maximum resident set size") / 1024 ))
    eval_cpu=$(cpu "$data/eval.time")
  fi
  load_after=$(load)
  rows=$(( clusters * 2016000 ))
  train_cpu=$(cpu "$data/train.time")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$rows" "$train_wall" "$train_rss" "$eval_wall" "$eval_rss" \
    "$load_before" "$load_after" "$train_cpu" "$eval_cpu" >> "$ROOT/results.tsv"
  printf '| %sM | %s | %s | %s s | %s s | %s MB | %s s | %s s | %s MB | %s → %s |\n' "$n" "$(( clusters * 50 ))" \
    "$(du -h "$data/metrics.parquet" | cut -f1)" "$train_wall" "$train_cpu" "$train_rss" "$eval_wall" "$eval_cpu" \
    "$eval_rss" "$load_before" "$load_after"
done
