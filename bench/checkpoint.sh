#!/usr/bin/env bash
# What `validate --checkpoint` saves an hourly job on a year-long trail (issue 21, point 6): a
# checkpointed run over a trail with one new hour should cost about one hour's verification plus
# the listings, where a full run verifies the whole year again.
#
#   bench/checkpoint.sh
#   HOURS=2000 bench/checkpoint.sh              # a shorter trail (generates and uploads faster)
#
# 1. A synthetic signed trail (examples/synth_trail.rs, TEST keys): one chain of HOURS hourly
#    digests (default 8,760: a year), PER_HOUR log files each (default 1) of LOG_KB KB
#    inflated (default 4: 1-7 KB), uploaded to moto_server behind bench/tools/delay_proxy.py
#    (DELAY_MS, default 50, per request; a line per request, counted by kind with
#    bench/tools/request_kinds.py); bench/tools/fake_cloudtrail.py answers ListPublicKeys.
# 2. Three runs of `ctverify validate s3://BUCKET --start-time FIRST`, the same binary:
#    - full: --end-time just after the last digest, no checkpoint: what an hourly job does
#      without one (the baseline);
#    - checkpointed, first: --end-time just after the second-to-last digest, --checkpoint FILE
#      (a local file, outside the bucket): verifies everything and writes FILE;
#    - checkpointed, one new hour: --end-time just after the last digest, --checkpoint FILE,
#      RUNS times (default 3; each from a copy of the checkpoint the first run wrote; the
#      median counts). Its report must say checkpoint.chains_resumed = 1 and no changed day.
#    Every run must exit 0 with every digest and log in its range valid.
# 3. Prints, for each run, wall time, requests by kind (folder listing pages of the digest and
#    log folders, search listings, digest GETs, log GETs, other) and moto_server's CPU; the
#    full / one-new-hour ratios; and what "one hour's verification plus the listings" is in
#    requests (the new digest and its logs, the checkpoint's anchor digest and its logs read
#    again, ceil(objects / 1000) ListObjectsV2 pages for each of the two folders) beside what
#    the run made.
#
# Environment: HOURS, PER_HOUR, LOG_KB, DELAY_MS, RUNS, CTVERIFY_ARGS (extra ctverify options),
# PIN (default 1: moto_server alone on CPU 0, proxy and ctverify on the others), FORCE_REGEN=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

HOURS=${HOURS:-8760}
PER_HOUR=${PER_HOUR:-1}
LOG_KB=${LOG_KB:-4}
DELAY_MS=${DELAY_MS:-50}
RUNS=${RUNS:-3}
BUCKET=ctverify-bench-trail
read -r -a EXTRA <<<"${CTVERIFY_ARGS:-}"
[ "$HOURS" -ge 2 ] || die "HOURS must be at least 2"
SCRIPT_T0=$(now)

build_release
check_idle
ensure_moto

gen_trail "checkpoint-$HOURS-$PER_HOUR-$LOG_KB" --logs "$((HOURS * PER_HOUR))" --log-kb "$LOG_KB" \
    --logs-per-hour "$PER_HOUR" --regions 1 --accounts 1 --bucket "$BUCKET"
N_LOGS=$(summary_field logs)
N_DIGESTS=$(summary_field digests)
[ "$N_DIGESTS" = "$HOURS" ] || die "$TRAIL_SUMMARY: $N_DIGESTS digests, not $HOURS"
GZIPPED=$(summary_field gzipped_bytes)
START=$(summary_field start_time)
FIRST=$(summary_field first_digest_end)
LAST=$(summary_field last_digest_end)
# Digests are hourly: the second-to-last ends an hour before the last. Each range ends a minute
# after its newest digest.
shift_time() { python3 -c "import datetime,sys; t=datetime.datetime.strptime(sys.argv[1],'%Y-%m-%dT%H:%M:%SZ')+datetime.timedelta(seconds=int(sys.argv[2])); print(t.strftime('%Y-%m-%dT%H:%M:%SZ'))" "$1" "$2"; }
END_LAST=$(shift_time "$LAST" 60)
END_BEFORE=$(shift_time "$LAST" -3540)
DIGEST_KEYS=$(cd "$TRAIL_DIR" && find AWSLogs -path '*/CloudTrail-Digest/*' -type f | wc -l)
LOG_KEYS=$(cd "$TRAIL_DIR" && find AWSLogs -path '*/CloudTrail/*' -type f | wc -l)

RUN="$DATA/checkpoint-run"
rm -rf "$RUN"
mkdir -p "$RUN"
CHECKPOINT="$RUN/checkpoint.json"

# --- servers -----------------------------------------------------------------------------
SERVER_CPUS=()
CLIENT_CPUS=()
if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    SERVER_CPUS=(taskset -c 0)
    CLIENT_CPUS=(taskset -c "1-$(($(nproc) - 1))")
    PIN_NOTE="moto_server on CPU 0, proxy and ctverify on CPU ${CLIENT_CPUS[2]}"
else
    PIN_NOTE="no CPU pinning"
fi
MOTO_PORT=$(free_port)
"${SERVER_CPUS[@]}" "$MOTO_SERVER" -H 127.0.0.1 -p "$MOTO_PORT" >"$RUN/moto.log" 2>&1 &
STARTED_PIDS+=($!)
MOTO_PID=$!
wait_port "$MOTO_PORT"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/nonexistent/bench-config AWS_SHARED_CREDENTIALS_FILE=/nonexistent/bench-credentials
say "uploading $N_LOGS logs + $N_DIGESTS digests to moto_server :$MOTO_PORT"
T_UP=$(now)
"$BENCH_PYTHON" "$BENCH/tools/upload.py" --endpoint "http://127.0.0.1:$MOTO_PORT" --bucket "$BUCKET" "$TRAIL_DIR" >&2
say "uploaded in $(fmt "$(calc "$(now) - $T_UP")" .1f) s"

PROXY_PORT=$(free_port)
"${CLIENT_CPUS[@]}" python3 "$BENCH/tools/delay_proxy.py" --listen-port "$PROXY_PORT" --upstream "127.0.0.1:$MOTO_PORT" \
    --delay-ms "$DELAY_MS" --log "$RUN/requests.log" 2>"$RUN/proxy.log" &
STARTED_PIDS+=($!)
wait_port "$PROXY_PORT"
PROXY="http://127.0.0.1:$PROXY_PORT"

CT_PORT=$(free_port)
python3 "$BENCH/tools/fake_cloudtrail.py" --port "$CT_PORT" --bundle "$TRAIL_DIR" 2>"$RUN/cloudtrail.log" &
STARTED_PIDS+=($!)
wait_port "$CT_PORT"
export AWS_ENDPOINT_URL_CLOUDTRAIL="http://127.0.0.1:$CT_PORT"

# --- runs --------------------------------------------------------------------------------
# ct_run NAME END DIGESTS LOGS [OPTIONS...]: one run over START..END that must exit 0 and report
# DIGESTS digests and LOGS logs, all valid. Leaves the JSON report in RUN/NAME.json and sets
# TIME_NAME, REQ_NAME (request_kinds.py's JSON), MOTO_NAME, CPU_NAME, RSS_NAME, T0_NAME, T1_NAME.
ct_run() {
    local name=$1 end=$2 want_digests=$3 want_logs=$4
    shift 4
    local m0 t0 t1 rc cu cs crss
    say "ctverify ($name): --end-time $end $*"
    m0=$(proc_cpu "$MOTO_PID")
    t0=$(now)
    set +e
    "${CLIENT_CPUS[@]}" /usr/bin/time -o "$RUN/$name.time" -f "%U %S %M" "$CTVERIFY" validate "s3://$BUCKET" \
        --endpoint-url "$PROXY" --start-time "$START" --end-time "$end" --format json --no-progress \
        "${EXTRA[@]}" "$@" >"$RUN/$name.json" 2>"$RUN/$name.err"
    rc=$?
    set -e
    t1=$(now)
    if [ $rc != 0 ]; then
        tail -c 3000 "$RUN/$name.json" >&2
        tail -20 "$RUN/$name.err" >&2
        die "ctverify ($name) exited $rc (see $RUN/$name.json, $RUN/$name.err)"
    fi
    python3 - "$RUN/$name.json" "$want_digests" "$want_logs" <<'EOF' || die "ctverify ($name): unexpected report ($RUN/$name.json)"
import json, sys
report = json.load(open(sys.argv[1]))
s = report["summary"]
want = {"digests": int(sys.argv[2]), "logs": int(sys.argv[3])}
ok = s["result"] == "valid"
for kind, n in want.items():
    got = s[kind]
    if got.get("valid") != n or any(v for k, v in got.items() if k != "valid"):
        ok = False
        print(f"[bench] {kind}: {got}, expected {n} valid", file=sys.stderr)
if not ok:
    print(f"[bench] summary: {json.dumps(s)}", file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
    read -r cu cs crss <"$RUN/$name.time"
    printf -v "TIME_$name" '%s' "$(calc "$t1 - $t0")"
    printf -v "T0_$name" '%s' "$t0"
    printf -v "T1_$name" '%s' "$t1"
    printf -v "MOTO_$name" '%s' "$(calc "round($(proc_cpu "$MOTO_PID") - $m0, 2)")"
    printf -v "CPU_$name" '%s' "$(calc "round($cu + $cs, 2)")"
    printf -v "RSS_$name" '%s' "$((crss / 1024))"
    sleep 0.5 # the proxy has logged the last answer
    printf -v "REQ_$name" '%s' "$(python3 "$BENCH/tools/request_kinds.py" "$RUN/requests.log" "$t0" "$t1")"
}

ct_run full "$END_LAST" "$N_DIGESTS" "$N_LOGS"
rm -f "$CHECKPOINT"
ct_run first "$END_BEFORE" "$((N_DIGESTS - 1))" "$((N_LOGS - PER_HOUR))" --checkpoint "$CHECKPOINT"
[ -s "$CHECKPOINT" ] || die "the first checkpointed run wrote no $CHECKPOINT"
cp "$CHECKPOINT" "$RUN/checkpoint-first.json"
CHECKPOINT_BYTES=$(wc -c <"$CHECKPOINT")

# The one-new-hour run, RUNS times from the same checkpoint: the anchor and the new digest,
# each with its logs.
HOUR_TIMES=()
HOUR_REQS=()
for ((r = 1; r <= RUNS; r++)); do
    cp "$RUN/checkpoint-first.json" "$CHECKPOINT"
    ct_run "hour$r" "$END_LAST" 2 "$((2 * PER_HOUR))" --checkpoint "$CHECKPOINT"
    python3 - "$RUN/hour$r.json" <<'EOF' || die "ctverify (hour$r): the report does not say it resumed one chain with no changed day ($RUN/hour$r.json)"
import json, sys
c = json.load(open(sys.argv[1])).get("checkpoint") or {}
ok = c.get("chains_resumed") == 1 and c.get("changed_days") == []
if not ok:
    print(f"[bench] checkpoint: {json.dumps(c)}", file=sys.stderr)
sys.exit(0 if ok else 1)
EOF
    t_var="TIME_hour$r"
    q_var="REQ_hour$r"
    HOUR_TIMES+=("${!t_var}")
    HOUR_REQS+=("${!q_var}")
done
MEDIAN=$(python3 -c "import sys; v=[float(x) for x in sys.argv[1:]]; s=sorted(range(len(v)), key=v.__getitem__); print(s[len(v)//2] + 1)" "${HOUR_TIMES[@]}")
for v in TIME REQ MOTO CPU RSS T0 T1; do
    src="${v}_hour$MEDIAN"
    printf -v "${v}_hour" '%s' "${!src}"
done
SAME_REQS=$(python3 -c "import json,sys; v={json.dumps({k: x[k] for k in x if k not in ('bytes', 'list_max_in_flight') and not k.endswith(('_seconds', '_ms'))}, sort_keys=True) for x in map(json.loads, sys.argv[1:])}; print('the same requests in every run' if len(v) == 1 else 'requests differ between runs: ' + '; '.join(sorted(v)))" "${HOUR_REQS[@]}")

# --- report ------------------------------------------------------------------------------
echo
echo "== checkpointed run vs full run: one chain of $N_DIGESTS hourly digests, through moto_server + ${DELAY_MS} ms per request =="
echo "machine:   $(machine_line) ${BUSY_NOTE}"
echo "ctverify:  $CTVERIFY_REV   ${EXTRA[*]:-}"
echo "trail:     $N_DIGESTS digests + $N_LOGS logs ($PER_HOUR per digest, $(summary_field log_kb_range | tr ' ' '-') KB inflated), $(fmt "$(calc "$GZIPPED/1e6")" .1f) MB gzipped; digests $FIRST .. $LAST; $DIGEST_KEYS keys in the digest folder, $LOG_KEYS in the log folder"
echo "setup:     $PIN_NOTE; ListPublicKeys from bench/tools/fake_cloudtrail.py (not through the proxy, not counted)"
echo "runs:      ctverify validate s3://$BUCKET --endpoint-url PROXY --start-time $START --end-time END --format json ${EXTRA[*]:-} [--checkpoint FILE]"
echo "one-new-hour runs (s): $(for t in "${HOUR_TIMES[@]}"; do fmt "$t" .2f; done | tr '\n' ' ')($SAME_REQS); checkpoint file $CHECKPOINT_BYTES bytes"
echo
# One hour's verification plus the listings: the new digest and its logs; the anchor (the
# checkpoint's newest digest) and its logs read again; every key of the two folders listed
# again, 1,000 per ListObjectsV2 page. The search for the folder (listings with a delimiter)
# is the same in every run and counted beside it.
python3 - "$PER_HOUR" "$DIGEST_KEYS" "$LOG_KEYS" "$DELAY_MS" \
    "full, --end-time $END_LAST" "$TIME_full" "$REQ_full" "$MOTO_full" "$CPU_full" "$RSS_full" \
    "checkpointed first, --end-time $END_BEFORE" "$TIME_first" "$REQ_first" "$MOTO_first" "$CPU_first" "$RSS_first" \
    "checkpointed, one new hour (median)" "$TIME_hour" "$REQ_hour" "$MOTO_hour" "$CPU_hour" "$RSS_hour" <<'EOF'
import json, math, sys
per_hour, digest_keys, log_keys, delay = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]) / 1000
runs = []
for i in range(5, len(sys.argv), 6):
    label, t, q, moto, cpu, rss = sys.argv[i : i + 6]
    runs.append(dict(label=label, t=float(t), q=json.loads(q), moto=float(moto), cpu=float(cpu), rss=int(rss)))
full, first, hour = runs

print(f"  {'':52s} {'wall':>8s} {'requests':>9s} {'listings':>9s} {'(digest/log folder, search)':>28s} {'digest GETs':>11s} {'log GETs':>9s} {'other':>6s} {'moto CPU':>9s} {'ctverify CPU':>12s} {'peak RSS':>9s}")
for r in runs:
    q = r["q"]
    other = q["list_other"] + q["head"] + q["other"]
    split = f"({q['list_digest']:,d} / {q['list_log']:,d}, {q['list_search']:,d})"
    print(f"  {r['label']:52s} {r['t']:6.2f} s {q['total']:9,d} {q['list']:9,d} {split:>28s} {q['digest']:11,d} {q['log']:9,d} {other:6,d} {r['moto']:7.2f} s {r['cpu']:10.2f} s {r['rss']:6d} MB")
print()
print("  where the time went (from the proxy's log: how long at least one request of the kind was in flight):")
for r in runs:
    q = r["q"]
    rest = r["t"] - q["busy_seconds"]
    print(f"    {r['label']:52s} listings {q['list_seconds']:6.2f} s ({q['list']} pages, at most {q['list_max_in_flight']} at once), "
          f"object GETs {q['get_seconds']:6.2f} s ({q['digest'] + q['log']:,d}), no request in flight {rest:5.2f} s")
print()
print(f"full / one new hour: time {full['t'] / hour['t']:.1f}x ({full['t']:.2f} s / {hour['t']:.2f} s), "
      f"requests {full['q']['total'] / hour['q']['total']:.1f}x ({full['q']['total']:,d} / {hour['q']['total']:,d}), "
      f"moto_server CPU {full['moto'] / max(0.01, hour['moto']):.1f}x ({full['moto']:.2f} s / {hour['moto']:.2f} s)")
print()
q = hour["q"]
want = {
    "digest": 2,
    "log": 2 * per_hour,
    "list_digest": math.ceil(digest_keys / 1000),
    "list_log": math.ceil(log_keys / 1000),
    "list_search": full["q"]["list_search"],
}
got = {k: q[k] for k in want}
got_other = q["total"] - sum(got.values())
print("one hour's verification plus the listings, in requests, against what the one-new-hour run made:")
lines = [
    ("digest GETs", "digest", "the new digest + the anchor read again"),
    ("log GETs", "log", f"their {per_hour} + {per_hour} log(s)"),
    ("digest folder pages", "list_digest", f"ceil({digest_keys:,d} keys / 1,000)"),
    ("log folder pages", "list_log", f"ceil({log_keys:,d} keys / 1,000)"),
    ("search listings", "list_search", "finding the folder, as in the full run"),
]
for name, key, why in lines:
    print(f"  {name:22s} {want[key]:5d}  {why:42s} made {got[key]:5d}")
print(f"  {'other':22s} {0:5d}  {'':42s} made {got_other:5d}")
extra = {k: got[k] - want[k] for k in want if got[k] != want[k]}
if got_other:
    extra["other"] = got_other
verdict = "as expected" if not extra else "beyond it: " + ", ".join(f"{v:+d} {k}" for k, v in extra.items())
print(f"  {'total':22s} {sum(want.values()):5d}  {'':42s} made {q['total']:5d}  ({verdict})")
print(f"  = {q['total'] / full['q']['total']:.2%} of the full run's {full['q']['total']:,d} requests")
print(f"in time: {hour['t']:.2f} s, of which a listing was in flight {q['list_seconds']:.2f} s, one of the hour's object GETs "
      f"{q['get_seconds']:.2f} s (the two may overlap), no request {hour['t'] - q['busy_seconds']:.2f} s (start, ListPublicKeys, checks, report); "
      f"a listing page took {q['list_mean_ms']:.0f} ms on average "
      f"({delay * 1000:.0f} ms of it the proxy's delay)")
EOF
echo
echo "the median one-new-hour run, request by request:"
python3 "$BENCH/tools/request_timeline.py" "$RUN/requests.log" "$T0_hour" "$T1_hour" --step 0.5 \
    --delay "$(calc "$DELAY_MS / 1000")"
echo
echo "script took $(fmt "$(calc "$(now) - $SCRIPT_T0")" .0f) s; outputs: $RUN"
