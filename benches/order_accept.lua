-- wrk script: accept registered orders (POST /api/v1/orders/{id}/actions/accept with the
-- version 1 the seeder gave them), each order once: thread t of n (WD_THREADS, wrk's
-- -t) takes ids first + t, first + t + n, …  Token from WD_TOKEN, ids from WD_FIRST /
-- WD_LAST.
local first = tonumber(os.getenv("WD_FIRST"))
local last = tonumber(os.getenv("WD_LAST"))
local stride = tonumber(os.getenv("WD_THREADS"))
local counter = 0

function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
end

function init(args)
  nextid = first + offset
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("WD_TOKEN")
  wrk.body = '{"version":1,"note":"压测受理"}'
end

function request()
  local id = nextid
  nextid = nextid + stride
  if id > last then
    id = last -- out of orders: the request gets a 409 and is counted as an error
  end
  return wrk.format(nil, "/api/v1/orders/" .. id .. "/actions/accept")
end

function response(status, headers, body)
  if status ~= 200 then
    errors = (errors or 0) + 1
    if errors < 5 then io.stderr:write("unexpected status " .. status .. " " .. body .. "\n") end
  end
end
