-- wrk script for bench/surveys.py: each thread POSTs its own slice of pre-built survey submissions
-- (one distinct invitation each), counts status classes, and stops when its slice is used up.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  bodies = {}
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == id then table.insert(bodies, line) end
    i = i + 1
  end
  path, cookie, deadline = args[3], args[4], tonumber(args[5])
  nxt, c2xx, c3xx, c4xx, c5xx, accepted = 1, 0, 0, 0, 0, 0
end

-- After the deadline (epoch seconds) no new submission starts, while those in flight finish and are
-- counted: every answer the server gave is seen by the client, so "accepted" can be compared with Postgres.
function delay()
  if os.time() >= deadline then return 3600000 end
  return 0
end

function request()
  if nxt > #bodies then
    -- Slice used up: stop. wrk still wants a request, and may send it: a harmless one, never a duplicate.
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  local body = bodies[nxt]
  nxt = nxt + 1
  return wrk.format("POST", path, {["Content-Type"] = "application/x-www-form-urlencoded",
                                   ["Cookie"] = cookie}, body)
end

function response(status, headers, body)
  if status >= 500 then c5xx = c5xx + 1
  elseif status >= 400 then c4xx = c4xx + 1
  elseif status >= 300 then
    c3xx = c3xx + 1
    -- 303 See Other to the thank-you page is the server's "saved" answer.
    if status == 303 and headers["Location"] and string.find(headers["Location"], "/thanks/", 1, true) then
      accepted = accepted + 1
    end
  else c2xx = c2xx + 1 end
end

function done(summary, latency, requests)
  local t = {c2xx = 0, c3xx = 0, c4xx = 0, c5xx = 0, accepted = 0}
  for _, thread in ipairs(threads) do
    for k, _ in pairs(t) do t[k] = t[k] + thread:get(k) end
  end
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"connect_errors": %d, "read_errors": %d, "write_errors": %d, "timeouts": %d, "c2xx": %d, "c3xx": %d, "c4xx": %d, "c5xx": %d, "accepted": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout,
    t.c2xx, t.c3xx, t.c4xx, t.c5xx, t.accepted))
end
