-- POST /write with one meter reading per request, as Home Assistant's InfluxDB integration sends
-- it; every request carries a new nanosecond timestamp (seconds from os.time, a counter in the
-- nanosecond digits: Lua numbers are doubles and cannot hold a 19-digit integer exactly).
local common = dofile(os.getenv("RELAY_INGEST_LUA_DIR") .. "/common.lua")

setup = common.setup
response = common.response
done = common.done

local seconds
local counter = 0
local headers = {["Content-Type"] = "text/plain; charset=utf-8"}

function init(args)
    seconds = os.time()
end

function request()
    counter = counter + 1
    if counter >= 1000000000 then
        counter = 0
        seconds = seconds + 1
    end
    local body = string.format(
        "kWh,entity_id=haupt_strom,domain=input_number value=12345.6 %d%09d\n", seconds, counter)
    return wrk.format("POST", "/write?db=home_assistant", headers, body)
end
