-- POST /write with one meter reading per request, as Home Assistant's InfluxDB integration sends
-- it; every request carries a new nanosecond timestamp (seconds from os.time, a counter in the
-- nanosecond digits: Lua numbers are doubles and cannot hold a 19-digit integer exactly).
local common = dofile(os.getenv("RELAY_INGEST_LUA_DIR") .. "/common.lua")

done = common.done

local seconds
local counter = 0
local head -- request line and headers: every body has the same length (19-digit timestamps)
local line_format = "kWh,entity_id=haupt_strom,domain=input_number value=12345.6 %d%09d\n"

function init(args)
    seconds = os.time()
    local body = string.format(line_format, seconds, 0)
    local request = wrk.format("POST", "/write?db=home_assistant",
        {["Content-Type"] = "text/plain; charset=utf-8"}, body)
    head = string.sub(request, 1, #request - #body)
end

function request()
    counter = counter + 1
    if counter >= 1000000000 then
        counter = 0
        seconds = seconds + 1
    end
    return head .. string.format(line_format, seconds, counter)
end
