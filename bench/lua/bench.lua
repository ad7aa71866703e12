-- wrk script for every scenario. Arguments (after "--"): mode, items file, URL path, threads.
--
--   get      items are access tokens; requests walk through them in order, round robin.
--            A request sent after its thread's list ran out (a token sent once more) is
--            counted as "repeated": the sliding scenario's share of re-issues is of the others.
--   refresh  items are refresh tokens of distinct sessions, each sent at most once. Every
--            200 answer's new refresh token is queued and sent by the next request, so each
--            session rotates in a chain and every request carries a current-generation token
--            (a real rotation, never a grace-window replay). When the queue and the items run
--            out, a request is counted as "starved" (and sent with an empty token: a 4xx).
--   login    items are usernames; each request logs in with the bench password, from an
--            address of the user's own (X-Forwarded-For).
--   dpop     items are "<access token> <DPoP proof>" of DPoP-bound sessions, each proof for
--            this GET and sent once (a proof is single-use): requests walk through them in
--            order; when they run out, a request is "starved" (the last one again: a 401).
--
-- response() is defined for every mode (wrk then parses every answer), so both stacks pay
-- the same load-generator cost.
--
-- done() prints one line "BENCHJSON {...}" with the counts and latency percentiles (µs).

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("id", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

local items = {}
local next_item = 1
local fresh = {}      -- refresh tokens received, not yet sent (a FIFO)
local fresh_head = 1
local fresh_tail = 0
local mode, path
slid = 0              -- globals: read by done() through thread:get()
ok = 0
starved = 0
repeated = 0
local lapped = false  -- this thread's list ran out once: every token from now on is a repeat

function init(args)
   mode, path = args[1], args[3]
   local stride = tonumber(args[4])
   local index = 0
   for line in io.lines(args[2]) do
      if index % stride == id and #line > 0 then
         table.insert(items, line)
      end
      index = index + 1
   end
end

local json_headers = { ["Content-Type"] = "application/json" }

local function next_refresh_token()
   if fresh_head <= fresh_tail then
      local token = fresh[fresh_head]
      fresh[fresh_head] = nil
      fresh_head = fresh_head + 1
      return token
   end
   if next_item <= #items then
      next_item = next_item + 1
      return items[next_item - 1]
   end
   starved = starved + 1
   return ""
end

function request()
   if mode == "get" then
      local token = items[next_item]
      if lapped then
         repeated = repeated + 1
      end
      next_item = next_item % #items + 1
      lapped = lapped or next_item == 1
      return wrk.format("GET", path, { Authorization = "Bearer " .. token })
   elseif mode == "dpop" then
      if next_item > #items then
         starved = starved + 1
         next_item = #items
      end
      local token, proof = string.match(items[next_item], "^(%S+) (%S+)$")
      next_item = next_item + 1
      return wrk.format("GET", path, { Authorization = "DPoP " .. token, DPoP = proof })
   elseif mode == "refresh" then
      local body = '{"refresh":"' .. next_refresh_token() .. '"}'
      return wrk.format("POST", path, json_headers, body)
   else
      local username = items[next_item]
      -- Each user from an address of its own (the login throttle counts per address).
      local headers = { ["Content-Type"] = "application/json",
                        ["X-Forwarded-For"] = "198.18." .. math.floor(next_item / 250) .. "." ..
                           (next_item % 250) }
      next_item = next_item % #items + 1
      local body = '{"username":"' .. username .. '","password":"bench-password"}'
      return wrk.format("POST", path, headers, body)
   end
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
   end
   if mode == "refresh" and status == 200 then
      local token = string.match(body, '"refresh"%s*:%s*"([^"]+)"')
      if token then
         fresh_tail = fresh_tail + 1
         fresh[fresh_tail] = token
      end
   elseif (mode == "get" or mode == "dpop") and headers["NEW_HTTP_AUTHORIZATION"] then
      slid = slid + 1
   end
end

function done(summary, latency, requests)
   local totals = { slid = 0, ok = 0, starved = 0, repeated = 0 }
   for _, thread in ipairs(threads) do
      for name, _ in pairs(totals) do
         totals[name] = totals[name] + (thread:get(name) or 0)
      end
   end
   local e = summary.errors
   io.write(string.format(
      'BENCHJSON {"requests":%d,"duration_us":%d,"bytes":%d,'
         .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
         .. '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},'
         .. '"ok":%d,"slid":%d,"starved":%d,"repeated":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean, totals.ok, totals.slid, totals.starved, totals.repeated))
end
