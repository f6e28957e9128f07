-- POST /write with one prepared batch body, the same on every request (Telegraf-like batches).
-- Arguments after "--": BODY_FILE [gzip]. The shell script writes the body (and gzips it: wrk's
-- Lua has no zlib), so no request pays for building it.
local common = dofile(os.getenv("RELAY_INGEST_LUA_DIR") .. "/common.lua")

setup = common.setup
response = common.response
done = common.done

function init(args)
    local file = assert(io.open(args[1], "rb"), "cannot open the body file " .. tostring(args[1]))
    local body = file:read("*a")
    file:close()
    wrk.method = "POST"
    wrk.path = "/write?db=bench"
    wrk.body = body
    wrk.headers["Content-Type"] = "text/plain; charset=utf-8"
    if args[2] == "gzip" then
        wrk.headers["Content-Encoding"] = "gzip"
    end
    prepared = wrk.format()
end

function request()
    return prepared
end
