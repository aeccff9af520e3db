#!/usr/bin/env bash
# ctverify against `aws cloudtrail validate-logs` through S3, with 50 ms added to every request.
#
#   bench/s3_vs_awscli.sh
#
# 1. A synthetic signed trail (examples/synth_trail.rs, TEST keys): LOGS log files (default 1000,
#    100-500 KB inflated each, 6 per hourly digest, one chain) in bench/data/s3-LOGS/.
# 2. moto_server on loopback, the trail uploaded to it (digests with their signature metadata);
#    bench/tools/delay_proxy.py in front of it adding DELAY_MS (default 50) to every request;
#    bench/tools/fake_cloudtrail.py answering ListPublicKeys / DescribeTrails.
# 3. The AWS CLI v1 (PyPI awscli) `cloudtrail validate-logs --trail-arn ARN` and
#    `ctverify validate --trail-arn ARN` with the same arguments (RUNS times, default 3; the
#    median counts), both with AWS_ENDPOINT_URL_S3=PROXY, over the same range; both must report
#    every file valid. Target: ctverify >= 30x faster. Also `ctverify validate s3://BUCKET`,
#    which is told nothing and searches the bucket, for comparison.
# 4. The server's own ceiling through the same proxy on the same log objects: wrk (or, without
#    it, bench/tools/loadgen.py) GETting them at several concurrencies (WRK_CONNS), the best
#    rate counts. Target: ctverify's object rate >= 0.8 of it.
#
# Environment: LOGS, DELAY_MS, RUNS, WRK_CONNS ("16 32 64 128 256"), WRK_SECONDS (10),
# MOTO_SERVERS (default 1: with N, N moto_server processes each hold the trail and the proxy
# sends requests to them in turn, raising the server's ceiling on a machine with cores to spare),
# PIN (default 1: moto_server alone on CPU 0, proxy and clients on the other CPUs; 0: no
# pinning), CTVERIFY_ARGS (extra ctverify options, e.g. "--concurrency 128"), SKIP_AWSCLI=1 (skip the slow
# AWS CLI run), FORCE_REGEN=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

LOGS=${LOGS:-1000}
DELAY_MS=${DELAY_MS:-50}
RUNS=${RUNS:-3}
WRK_CONNS=${WRK_CONNS:-"16 32 64 128 256"}
WRK_SECONDS=${WRK_SECONDS:-10}
MOTO_SERVERS=${MOTO_SERVERS:-1}
BUCKET=ctverify-bench-trail
ACCOUNT=111122223333
TRAIL_ARN="arn:aws:cloudtrail:us-east-1:$ACCOUNT:trail/bench-trail"
read -r -a EXTRA <<<"${CTVERIFY_ARGS:-}"

build_release
check_idle
ensure_awscli
ensure_moto
HAVE_WRK=0
ensure_tool wrk wrk && HAVE_WRK=1

gen_trail "s3-$LOGS" --logs "$LOGS" --log-kb 300 --logs-per-hour 6 --regions 1 --accounts 1 --bucket "$BUCKET"
[ "$(summary_field account_ids)" = "$ACCOUNT" ] || die "unexpected account in $TRAIL_SUMMARY"
N_LOGS=$(summary_field logs)
N_DIGESTS=$(summary_field digests)
INFLATED=$(summary_field inflated_bytes)
GZIPPED=$(summary_field gzipped_bytes)
START=$(summary_field start_time)
# One hour past the last digest: the same fixed range for both tools.
END=$(python3 -c "import datetime,sys; t=datetime.datetime.strptime(sys.argv[1],'%Y-%m-%dT%H:%M:%SZ')+datetime.timedelta(hours=1); print(t.strftime('%Y-%m-%dT%H:%M:%SZ'))" "$(summary_field last_digest_end)")

RUN="$DATA/s3-run"
rm -rf "$RUN"
mkdir -p "$RUN"

# --- servers -----------------------------------------------------------------------------
# Pinning: moto_server (one Python process, bound by its GIL to about one core) gets CPU 0 to
# itself; the proxy and the clients (ctverify, wrk, the AWS CLI) share the others. Without it,
# on a small machine the client's own CPU work (inflate, hash) takes cycles from the server and
# the figure would measure the contention rather than the client. PIN=0 turns it off.
SERVER_CPUS=()
CLIENT_CPUS=()
if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    NP=$(nproc)
    SERVER_CPUS=(taskset -c "0-$((MOTO_SERVERS - 1 < NP - 2 ? MOTO_SERVERS - 1 : NP - 2))")
    CLIENT_CPUS=(taskset -c "$((MOTO_SERVERS - 1 < NP - 2 ? MOTO_SERVERS : NP - 1))-$((NP - 1))")
    PIN_NOTE="moto_server on CPU ${SERVER_CPUS[2]}, proxy and clients on CPU ${CLIENT_CPUS[2]}"
else
    PIN_NOTE="no CPU pinning"
fi

MOTO_PIDS=()
UPSTREAMS=()
for ((m = 1; m <= MOTO_SERVERS; m++)); do
    MOTO_PORT=$(free_port)
    "${SERVER_CPUS[@]}" "$MOTO_SERVER" -H 127.0.0.1 -p "$MOTO_PORT" >"$RUN/moto-$m.log" 2>&1 &
    STARTED_PIDS+=($!)
    MOTO_PIDS+=($!)
    wait_port "$MOTO_PORT"
    say "uploading $N_LOGS logs + $N_DIGESTS digests to moto_server :$MOTO_PORT"
    "$BENCH_PYTHON" "$BENCH/tools/upload.py" --endpoint "http://127.0.0.1:$MOTO_PORT" --bucket "$BUCKET" "$TRAIL_DIR"
    UPSTREAMS+=(--upstream "127.0.0.1:$MOTO_PORT")
done
moto_cpu() { local t=0 p; for p in "${MOTO_PIDS[@]}"; do t=$(calc "$t + $(proc_cpu "$p")"); done; echo "$t"; }

PROXY_PORT=$(free_port)
"${CLIENT_CPUS[@]}" python3 "$BENCH/tools/delay_proxy.py" --listen-port "$PROXY_PORT" "${UPSTREAMS[@]}" \
    --delay-ms "$DELAY_MS" --stats "$RUN/proxy.jsonl" --log "$RUN/requests.log" 2>"$RUN/proxy.log" &
STARTED_PIDS+=($!)
PROXY_PID=$!
wait_port "$PROXY_PORT"
PROXY="http://127.0.0.1:$PROXY_PORT"

CT_PORT=$(free_port)
python3 "$BENCH/tools/fake_cloudtrail.py" --port "$CT_PORT" --bundle "$TRAIL_DIR" \
    --trail-arn "$TRAIL_ARN" --bucket "$BUCKET" 2>"$RUN/cloudtrail.log" &
STARTED_PIDS+=($!)
wait_port "$CT_PORT"

# Both tools: fixed test credentials, no profile, S3 through the proxy, CloudTrail stand-in.
cat >"$RUN/aws-config" <<EOF
[default]
region = us-east-1
s3 =
    addressing_style = path
EOF
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_CONFIG_FILE="$RUN/aws-config" AWS_SHARED_CREDENTIALS_FILE=/nonexistent/bench-credentials
export AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_S3="$PROXY"
export AWS_ENDPOINT_URL_CLOUDTRAIL="http://127.0.0.1:$CT_PORT"

# The proxy really adds the delay: one small GET through it and one around it.
KEY1=$(cd "$TRAIL_DIR" && find AWSLogs -path '*/CloudTrail/*' -name '*.json.gz' | sort | sed -n 1p)
AUTH='Authorization: AWS4-HMAC-SHA256 Credential=testing/20240501/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00'
lat() { python3 - "$1" "$AUTH" <<'EOF'
import sys, time, urllib.request
url, auth = sys.argv[1], sys.argv[2]
best = 1e9
for _ in range(5):
    req = urllib.request.Request(url, headers=dict([auth.split(": ", 1)]))
    t = time.monotonic()
    urllib.request.urlopen(req).read()
    best = min(best, time.monotonic() - t)
print(f"{best * 1000:.1f}")
EOF
}
LAT_DIRECT=$(lat "http://127.0.0.1:$MOTO_PORT/$BUCKET/$KEY1")  # the last moto_server
LAT_PROXY=$(lat "$PROXY/$BUCKET/$KEY1")
say "one GET: ${LAT_DIRECT} ms direct, ${LAT_PROXY} ms through the proxy"

# --- ctverify ------------------------------------------------------------------------------
# Two command lines, RUNS times each (the median counts):
#   trail:  ctverify validate --trail-arn ARN --start-time --end-time  -- the AWS CLI's own
#           arguments, so both tools are told the same thing (the trail, hence its account and
#           home region) and find the bucket with the same DescribeTrails. This is the speed-up.
#   bucket: ctverify validate s3://BUCKET --endpoint-url PROXY  -- nothing named: ctverify
#           searches the bucket for every account, region and trail (a few listings more).
# Sets CT_TIME_<mode>, CT_T0_<mode>, CT_T1_<mode>, CT_TIMES_<mode>, CT_CPU_<mode>.
ct_runs() {
    local mode=$1; shift
    local times=() windows=() cpu=() motos=() r m0 p0 t0 t1 rc cu cs crss m1
    for ((r = 1; r <= RUNS; r++)); do
        say "ctverify ($mode) run $r/$RUNS"
        m0=$(moto_cpu)
        p0=$(proc_cpu "$PROXY_PID")
        t0=$(now)
        set +e
        "${CLIENT_CPUS[@]}" /usr/bin/time -o "$RUN/ctverify-$mode-$r.time" -f "%U %S %M" \
            "$CTVERIFY" validate "$@" --start-time "$START" --end-time "$END" \
            --no-progress "${EXTRA[@]}" >"$RUN/ctverify-$mode-$r.txt" 2>"$RUN/ctverify-$mode-$r.err"
        rc=$?
        set -e
        t1=$(now)
        read -r cu cs crss <"$RUN/ctverify-$mode-$r.time"
        m1=$(calc "round($(moto_cpu) - $m0, 2)")
        motos+=("$m1")
        cpu+=("ctverify $(calc "round($cu + $cs, 2)") s (peak RSS $((crss / 1024)) MB), moto_server $m1 s, proxy $(calc "round($(proc_cpu "$PROXY_PID") - $p0, 2)") s")
        grep -q "^$N_LOGS/$N_LOGS log files valid" "$RUN/ctverify-$mode-$r.txt" && [ $rc = 0 ] ||
            { tail -20 "$RUN/ctverify-$mode-$r.txt" "$RUN/ctverify-$mode-$r.err" >&2; die "ctverify ($mode) did not report all $N_LOGS logs valid (exit $rc)"; }
        times+=("$(calc "$t1 - $t0")")
        windows+=("$t0 $t1")
        sleep 1
    done
    local median
    median=$(python3 -c "import sys; v=[float(x) for x in sys.argv[1:]]; s=sorted(range(len(v)), key=v.__getitem__); print(s[len(v)//2])" "${times[@]}")
    printf -v "CT_TIME_$mode" '%s' "${times[$median]}"
    printf -v "CT_TIMES_$mode" '%s' "$(for t in "${times[@]}"; do fmt "$t" .2f; done | tr '\n' ' ')"
    printf -v "CT_CPU_$mode" '%s' "${cpu[$median]}"
    printf -v "CT_MOTO_$mode" '%s' "${motos[$median]}"
    read -r "CT_T0_$mode" "CT_T1_$mode" <<<"${windows[$median]}"
}
ct_runs trail --trail-arn "$TRAIL_ARN"
ct_runs bucket "s3://$BUCKET" --endpoint-url "$PROXY"
CT_TIME=$CT_TIME_trail

# --- the server's ceiling through the proxy ---------------------------------------------------
(cd "$TRAIL_DIR" && find AWSLogs -path '*/CloudTrail/*' -name '*.json.gz' | sort | sed "s|^|/$BUCKET/|") >"$RUN/paths.txt"
CEILING=0
CEILING_AT=""
CEILING_LINES=()
for c in $WRK_CONNS; do
    m0=$(moto_cpu)
    if [ $HAVE_WRK = 1 ]; then
        line=$(WRK_PATHS="$RUN/paths.txt" "${CLIENT_CPUS[@]}" wrk -t2 -c"$c" -d"${WRK_SECONDS}s" --timeout 30s \
            -s "$BENCH/tools/get_paths.lua" "$PROXY" | grep WRK_RESULT)
        rate=$(python3 -c "import sys; d=dict(kv.split('=') for kv in sys.argv[1].split()[1:]); print(int(d['requests'])/(int(d['duration_us'])/1e6) if int(d['non200'])==0 else 0)" "$line")
        tool="wrk"
    else
        line=$("${CLIENT_CPUS[@]}" python3 "$BENCH/tools/loadgen.py" --url "$PROXY" --paths "$RUN/paths.txt" -c "$c" -d "$WRK_SECONDS")
        rate=$(python3 -c "import sys; d=dict(kv.split('=') for kv in sys.argv[1].split()[1:]); print(d['rate'] if int(d['non200'])==0 else 0)" "$line")
        tool="loadgen.py (wrk unavailable; Python load generator, a LOWER ceiling)"
    fi
    moto_ms=$(calc "1000 * ($(moto_cpu) - $m0) / max(1, $rate * $WRK_SECONDS)")
    CEILING_LINES+=("    $c connections: $(fmt "$rate" .0f) GET/s, moto_server $(fmt "$moto_ms" .2f) CPU-ms/GET   ($line)")
    if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$rate" "$CEILING"; then
        CEILING=$rate
        CEILING_AT=$c
    fi
    sleep 1
done

# --- the AWS CLI ------------------------------------------------------------------------------
if [ "${SKIP_AWSCLI:-0}" != 1 ]; then
    say "aws cloudtrail validate-logs (sequential; takes a while)"
    t0=$(now)
    set +e
    "${CLIENT_CPUS[@]}" "$AWS" cloudtrail validate-logs --trail-arn "$TRAIL_ARN" --start-time "$START" --end-time "$END" \
        >"$RUN/awscli.txt" 2>"$RUN/awscli.err"
    rc=$?
    set -e
    t1=$(now)
    AWS_T0=$t0
    AWS_T1=$t1
    grep -q "^$N_LOGS/$N_LOGS log files valid" "$RUN/awscli.txt" && [ $rc = 0 ] ||
        { tail -20 "$RUN/awscli.txt" "$RUN/awscli.err" >&2; die "the AWS CLI did not report all $N_LOGS logs valid (exit $rc)"; }
    AWS_TIME=$(calc "$t1 - $t0")
fi

# --- report ---------------------------------------------------------------------------------
OBJECTS=$((N_LOGS + N_DIGESTS))
CT_RATE=$(calc "$OBJECTS / $CT_TIME")
echo
echo "== ctverify vs aws cloudtrail validate-logs, through S3 ($MOTO_SERVERS moto_server + ${DELAY_MS} ms per request) =="
echo "machine:   $(machine_line) ${BUSY_NOTE}"
echo "ctverify:  $CTVERIFY_REV   ${EXTRA[*]:-}"
echo "aws cli:   $AWSCLI_VERSION"
echo "trail:     $N_LOGS logs + $N_DIGESTS digests, 1 chain, $(fmt "$(calc "$INFLATED/1e6")" .0f) MB inflated, $(fmt "$(calc "$GZIPPED/1e6")" .0f) MB gzipped; range $START .. $END"
echo "one GET:   ${LAT_DIRECT} ms direct to moto, ${LAT_PROXY} ms through the proxy; $PIN_NOTE"
echo
for mode in trail bucket; do
    t0_var="CT_T0_$mode"; t1_var="CT_T1_$mode"; time_var="CT_TIME_$mode"; times_var="CT_TIMES_$mode"; cpu_var="CT_CPU_$mode"
    case $mode in
        trail) echo "ctverify validate --trail-arn ARN (the AWS CLI's arguments) runs (s): ${!times_var} median $(fmt "${!time_var}" .2f) s" ;;
        bucket) echo "ctverify validate s3://$BUCKET (nothing named: searches the bucket) runs (s): ${!times_var} median $(fmt "${!time_var}" .2f) s" ;;
    esac
    echo "  CPU during the median run ($(fmt "${!time_var}" .2f) s wall): ${!cpu_var}"
    python3 "$BENCH/tools/proxy_window.py" "$RUN/proxy.jsonl" "${!t0_var}" "${!t1_var}"
    python3 "$BENCH/tools/request_timeline.py" "$RUN/requests.log" "${!t0_var}" "${!t1_var}" --step 0.25 \
        --delay "$(calc "$DELAY_MS / 1000")"
done
echo
echo "server ceiling through the proxy ($tool, ${WRK_SECONDS}s each, GETs of the $N_LOGS log objects):"
printf '%s\n' "${CEILING_LINES[@]}"
echo "  ceiling: $(fmt "$CEILING" .0f) GET/s (at $CEILING_AT connections)"
echo
FRACTION=$(calc "$CT_RATE / $CEILING")
echo "ctverify object rate (--trail-arn): $OBJECTS objects / $(fmt "$CT_TIME" .2f) s = $(fmt "$CT_RATE" .0f) objects/s"
echo "  = $(fmt "$FRACTION" .2f) of the server's ceiling   (target >= 0.80: $(verdict "$FRACTION" '>=' 0.8))"
echo "  s3://$BUCKET: $(fmt "$(calc "$OBJECTS / $CT_TIME_bucket")" .0f) objects/s = $(fmt "$(calc "$OBJECTS / $CT_TIME_bucket / $CEILING")" .2f) of the ceiling"
if [ "${SKIP_AWSCLI:-0}" != 1 ]; then
    python3 "$BENCH/tools/proxy_window.py" "$RUN/proxy.jsonl" "$AWS_T0" "$AWS_T1" | sed 's/^  proxy/  aws cli: proxy/'
    SPEEDUP=$(calc "$AWS_TIME / $CT_TIME")
    echo "aws cloudtrail validate-logs:  $(fmt "$AWS_TIME" .1f) s  ($(fmt "$(calc "$N_LOGS / $AWS_TIME")" .1f) logs/s)"
    echo "ctverify validate --trail-arn: $(fmt "$CT_TIME" .2f) s  ($(fmt "$(calc "$N_LOGS / $CT_TIME")" .0f) logs/s)"
    echo "speed-up: $(fmt "$SPEEDUP" .1f)x   (target >= 30x: $(verdict "$SPEEDUP" '>=' 30))"
    echo "  ctverify validate s3://$BUCKET: $(fmt "$CT_TIME_bucket" .2f) s, $(fmt "$(calc "$AWS_TIME / $CT_TIME_bucket")" .1f)x"
    echo "  the most any client could reach against this server: $OBJECTS objects at the ceiling's $(fmt "$CEILING" .0f) GET/s = $(fmt "$(calc "$OBJECTS / $CEILING")" .2f) s, i.e. $(fmt "$(calc "$AWS_TIME * $CEILING / $OBJECTS")" .1f)x the AWS CLI"
    # moto_server works on one request at a time (one core, its GIL) and nothing reaches it
    # before one proxy delay has passed: a run making ctverify's requests, its log folder
    # listing included, cannot take less than that delay plus the CPU moto spent on them.
    FLOOR=$(calc "$DELAY_MS / 1000 + $CT_MOTO_trail")
    echo "  with ctverify's own requests (its listings included: moto_server spent $(fmt "$CT_MOTO_trail" .2f) s of CPU on the median run's), after the first ${DELAY_MS} ms: at least $(fmt "$FLOOR" .2f) s, i.e. at most $(fmt "$(calc "$AWS_TIME / $FLOOR")" .1f)x; ctverify took $(fmt "$(calc "$CT_TIME / $FLOOR")" .2f) of that"
else
    echo "(AWS CLI skipped: SKIP_AWSCLI=1)"
fi
echo "outputs: $RUN"
