#!/usr/bin/env bash
# An organization's trail through S3: many small account-and-region folders, where the run is
# bound by round trips (the search for folders, then each folder's listings) more than by GETs.
#
#   bench/s3_many_folders.sh [OTHER_CTVERIFY_BINARY...]
#
# A synthetic signed trail (TEST keys) of LOGS log files (default 1000, 10-50 KB) over ACCOUNTS
# accounts (default 32) x REGIONS regions (default 4), uploaded to moto_server behind the delay
# proxy (DELAY_MS, default 50); `ctverify validate s3://BUCKET` (told nothing: it searches the
# bucket) RUNS times (default 3), and each other binary given in turn, so that two builds are
# compared in one run. Prints each run's time, peak RSS, the requests the server saw and the CPU
# time moto_server spent on them.
# Environment: LOGS, LOG_KB (inflated size, default 30), ACCOUNTS, REGIONS, DELAY_MS, RUNS, FORCE_REGEN=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

LOGS=${LOGS:-1000}
LOG_KB=${LOG_KB:-30}
ACCOUNTS=${ACCOUNTS:-32}
REGIONS=${REGIONS:-4}
DELAY_MS=${DELAY_MS:-50}
RUNS=${RUNS:-3}
BUCKET=ctverify-bench-trail

build_release
check_idle
ensure_moto
gen_trail "folders-$LOGS-$LOG_KB-$ACCOUNTS-$REGIONS" --logs "$LOGS" --log-kb "$LOG_KB" --logs-per-hour 6 \
    --regions "$REGIONS" --accounts "$ACCOUNTS" --bucket "$BUCKET"
START=$(summary_field start_time)
N_LOGS=$(summary_field logs)

RUN="$DATA/folders-run"
rm -rf "$RUN"
mkdir -p "$RUN"
SERVER_CPUS=()
CLIENT_CPUS=()
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    SERVER_CPUS=(taskset -c 0)
    CLIENT_CPUS=(taskset -c "1-$(($(nproc) - 1))")
fi
MOTO_PORT=$(free_port)
"${SERVER_CPUS[@]}" "$MOTO_SERVER" -H 127.0.0.1 -p "$MOTO_PORT" >"$RUN/moto.log" 2>&1 &
STARTED_PIDS+=($!)
MOTO_PID=$!
wait_port "$MOTO_PORT"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/nonexistent/bench-config AWS_SHARED_CREDENTIALS_FILE=/nonexistent/bench-credentials
"$BENCH_PYTHON" "$BENCH/tools/upload.py" --endpoint "http://127.0.0.1:$MOTO_PORT" --bucket "$BUCKET" "$TRAIL_DIR" >&2
PROXY_PORT=$(free_port)
"${CLIENT_CPUS[@]}" python3 "$BENCH/tools/delay_proxy.py" --listen-port "$PROXY_PORT" --upstream "127.0.0.1:$MOTO_PORT" \
    --delay-ms "$DELAY_MS" --log "$RUN/requests.log" 2>"$RUN/proxy.log" &
STARTED_PIDS+=($!)
wait_port "$PROXY_PORT"

echo
echo "== $ACCOUNTS accounts x $REGIONS regions, $N_LOGS logs, through moto_server + ${DELAY_MS} ms per request =="
echo "machine:   $(machine_line)"
for ((r = 1; r <= RUNS; r++)); do
    for bin in "$CTVERIFY" "$@"; do
        m0=$(proc_cpu "$MOTO_PID")
        t0=$(now)
        set +e
        "${CLIENT_CPUS[@]}" /usr/bin/time -o "$RUN/time" -f "%M" "$bin" validate "s3://$BUCKET" \
            --endpoint-url "http://127.0.0.1:$PROXY_PORT" --start-time "$START" --no-progress \
            --public-keys "$TRAIL_DIR/.ctverify/public-keys.json" >"$RUN/out.txt" 2>"$RUN/err.txt"
        rc=$?
        set -e
        t1=$(now)
        [ $rc = 0 ] || { tail -5 "$RUN/out.txt" "$RUN/err.txt" >&2; die "$bin exited $rc: not every file valid"; }
        requests=$(python3 -c "import sys; t0,t1=map(float,sys.argv[2:]); print(sum(1 for l in open(sys.argv[1]) if l.split() and t0 <= float(l.split()[0]) <= t1))" "$RUN/requests.log" "$t0" "$t1" 2>/dev/null || echo "?")
        moto=$(calc "round($(proc_cpu "$MOTO_PID") - $m0, 2)")
        echo "run $r  $(fmt "$(calc "$t1 - $t0")" .2f) s  peak RSS $(($(cat "$RUN/time") / 1024)) MB  $requests requests  moto_server CPU $moto s  $bin"
    done
done
