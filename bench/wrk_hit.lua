-- The hit scenario's script for wrk (Debian `wrk`, LuaJIT).
--
--   wrk -t1 -c64 -d5s -s bench/wrk_hit.lua 'http://127.0.0.1:<port>/?uid=' -- <uids> <prefix> [body]
--
-- Each request polls the next uid in turn (<prefix>0 .. <prefix><uids - 1>), so the load spreads
-- over <uids> queues; the requests are built once, in init(). With [body], every answer is also
-- checked against it: that costs the client time, so it is for a short check run, not a timed one.
-- done() prints one JSON line for bench/wrk.ts.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local uids = tonumber(args[1]) or 1
  local prefix = args[2] or "hit"
  local expected = args[3]
  prepared = {}
  for i = 1, uids do
    prepared[i] = wrk.format("GET", wrk.path .. prefix .. (i - 1))
  end
  turn = 0
  matched = 0
  mismatched = 0
  if expected ~= nil then
    response = function(status, headers, body)
      if status == 200 and body == expected then
        matched = matched + 1
      else
        mismatched = mismatched + 1
      end
    end
  end
end

function request()
  turn = turn % #prepared + 1
  return prepared[turn]
end

function done(summary, latency, requests)
  local matched_all, mismatched_all = 0, 0
  for _, thread in ipairs(threads) do
    matched_all = matched_all + thread:get("matched")
    mismatched_all = mismatched_all + thread:get("mismatched")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"durationUs":%d,"requests":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"status":%d,"timeout":%d,"p50Us":%d,"p99Us":%d,"maxUs":%d,"matched":%d,"mismatched":%d}\n',
    summary.duration, summary.requests, summary.bytes, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout, latency:percentile(50), latency:percentile(99), latency.max,
    matched_all, mismatched_all))
end
