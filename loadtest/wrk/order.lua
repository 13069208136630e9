-- wrk script: POST an order of one unit to flash sale $SALE with a fresh Idempotency-Key every
-- time, rotating over the buyer tokens listed in the file $TOKENS. Counts answers by status.
-- With BARE=1 it sends the same requests (headers, fresh keys) as GET /livez instead: a
-- baseline that costs the load generator what the orders cost it.
local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("thread_id", next_id)
  table.insert(threads, thread)
end

function init(args)
  tokens = {}
  for line in io.lines(os.getenv("TOKENS")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  path = "/api/v1/flash-sales/" .. os.getenv("SALE") .. "/orders"
  method, body = "POST", '{"quantity":1}'
  if os.getenv("BARE") == "1" then path, method, body = "/livez", "GET", nil end
  counter = 0
  s201, s409, s429, s503, other = 0, 0, 0, 0, 0
end

function request()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[(counter % #tokens) + 1],
    ["Idempotency-Key"] = "wrk-" .. thread_id .. "-" .. counter,
  }
  return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
  if status == 201 then s201 = s201 + 1
  elseif status == 409 then s409 = s409 + 1
  elseif status == 429 then s429 = s429 + 1
  elseif status == 503 then s503 = s503 + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local totals = { 0, 0, 0, 0, 0 }
  for _, t in ipairs(threads) do
    totals[1] = totals[1] + t:get("s201")
    totals[2] = totals[2] + t:get("s409")
    totals[3] = totals[3] + t:get("s429")
    totals[4] = totals[4] + t:get("s503")
    totals[5] = totals[5] + t:get("other")
  end
  io.write(string.format("statuses: 201=%d 409=%d 429=%d 503=%d other=%d\n", totals[1], totals[2], totals[3], totals[4], totals[5]))
end
