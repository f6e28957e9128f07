-- POST /write with prepared batch bodies (Telegraf-like batches), taken in turn.
-- Arguments after "--": BODY_FILE[,BODY_FILE...] [gzip]. The shell script writes the bodies (and
-- gzips them: wrk's Lua has no zlib), so no request pays for building one. Several bodies with
-- different timestamps make every batch write new points, as Telegraf's do; one body repeated
-- rewrites the same points again and again.
local common = dofile(os.getenv("RELAY_INGEST_LUA_DIR") .. "/common.lua")

done = common.done

local prepared = {}
local next_body = 0

function init(args)
    wrk.method = "POST"
    wrk.path = "/write?db=bench"
    wrk.headers["Content-Type"] = "text/plain; charset=utf-8"
    if args[2] == "gzip" then
        wrk.headers["Content-Encoding"] = "gzip"
    end
    for name in string.gmatch(args[1], "[^,]+") do
        local file = assert(io.open(name, "rb"), "cannot open the body file " .. name)
        wrk.body = file:read("*a")
        file:close()
        prepared[#prepared + 1] = wrk.format()
    end
end

function request()
    next_body = next_body % #prepared + 1
    return prepared[next_body]
end
