-- Shared by the relay_ingest wrk scripts: counts every answer that is not 204 (the relay
-- acknowledges a durable write with 204 only) and prints one machine-readable summary line
-- that bench/relay_ingest.sh parses. Loaded with dofile() from the case scripts.
local common = {}
local threads = {}

function common.setup(thread)
    table.insert(threads, thread)
end

function common.response(status, headers, body)
    if status ~= 204 then
        non_204 = (non_204 or 0) + 1
        if first_non_204 == nil then
            first_non_204 = tostring(status) .. " " .. string.sub(body or "", 1, 120)
        end
    end
end

function common.done(summary, latency, requests)
    local bad = 0
    local first = "-"
    for _, thread in ipairs(threads) do
        bad = bad + (thread:get("non_204") or 0)
        local sample = thread:get("first_non_204")
        if sample ~= nil and first == "-" then
            first = sample
        end
    end
    local errors = summary.errors
    -- Latency figures are microseconds.
    io.write(string.format(
        "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d non_204=%d " ..
            "socket_errors=%d first_non_204=%s\n",
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), bad,
        errors.connect + errors.read + errors.write + errors.timeout,
        string.gsub(first, "%s", "_")))
end

return common
