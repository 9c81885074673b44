#!/usr/bin/env bash
# Memory before, during and after a flood of idle connections (loopback only, bounded).
#
#   bench/http/flood.sh [BINARY]       e.g. bench/http/flood.sh target/release/kubepulse
#
# Starts `BINARY serve` on 127.0.0.1 (an ephemeral port), answers WARM requests, then prints the
# server's resident memory (VmRSS of /proc/PID/status):
#   before  after the warm-up requests (the steady state of a server in use);
#   flood   while CONNS idle connections are held open (and PROBES other requests are sent: each must
#           be answered 200);
#   after   SETTLE seconds after the flood's connections are closed (and PROBES requests more);
# and whether "after" is within 20% of "before". Environment: CONNS (default 2000), WARM (default
# 200), PROBES (default 100), SETTLE (default 5 s), SERVE_ARGS (extra `serve` flags, e.g.
# "--max-connections 4096" to hold every connection instead of evicting the longest idle).
# Needs python3 (standard library only) and a file-descriptor limit above CONNS + 100.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../../target/release/kubepulse}"
conns="${CONNS:-2000}"
[ -x "$bin" ] || { echo "no executable at $bin: cargo build --release -p kubepulse" >&2; exit 1; }
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((conns + 100)) ]; then
  ulimit -n $((conns + 100)) 2>/dev/null || {
    echo "the file-descriptor limit $(ulimit -n) is below CONNS + 100 = $((conns + 100))" >&2
    exit 1
  }
fi

log="$(mktemp)"
# shellcheck disable=SC2086 # SERVE_ARGS is a list of flags
RUST_LOG=warn "$bin" serve --listen 127.0.0.1:0 --seed 1 ${SERVE_ARGS:-} >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
addr=""
for _ in $(seq 1 600); do
  addr="$(grep -o 'http://[0-9.:]*' "$log" | head -n1 | sed 's|http://||' || true)"
  [ -n "$addr" ] && break
  kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
  sleep 0.1
done
[ -n "$addr" ] || { echo "serve printed no address within 60 s" >&2; exit 1; }

PID="$pid" ADDR="$addr" CONNS="$conns" BODY="$here/snapshot.json" python3 - <<'PY'
import http.client, os, socket, time

pid, addr = int(os.environ["PID"]), os.environ["ADDR"]
host, port = addr.rsplit(":", 1)
port = int(port)
conns = int(os.environ["CONNS"])
warm = int(os.environ.get("WARM", "200"))
probes = int(os.environ.get("PROBES", "100"))
settle = float(os.environ.get("SETTLE", "5"))
body = open(os.environ["BODY"], "rb").read()

def rss_mib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS for the server")

def predict_ok(n):
    ok = 0
    for _ in range(n):
        try:
            c = http.client.HTTPConnection(host, port, timeout=10)
            c.request("POST", "/predict", body, {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            ok += r.status == 200
            c.close()
        except OSError:
            pass
    return ok

predict_ok(warm)
time.sleep(1)
before = rss_mib()
print(f"before: RSS {before:.1f} MiB (after {warm} requests)")
held = []
started = time.monotonic()
for _ in range(conns):
    s = socket.create_connection((host, port), timeout=10)
    held.append(s)
time.sleep(1)
during = rss_mib()
ok = predict_ok(probes)
print(f"flood:  RSS {during:.1f} MiB with {conns} idle connections opened in "
      f"{time.monotonic() - started:.1f} s; {ok} of {probes} other requests answered 200")
for s in held:
    s.close()
held.clear()
time.sleep(settle)
after = rss_mib()
ok_after = predict_ok(probes)
after_probes = rss_mib()
ratio = after / before
print(f"after:  RSS {after:.1f} MiB {settle:.0f} s after closing them ({ratio:.2f}x before); "
      f"{after_probes:.1f} MiB after {ok_after} more requests")
verdict = "within" if ratio <= 1.2 else "NOT within"
print(f"{verdict} 20% of the pre-flood RSS")
PY
