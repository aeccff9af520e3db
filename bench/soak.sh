#!/usr/bin/env bash
# Soak test (not in CI): many chains over a long range, read through random S3 faults; the
# report must match a fault-free run for every file that could be read.
#
#   bench/soak.sh
#   FAULT_RATES="0.1 0.1 0.2 0.3" bench/soak.sh
#
# 1. A synthetic trail (examples/synth_trail.rs, TEST keys): ACCOUNTS x REGIONS chains (default
#    3 x 4 = 12), LOGS logs (default 6,000) of LOG_KB (default 12) KB, PER_HOUR (default 2) per
#    hourly digest: about 250 hours, ten days, per chain.
# 2. moto_server on loopback with the trail uploaded (digests with their signature metadata),
#    then tampered with directly (bench/tools/tamper.py): a log deleted, one rewritten, one
#    planted, one moved, a digest deleted.
# 3. A fault-free run: ctverify validate s3://BUCKET --format json --verbose (every file).
# 4. One run per rate in FAULT_RATES (default "0.1 0.2 0.5") through bench/tools/delay_proxy.py
#    injecting faults into that fraction of all requests, each round with its own seed: 500/503
#    answers, connection resets, bodies cut short, slow bodies (DELAY_MS, default 0, adds
#    latency). At 0.5 some files fail every retry: the round shows how they are reported.
# 5. bench/tools/compare_reports.py: every file the faulty run could read has the fault-free
#    status; files it could not read are `error` (never valid, never a tamper status), and only
#    logs vouched for by an unreadable digest may be `unverified` instead. The exit code must be
#    the fault-free one, or 3 (incomplete). Any mismatch fails the script.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

LOGS=${LOGS:-6000}
ACCOUNTS=${ACCOUNTS:-3}
REGIONS=${REGIONS:-4}
LOG_KB=${LOG_KB:-12}
PER_HOUR=${PER_HOUR:-2}
read -r -a RATES <<<"${FAULT_RATES:-0.1 0.2 0.5}"
ROUNDS=${#RATES[@]}
DELAY_MS=${DELAY_MS:-0}
BUCKET=ctverify-soak-trail

build_release
ensure_moto
# upload.py and tamper.py need botocore: moto_server's venv has it.
BENCH_PYTHON=${BENCH_PYTHON:-$(dirname "$MOTO_SERVER")/python}
gen_trail "soak-$LOGS-$ACCOUNTS-$REGIONS" --logs "$LOGS" --log-kb "$LOG_KB" --logs-per-hour "$PER_HOUR" \
    --regions "$REGIONS" --accounts "$ACCOUNTS" --bucket "$BUCKET"
START=$(summary_field start_time)
END=$(python3 -c "import datetime,sys; t=datetime.datetime.strptime(sys.argv[1],'%Y-%m-%dT%H:%M:%SZ')+datetime.timedelta(hours=1); print(t.strftime('%Y-%m-%dT%H:%M:%SZ'))" "$(summary_field last_digest_end)")

RUN="$DATA/soak-run"
rm -rf "$RUN"
mkdir -p "$RUN"

MOTO_PORT=$(free_port)
"$MOTO_SERVER" -H 127.0.0.1 -p "$MOTO_PORT" >"$RUN/moto.log" 2>&1 &
STARTED_PIDS+=($!)
wait_port "$MOTO_PORT"
MOTO="http://127.0.0.1:$MOTO_PORT"
say "uploading $(summary_field logs) logs + $(summary_field digests) digests to moto_server"
"$BENCH_PYTHON" "$BENCH/tools/upload.py" --endpoint "$MOTO" --bucket "$BUCKET" "$TRAIL_DIR" >&2
"$BENCH_PYTHON" "$BENCH/tools/tamper.py" --endpoint "$MOTO" --bucket "$BUCKET" "$TRAIL_DIR" >"$RUN/tampering.json"
say "tampered: $(cat "$RUN/tampering.json")"

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
KEYS="$TRAIL_DIR/.ctverify/public-keys.json"

# run ENDPOINT OUT: one verbose json run; prints the exit code.
run() {
    local rc=0
    "$CTVERIFY" validate "s3://$BUCKET" --endpoint-url "$1" --public-keys "$KEYS" \
        --start-time "$START" --end-time "$END" --format json --verbose --no-progress \
        >"$2" 2>"$2.err" || rc=$?
    echo "$rc"
}

t0=$(now)
BASE_RC=$(run "$MOTO" "$RUN/baseline.json")
BASE_TIME=$(calc "round($(now) - $t0, 1)")
python3 - "$RUN/baseline.json" "$RUN/tampering.json" <<'PY' || die "the fault-free run did not find the tampering"
import json, sys
report, done = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
status = {f["key"]: f for f in report["files"]}
want = {done["log_deleted"]: "not_found", done["log_modified"]: "hash_mismatch",
        done["log_planted"]: "unreferenced", done["log_moved"]["from"]: "moved",
        done["digest_deleted"]: "not_found"}
bad = {k: (status.get(k) or {}).get("status") for k, v in want.items() if (status.get(k) or {}).get("status") != v}
if bad:
    print("fault-free run misses the tampering:", bad, file=sys.stderr); sys.exit(1)
PY
[ "$BASE_RC" = 1 ] || die "fault-free run exited $BASE_RC, expected 1 (tampering found)"
say "fault-free run: exit $BASE_RC in $BASE_TIME s, tampering found"

FAILED=0
LINES=()
for ((r = 1; r <= ROUNDS; r++)); do
    FAULT_RATE=${RATES[$((r - 1))]}
    PROXY_PORT=$(free_port)
    python3 "$BENCH/tools/delay_proxy.py" --listen-port "$PROXY_PORT" --upstream "127.0.0.1:$MOTO_PORT" \
        --delay-ms "$DELAY_MS" --fault-rate "$FAULT_RATE" --fault-seed "$r" \
        --fault-counts "$RUN/faults-$r.json" --log "$RUN/requests-$r.log" 2>"$RUN/proxy-$r.log" &
    PROXY_PID=$!
    STARTED_PIDS+=($PROXY_PID)
    wait_port "$PROXY_PORT"
    say "round $r/$ROUNDS: faults in $FAULT_RATE of requests (seed $r)"
    t0=$(now)
    RC=$(run "http://127.0.0.1:$PROXY_PORT" "$RUN/faulty-$r.json")
    T=$(calc "round($(now) - $t0, 1)")
    sleep 1.2 # the proxy writes its fault counts every second
    kill "$PROXY_PID" 2>/dev/null || true
    FAULTS=$(cat "$RUN/faults-$r.json" 2>/dev/null || echo '{}')
    REQUESTS=$(wc -l <"$RUN/requests-$r.log")
    if [ ! -s "$RUN/faulty-$r.json" ]; then
        LINES+=("round $r: exit $RC, no report ($(tail -1 "$RUN/faulty-$r.json.err"))")
        # A listing that fails after every retry ends the run (exit 3, nothing verified):
        # allowed, never a wrong verdict.
        [ "$RC" = 3 ] || FAILED=1
        continue
    fi
    set +e
    CMP=$(python3 "$BENCH/tools/compare_reports.py" "$RUN/baseline.json" "$RUN/faulty-$r.json" 2>"$RUN/compare-$r.txt")
    CMP_RC=$?
    set -e
    OK=yes
    [ $CMP_RC = 0 ] || OK=no
    [ "$RC" = "$BASE_RC" ] || [ "$RC" = 3 ] || OK=no
    [ $OK = yes ] || FAILED=1
    LINES+=("round $r, faults in $FAULT_RATE of requests: exit $RC in $T s, $REQUESTS requests, faults $FAULTS; files $CMP; ok: $OK")
done

echo
echo "== soak: $ACCOUNTS accounts x $REGIONS regions, $(summary_field logs) logs + $(summary_field digests) digests, $START .. $END =="
echo "machine:   $(machine_line)"
echo "ctverify:  $(git -C "$ROOT" rev-parse --short HEAD) $(git -C "$ROOT" status --porcelain --untracked-files=no | grep -q . && echo '(uncommitted changes)')"
echo "tampering: $(cat "$RUN/tampering.json")"
echo "fault-free run: exit $BASE_RC in $BASE_TIME s"
for line in "${LINES[@]}"; do echo "  $line"; done
if [ $FAILED = 0 ]; then
    echo "every file that could be read has its fault-free status; unreadable files are error, never valid or tampered"
else
    echo "MISMATCHES: see $RUN/compare-*.txt"
fi
echo "outputs: $RUN"
exit $FAILED
