-- wrk script for benches/run: the request comes from the environment, and the summary is one
-- machine-readable line.
--
--   WRK_METHOD          GET (default) or POST
--   WRK_BODY_FILE       file whose bytes are the request body (sent as application/json)
--   WRK_AUTHORIZATION   value of the Authorization header, if any
--
-- Prints: RESULT <requests> <seconds> <p50 µs> <p99 µs> <errors>
-- where errors counts connect/read/write errors, timeouts and statuses >= 400.

wrk.method = os.getenv("WRK_METHOD") or "GET"

local body_file = os.getenv("WRK_BODY_FILE")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.headers["Content-Type"] = "application/json"
end

local authorization = os.getenv("WRK_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.6f %d %d %d\n",
    summary.requests,
    summary.duration / 1e6,
    latency:percentile(50),
    latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
