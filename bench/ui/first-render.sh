#!/usr/bin/env bash
# Time to first render of the fleet page at fleet scale in headless Chromium.
#   bench/ui/first-render.sh [TARGETS] [RUNS]      (defaults: 5000 targets, 7 runs)
# Builds and starts `cargo run -p ui --example fleet_server` (a synthetic fleet with 2 hours of history,
# the same as `cargo bench -p ui --bench fleet`), then runs bench/ui/first-render.mjs with the repository's
# chromium + playwright-core (scripts/install-test-deps installs them). PROFILE=release for a release build
# (default: the debug build the tests use). Build with the same CARGO_* environment as your other builds,
# or cargo rebuilds the dependencies.
set -euo pipefail
cd "$(dirname "$0")/../.."
targets="${1:-5000}"
runs="${2:-7}"
profile="${PROFILE:-debug}"
flag=()
[ "$profile" = release ] && flag=(--release)
[ -d crates/kubepulse/tests/browser/node_modules/playwright-core ] || scripts/install-test-deps

cargo build -q -p ui --example fleet_server "${flag[@]}"
bin="target/$profile/examples/fleet_server"
log="$(mktemp)"
"$bin" "$targets" 127.0.0.1:0 >"$log" 2>&1 &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$log"' EXIT
url=""
for _ in $(seq 1 600); do
  url="$(sed -n 's/^listening on //p' "$log")"
  [ -n "$url" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$url" ] || { echo "the server did not start" >&2; cat "$log" >&2; exit 1; }
grep -v '^listening' "$log" >&2 || true
KUBEPULSE_URL="$url" RUNS="$runs" node bench/ui/first-render.mjs
