#!/usr/bin/env bash
# Benchmark: one `watch` cycle with 5,000 targets in Prometheus (and 500, to show the query count does not
# depend on the number of targets).
#
#   bench/watch/watch-cycle.sh [TARGETS...]      (default: 500 5000; work files in ${BENCH_DIR:-/tmp/kubepulse-bench})
#
# For each size: 1 hour of exporter-shaped history (crates/watch/examples/bench_openmetrics.rs) is backfilled
# into a fresh Prometheus, then crates/watch/examples/bench_watch_cycle.rs runs 5 cycles of the real watch
# loop (embedded model, built-in query set) at the end of that hour: the first cycle fetches the whole window
# (cold start), the others only the new step (steady state). It prints each cycle's wall time, query count,
# targets and predictions, the CPU seconds of the watcher and of Prometheus, and the watcher's peak RSS.
# MODEL=FILE uses another model than the embedded one; CYCLES=N runs N cycles (default 5); RUNS=N starts N
# watchers one after the other against the same Prometheus (each one's first cycle is cold; default 1) and
# prints the min / median / max of the first cycles' and of the later cycles' wall times; SKIP_BUILD=1 uses
# the examples already in target/release. Results and their analysis: bench/watch/README.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
SIZES=${*:-500 5000}
STEP=15
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p watch --example bench_openmetrics --example bench_watch_cycle

END=$(( ($(date +%s) / 3600 - 2) * 3600 ))
START=$(( END - 3600 ))
for N in $SIZES; do
  DIR=${BENCH_DIR:-/tmp/kubepulse-bench}/watch-$N
  rm -rf "$DIR"; mkdir -p "$DIR"
  target/release/examples/bench_openmetrics "$N" "$START" 3600 "$STEP" "$DIR/data.om"
  promtool tsdb create-blocks-from openmetrics --max-block-duration=486h "$DIR/data.om" "$DIR/tsdb" > "$DIR/backfill.log"
  rm -f "$DIR/data.om"
  PORT=$(( 19100 + N % 800 ))
  printf 'global:\n  scrape_interval: 1m\nscrape_configs: []\n' > "$DIR/prometheus.yml"
  prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/tsdb" \
    --storage.tsdb.retention.time=10y --web.listen-address=127.0.0.1:$PORT --log.level=warn \
    2> "$DIR/prometheus.log" &
  PROM=$!
  for _ in $(seq 1 300); do
    curl -fs "http://127.0.0.1:$PORT/-/ready" > /dev/null && break
    sleep 0.2
  done
  echo "== $N targets =="
  for _ in $(seq 1 "${RUNS:-1}"); do
    echo "load average $(cut -d' ' -f1-3 /proc/loadavg)"
    PROM_PID=$PROM target/release/examples/bench_watch_cycle "http://127.0.0.1:$PORT" "$END" ${CYCLES:-5} ${MODEL:-}
  done | tee "$DIR/cycles.txt"
  # Wall seconds of the first (cold) cycles and of the later ones: min / median / max over the runs.
  for which in first later; do
    awk -v which=$which '/^cycle / { cold = ($2 == "0:"); if ((which == "first") == cold) print $3 }' "$DIR/cycles.txt" \
      | sort -g | awk -v which=$which '{ v[NR] = $1 } END { if (NR) printf "%s cycles: %d, min %.3f s, median %.3f s, max %.3f s\n", which, NR, v[1], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR] }'
  done
  kill $PROM; wait $PROM 2>/dev/null || true
done
