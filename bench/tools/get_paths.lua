-- wrk script: GET every path listed in the file named by the WRK_PATHS environment variable,
-- in turn (each thread starting at its own offset), shaped like the AWS SDK's GetObject
-- (`?x-id=GetObject`, checksum mode, content-sha256, a SigV4-shaped Authorization header:
-- moto_server does not check signatures but answers anonymous GETs of private objects with 403),
-- so the server does the same work per request as for ctverify's.
--   WRK_PATHS=paths.txt wrk -t2 -c64 -d10s -s get_paths.lua http://127.0.0.1:PORT
local paths = {}
local counter = 0
local thread_no = 0
local threads = {}

function setup(thread)
   thread:set("id", thread_no)
   thread_no = thread_no + 1
   table.insert(threads, thread)
end

function init(args)
   for line in io.lines(os.getenv("WRK_PATHS")) do
      if #line > 0 then
         paths[#paths + 1] = line
      end
   end
   counter = (id * 7919) % #paths
   non200 = 0
   wrk.headers["Authorization"] =
      "AWS4-HMAC-SHA256 Credential=testing/20240501/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000"
   wrk.headers["x-amz-date"] = "20240501T000000Z"
   wrk.headers["x-amz-checksum-mode"] = "ENABLED"
   wrk.headers["x-amz-content-sha256"] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
   wrk.headers["User-Agent"] = "wrk (bench/tools/get_paths.lua)"
end

function request()
   counter = counter % #paths + 1
   return wrk.format("GET", paths[counter] .. "?x-id=GetObject")
end

function response(status, headers, body)
   if status ~= 200 then
      non200 = non200 + 1
   end
end

function done(summary, latency, requests)
   local bad = 0
   for _, t in ipairs(threads) do
      bad = bad + (t:get("non200") or 0)
   end
   io.write(string.format("WRK_RESULT requests=%d duration_us=%d non200=%d errors=%d p50_ms=%.1f p99_ms=%.1f bytes=%d\n",
      summary.requests, summary.duration, bad,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, summary.bytes))
end
