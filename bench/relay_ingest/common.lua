-- Shared by the relay_ingest wrk scripts: prints one machine-readable summary line that
-- bench/relay_ingest.sh and bench/relay_e2e.sh parse. Loaded with dofile() from the case scripts.
--
-- No response() hook: with one, wrk hands every answer's status, headers and body to Lua, which
-- cost the load generator (on the same two cores as the relay) about a quarter of its CPU per
-- single-line request. wrk counts answers with a status above 399 itself (status_errors); the
-- scripts also read the relay's /metrics, which count every answer by route and status.
local common = {}

function common.done(summary, latency, requests)
    local errors = summary.errors
    -- Latency figures are microseconds.
    io.write(string.format(
        "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d status_errors=%d socket_errors=%d\n",
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
        errors.status, errors.connect + errors.read + errors.write + errors.timeout))
end

return common
