#!/usr/bin/env bash
# ctverify's throughput on a directory copy against this machine's floor.
#
#   bench/dir_throughput.sh
#
# 1. A synthetic signed trail of LOGS log files (default 1500, 100-500 KB inflated each: about
#    450 MB inflated; at least 400 MB is required) over REGIONS chains, in bench/data/dir-LOGS/.
#    Its files are read once first so every run reads from the page cache.
# 2. ctverify validate DIR (RUNS times, default 3; the median counts) -> MB/s of inflated bytes.
# 3. The floor = the time to inflate every file (logs and digests) once with the fastest inflater
#    found (libdeflate-gunzip, else pigz -d, else gzip -d; `-c >/dev/null`) + the time to hash
#    every inflated byte once with `openssl dgst -sha256` (OpenSSL uses the CPU's SHA extensions
#    when it has them; coreutils sha256sum does not), each in batches of files spread over all
#    cores with `xargs -P $(nproc)`; median of RUNS. For reference it also times one pass
#    `inflater | openssl dgst -sha256` (pays for the pipe) and prints single-core SHA speeds.
# Target: ctverify >= 0.8 of the floor's MB/s.
#
# Environment: LOGS, REGIONS (default 2), RUNS, BATCH (files per inflater process, default 64),
# CTVERIFY_ARGS, FORCE_REGEN=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

LOGS=${LOGS:-1500}
REGIONS=${REGIONS:-2}
RUNS=${RUNS:-3}
BATCH=${BATCH:-64}
CORES=$(nproc)
read -r -a EXTRA <<<"${CTVERIFY_ARGS:-}"

build_release
check_idle
gen_trail "dir-$LOGS" --logs "$LOGS" --log-kb 300 --logs-per-hour 6 --regions "$REGIONS" --accounts 1
START=$(summary_field start_time)
RUN="$DATA/dir-run"
rm -rf "$RUN"
mkdir -p "$RUN"

# Every object file, and the inflated bytes of all of them (gzip ISIZE: single-member files < 4 GB).
(cd "$TRAIL_DIR" && find AWSLogs -type f -name '*.json.gz' | sort) >"$RUN/files.txt"
read -r N_FILES INFLATED GZIPPED < <(cd "$TRAIL_DIR" && python3 - "$RUN/files.txt" <<'EOF'
import os, struct, sys
n = inflated = gz = 0
for name in open(sys.argv[1]).read().split():
    with open(name, "rb") as f:
        f.seek(-4, 2)
        inflated += struct.unpack("<I", f.read(4))[0]
        gz += os.path.getsize(name)
    n += 1
print(n, inflated, gz)
EOF
)
[ "$INFLATED" -ge 400000000 ] || say "WARNING: only $((INFLATED / 1000000)) MB inflated (< 400 MB): raise LOGS"
MB=$(calc "$INFLATED / 1e6")
say "$N_FILES files, $(fmt "$MB" .0f) MB inflated, $((GZIPPED / 1000000)) MB gzipped; warming the page cache"
(cd "$TRAIL_DIR" && xargs -a "$RUN/files.txt" cat >/dev/null)

median() { python3 -c "import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))" "$@"; }

# --- ctverify ----------------------------------------------------------------------------------
CT_TIMES=()
CT_CPU=()
for ((r = 1; r <= RUNS; r++)); do
    say "ctverify run $r/$RUNS"
    t0=$(now)
    set +e
    /usr/bin/time -o "$RUN/ctverify-$r.time" -f "%U %S %M" \
        "$CTVERIFY" validate "$TRAIL_DIR" --start-time "$START" --no-progress "${EXTRA[@]}" \
        >"$RUN/ctverify-$r.txt" 2>"$RUN/ctverify-$r.err"
    rc=$?
    set -e
    t1=$(now)
    N_LOGS=$(summary_field logs)
    grep -q "^$N_LOGS/$N_LOGS log files valid" "$RUN/ctverify-$r.txt" && [ $rc = 0 ] ||
        { tail -20 "$RUN/ctverify-$r.txt" "$RUN/ctverify-$r.err" >&2; die "ctverify did not report all $N_LOGS logs valid (exit $rc)"; }
    CT_TIMES+=("$(calc "$t1 - $t0")")
    read -r cu cs crss <"$RUN/ctverify-$r.time"
    CT_CPU+=("$(calc "$cu + $cs")")
done
CT_TIME=$(median "${CT_TIMES[@]}")
CT_CPU_MED=$(median "${CT_CPU[@]}")

# --- the floor ---------------------------------------------------------------------------------
if ensure_tool libdeflate-gunzip libdeflate-tools; then
    INFLATER="libdeflate-gunzip -c"
elif ensure_tool pigz pigz; then
    INFLATER="pigz -d -c"
else
    INFLATER="gzip -d -c"
fi
say "floor: $INFLATER | openssl dgst -sha256, $BATCH files per process, $CORES in parallel"
floor_run() { # MODE: inflate | inflate+sha
    local mode=$1 t0 t1
    t0=$(now)
    if [ "$mode" = inflate ]; then
        (cd "$TRAIL_DIR" && xargs -a "$RUN/files.txt" -n "$BATCH" -P "$CORES" sh -c "$INFLATER \"\$@\" >/dev/null" _)
    else
        (cd "$TRAIL_DIR" && xargs -a "$RUN/files.txt" -n "$BATCH" -P "$CORES" sh -c "$INFLATER \"\$@\" | openssl dgst -sha256 >/dev/null" _)
    fi
    t1=$(now)
    calc "$t1 - $t0"
}
# SHA-256 of the inflated bytes alone: inflate them once into RAM (/dev/shm when it has room),
# one file per batch, then hash those files over all cores.
SHM=/dev/shm
if [ ! -d "$SHM" ] || [ "$(df -k --output=avail "$SHM" | tail -1)" -lt $((INFLATED / 1024 * 2)) ]; then
    SHM="$RUN"
fi
INFLATED_DIR=$(mktemp -d "$SHM/ctverify-bench-inflated.XXXXXX")
trap 'rm -rf "$INFLATED_DIR"; cleanup_started' EXIT
(cd "$TRAIL_DIR" && xargs -a "$RUN/files.txt" -n "$BATCH" -P "$CORES" sh -c "$INFLATER \"\$@\" >\"\$(mktemp -p '$INFLATED_DIR')\"" _)
[ "$(cat "$INFLATED_DIR"/* | wc -c)" = "$INFLATED" ] || die "inflated bytes do not add up"
sha_run() {
    local t0
    t0=$(now)
    find "$INFLATED_DIR" -type f -print0 | xargs -0 -n 1 -P "$CORES" openssl dgst -sha256 >/dev/null
    calc "$(now) - $t0"
}
FLOOR_TIMES=()
INFLATE_TIMES=()
SHA_TIMES=()
for ((r = 1; r <= RUNS; r++)); do
    INFLATE_TIMES+=("$(floor_run inflate)")
    SHA_TIMES+=("$(sha_run)")
    FLOOR_TIMES+=("$(floor_run inflate+sha)")
done
rm -rf "$INFLATED_DIR"
PIPE_TIME=$(median "${FLOOR_TIMES[@]}")
INFLATE_TIME=$(median "${INFLATE_TIMES[@]}")
SHA_TIME=$(median "${SHA_TIMES[@]}")
# The floor: inflating every byte once plus hashing every byte once, each over all cores.
FLOOR_TIME=$(calc "$INFLATE_TIME + $SHA_TIME")

# SHA-256 speeds (one core): OpenSSL's EVP (SHA extensions if the CPU has them) and coreutils.
SHA_FLAGS=$(grep -o -w -m1 'sha_ni' /proc/cpuinfo || true)
OPENSSL_SHA=$(openssl speed -evp sha256 -bytes 65536 -seconds 2 2>/dev/null | awk '/^sha256/{print $2}' | sed 's/k$//')
OPENSSL_MBS=$(calc "${OPENSSL_SHA:-0} * 1000 / 1e6")
head -c 200000000 /dev/zero >"$RUN/zeros"
t0=$(now)
sha256sum "$RUN/zeros" >/dev/null
SHA256SUM_MBS=$(calc "200 / ($(now) - $t0)")
rm -f "$RUN/zeros"

# --- report ------------------------------------------------------------------------------------
CT_MBS=$(calc "$MB / $CT_TIME")
FLOOR_MBS=$(calc "$MB / $FLOOR_TIME")
PIPE_MBS=$(calc "$MB / $PIPE_TIME")
RATIO=$(calc "$CT_MBS / $FLOOR_MBS")
STRICT_MBS=$(calc "$MB / ($INFLATE_TIME + $MB / ($OPENSSL_MBS * $CORES))")
echo
echo "== ctverify on a directory copy vs the machine's floor =="
echo "machine:   $(machine_line) ${BUSY_NOTE}"
echo "ctverify:  $CTVERIFY_REV   ${EXTRA[*]:-}"
echo "trail:     $N_FILES files ($(summary_field logs) logs, $(summary_field digests) digests, $(summary_field chains) chains), $(fmt "$MB" .0f) MB inflated, $((GZIPPED / 1000000)) MB gzipped, page cache warm"
echo "SHA-256 on one core: openssl $(fmt "$OPENSSL_MBS" .0f) MB/s (CPU flag sha_ni: ${SHA_FLAGS:-absent}), coreutils sha256sum $(fmt "$SHA256SUM_MBS" .0f) MB/s"
echo
echo "ctverify validate: runs $(for t in "${CT_TIMES[@]}"; do fmt "$t" .3f; done | tr '\n' ' ')s, median $(fmt "$CT_TIME" .3f) s = $(fmt "$CT_MBS" .0f) MB/s inflated"
echo "  CPU $(fmt "$CT_CPU_MED" .2f) s = $(fmt "$(calc "$CT_CPU_MED / $CT_TIME")" .2f) cores busy; $(fmt "$(calc "$MB / $CT_CPU_MED")" .0f) MB per CPU-second"
echo "floor, all $CORES cores (xargs -P $CORES, $BATCH files per process):"
echo "  inflate ($INFLATER >/dev/null):      median $(fmt "$INFLATE_TIME" .3f) s = $(fmt "$(calc "$MB / $INFLATE_TIME")" .0f) MB/s"
echo "  SHA-256 (openssl dgst -sha256, bytes in RAM): median $(fmt "$SHA_TIME" .3f) s = $(fmt "$(calc "$MB / $SHA_TIME")" .0f) MB/s"
echo "  floor = inflate + SHA-256:                    $(fmt "$FLOOR_TIME" .3f) s = $(fmt "$FLOOR_MBS" .0f) MB/s"
echo "  (for reference, one pass $INFLATER | openssl dgst -sha256: median $(fmt "$PIPE_TIME" .3f) s = $(fmt "$PIPE_MBS" .0f) MB/s;"
echo "   inflate as measured + SHA-256 at 'openssl speed' on $CORES cores, no tool I/O: $(fmt "$STRICT_MBS" .0f) MB/s, ctverify / that = $(fmt "$(calc "$CT_MBS / $STRICT_MBS")" .2f))"
echo
echo "ctverify / floor = $(fmt "$RATIO" .2f)   (target >= 0.80: $(verdict "$RATIO" '>=' 0.8))"
echo "outputs: $RUN"
