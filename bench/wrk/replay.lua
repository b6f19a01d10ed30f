-- Replays prepared HTTP requests, round-robin, for wrk (bench/run.py writes the file).
--
--   wrk -t2 -c16 -d20s -s bench/wrk/replay.lua http://127.0.0.1:8701 -- requests.tsv 2
--
-- Each line of the file is one request: method, path, then header lines and the body,
-- tab-separated: METHOD \t PATH \t Header: value \t Header: value ... \t BODY=<body>.
-- Thread i of n takes lines i, i+n, i+2n...: one-shot requests (a quiz submit, a filed
-- support request, a webhook event) are never sent twice unless the slice runs out, which
-- is reported ("wrapped"). Status codes are counted per thread; done() prints one JSON line.

local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

local function split(line)
  local out = {}
  for field in string.gmatch(line, "([^\t]*)\t?") do
    table.insert(out, field)
  end
  return out
end

function init(args)
  local path, nthreads = args[1], tonumber(args[2])
  prepared = {}
  statuses = {}
  sent = 0
  wrapped = 0
  local n = 0
  for line in io.lines(path) do
    if (n % nthreads) + 1 == id and #line > 0 then
      local fields = split(line)
      local method, target = fields[1], fields[2]
      local headers, body = {}, nil
      for i = 3, #fields do
        local f = fields[i]
        if string.sub(f, 1, 5) == "BODY=" then
          body = string.sub(f, 6)
        elseif #f > 0 then
          local name, value = string.match(f, "^([^:]+):%s*(.*)$")
          if name then
            headers[name] = value
          end
        end
      end
      table.insert(prepared, wrk.format(method, target, headers, body))
    end
    n = n + 1
  end
  index = 0
end

function request()
  index = index + 1
  if index > #prepared then
    index = 1
    wrapped = wrapped + 1
  end
  sent = sent + 1
  return prepared[index]
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  local wraps = 0
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, count in pairs(s) do
      counts[code] = (counts[code] or 0) + count
    end
    wraps = wraps + thread:get("wrapped")
  end
  local parts = {}
  for code, count in pairs(counts) do
    table.insert(parts, string.format('"%s": %d', code, count))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"p50": %d, "p90": %d, "p95": %d, "p99": %d, "max": %d, "mean": %.1f}, ' ..
    '"statuses": {%s}, "wrapped": %d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean,
    table.concat(parts, ", "), wraps))
end
