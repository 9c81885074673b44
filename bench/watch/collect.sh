#!/usr/bin/env bash
# Benchmark: `kubepulse collect` of 7 days x 500 targets at a 15 s step from a real Prometheus.
#
#   bench/watch/collect.sh [TARGETS] [DAYS]      (defaults 500 7; work files in ${BENCH_DIR:-/tmp/kubepulse-bench})
#
# Environment: KUBEPULSE_BIN (binary to time, default target/release/kubepulse), COLLECT_ARGS (extra
# `collect` flags, e.g. "--concurrency 2" or "--format parquet"), COLLECT_HOURS (collect only the first hours of the range, for
# quick comparisons), SKIP_BUILD=1, PORT.
#
# 1. generates exporter-shaped OpenMetrics (cAdvisor + kube-state-metrics names, one pod per deployment)
#    with crates/watch/examples/bench_openmetrics.rs and backfills it with promtool (not timed);
# 2. starts Prometheus on the blocks;
# 3. times `kubepulse collect` with the built-in query set (21 columns + 4 label rules per chunk) and reports
#    wall time, peak RSS, rows and the number of queries, and the CPU seconds of kubepulse and of
#    Prometheus during the run (on a shared machine the wall time depends on the load; the CPU split
#    shows where the work is).
# Needs: prometheus, promtool (scripts/install-test-deps), GNU time (/usr/bin/time) for the RSS figure.
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGETS=${1:-500}
DAYS=${2:-7}
STEP=15
DIR=${BENCH_DIR:-/tmp/kubepulse-bench}/collect-${TARGETS}x${DAYS}d
mkdir -p "$DIR"

[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p watch --example bench_openmetrics
[ -n "${SKIP_BUILD:-}" ] || cargo build --release -p kubepulse
BIN=${KUBEPULSE_BIN:-target/release/kubepulse}

END=$(( ($(date +%s) / 86400 - 1) * 86400 ))   # a day boundary in the past: the data is history
START=$(( END - DAYS * 86400 ))
if [ ! -f "$DIR/tsdb.done" ]; then
  rm -rf "$DIR/tsdb" "$DIR/data.om"
  echo "generating ${TARGETS} targets x ${DAYS} days ..."
  target/release/examples/bench_openmetrics "$TARGETS" "$START" $(( DAYS * 86400 )) "$STEP" "$DIR/data.om"
  echo "backfilling ($(du -h "$DIR/data.om" | cut -f1)) ..."
  promtool tsdb create-blocks-from openmetrics --max-block-duration=486h "$DIR/data.om" "$DIR/tsdb" > "$DIR/backfill.log"
  rm -f "$DIR/data.om"
  echo "$START $END" > "$DIR/tsdb.done"
fi
read -r START END < "$DIR/tsdb.done"

PORT=${PORT:-19090}
printf 'global:\n  scrape_interval: 1m\nscrape_configs: []\n' > "$DIR/prometheus.yml"
prometheus --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/tsdb" \
  --storage.tsdb.retention.time=10y --web.listen-address=127.0.0.1:$PORT --log.level=warn \
  2> "$DIR/prometheus.log" &
PROM=$!
trap 'kill $PROM 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$PORT/-/ready" > /dev/null && break
  sleep 0.2
done

rm -rf "$DIR/out"
[ -z "${COLLECT_HOURS:-}" ] || END=$(( START + COLLECT_HOURS * 3600 ))
prom_cpu() { awk '{printf "%.1f", ($14 + $15) / 100}' /proc/$PROM/stat; }
PROM_CPU0=$(prom_cpu)
echo "collecting $START..$((END - STEP)) at ${STEP}s from ${TARGETS} targets ..."
# shellcheck disable=SC2086
/usr/bin/time -v "$BIN" collect --prometheus "http://127.0.0.1:$PORT" --start "$START" --end "$((END - STEP))" \
  --step ${STEP}s --out "$DIR/out" --no-progress ${COLLECT_ARGS:-} 2> "$DIR/collect.time"
PROM_CPU1=$(prom_cpu)
grep -E "dataset written" "$DIR/collect.time" || true
WALL=$(grep "Elapsed (wall clock)" "$DIR/collect.time" | awk '{print $NF}')
RSS=$(grep "Maximum resident set size" "$DIR/collect.time" | awk '{print $NF}')
METRICS="$DIR/out/metrics.csv"
[ -f "$METRICS" ] || METRICS="$DIR/out/metrics.parquet"
ROWS=$(sed 's/\x1b\[[0-9;]*m//g' "$DIR/collect.time" | grep -oE "rows=[0-9]+" | head -1 | cut -d= -f2)
USER_S=$(grep "User time" "$DIR/collect.time" | awk '{print $NF}')
SYS_S=$(grep "System time" "$DIR/collect.time" | awk '{print $NF}')
echo "collect: ${TARGETS} targets, $(( (END - START) / 3600 )) h at ${STEP}s: wall ${WALL}, peak RSS $((RSS / 1024)) MB, ${ROWS} rows, $(du -h "$METRICS" | cut -f1) ($(stat -c %s "$METRICS") bytes) $(basename "$METRICS")"
echo "CPU: kubepulse ${USER_S} s user + ${SYS_S} s sys; Prometheus $(echo "$PROM_CPU1 - $PROM_CPU0" | bc) s; load average $(cut -d' ' -f1-3 /proc/loadavg)"
