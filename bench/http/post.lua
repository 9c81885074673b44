-- wrk script: POST the original service's snapshot body (bench/http/snapshot.json, or the file
-- named by BENCH_BODY) as JSON.
local path = os.getenv("BENCH_BODY") or "bench/http/snapshot.json"
local file = assert(io.open(path, "r"), "cannot open " .. path)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = file:read("*a")
file:close()

-- Report non-2xx answers, so a benchmark of errors cannot pass for a benchmark of predictions.
function done(summary, latency, requests)
  io.write(string.format("NON_2XX %d\n", summary.errors.status))
end
