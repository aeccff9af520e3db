#!/usr/bin/env bash
# Peak memory of ctverify validate on directory trails of 1,000 and 10,000 log files.
#
#   bench/memory.sh
#
# Two synthetic signed trails in bench/data/mem-1000/ and bench/data/mem-10000/, REGIONS chains
# (default 2), 6 logs per hourly digest; log size LOG_KB (default 300: 100-500 KB inflated each,
# realistic; LOG_KB=30 gives 10-50 KB logs and generates ten times faster, but measures smaller
# buffers). Peak RSS from GNU time (`/usr/bin/time -v`, "Maximum resident set size"), the
# largest of RUNS runs (default 2), also with --format json (whose report holds every file).
# Targets: both under 200 MB, and not growing with the count (10k/1k ratio <= 1.25); also prints
# the growth per extra log file and where it would lead if linear.
#
# Environment: LOG_KB, PER_HOUR (logs per hourly digest, default 6), REGIONS, RUNS, COUNTS
# ("1000 10000"), CTVERIFY_ARGS, FORCE_REGEN=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

LOG_KB=${LOG_KB:-300}
PER_HOUR=${PER_HOUR:-6}
REGIONS=${REGIONS:-2}
RUNS=${RUNS:-2}
COUNTS=${COUNTS:-"1000 10000"}
read -r -a EXTRA <<<"${CTVERIFY_ARGS:-}"

build_release
check_idle
if ! /usr/bin/time -v true >/dev/null 2>&1; then
    ensure_tool /usr/bin/time time || die "GNU time (/usr/bin/time) is needed: apt-get install time"
fi

RUN="$DATA/mem-run"
rm -rf "$RUN"
mkdir -p "$RUN"
declare -A RSS_TEXT RSS_JSON SECS MBS LOGS_OF
for n in $COUNTS; do
    name="mem-$n-$LOG_KB"
    [ "$PER_HOUR" = 6 ] || name="$name-h$PER_HOUR"
    gen_trail "$name" --logs "$n" --log-kb "$LOG_KB" --logs-per-hour "$PER_HOUR" --regions "$REGIONS" --accounts 1
    START=$(summary_field start_time)
    LOGS_OF[$n]=$(summary_field logs)
    MBS[$n]=$(calc "$(summary_field inflated_bytes) / 1e6")
    (cd "$TRAIL_DIR" && find AWSLogs -type f -print0 | xargs -0 cat >/dev/null)
    for format in text json; do
        peak=0
        for ((r = 1; r <= RUNS; r++)); do
            say "ctverify on $n logs, --format $format, run $r/$RUNS"
            t0=$(now)
            set +e
            /usr/bin/time -v -o "$RUN/$n-$format-$r.time" \
                "$CTVERIFY" validate "$TRAIL_DIR" --start-time "$START" --format "$format" --no-progress "${EXTRA[@]}" \
                >"$RUN/$n-$format-$r.out" 2>"$RUN/$n-$format-$r.err"
            rc=$?
            set -e
            t1=$(now)
            [ $rc = 0 ] || { tail -5 "$RUN/$n-$format-$r.err" >&2; die "ctverify exited $rc on $TRAIL_DIR"; }
            kb=$(awk -F: '/Maximum resident set size/{gsub(/ /,"",$2); print $2}' "$RUN/$n-$format-$r.time")
            [ "$kb" -gt "$peak" ] && peak=$kb
            [ "$format" = text ] && SECS[$n]=$(calc "$t1 - $t0")
        done
        if [ "$format" = text ]; then RSS_TEXT[$n]=$peak; else RSS_JSON[$n]=$peak; fi
    done
done

echo
echo "== ctverify peak memory (directory trails) =="
echo "machine:   $(machine_line) ${BUSY_NOTE}"
echo "ctverify:  $CTVERIFY_REV   ${EXTRA[*]:-}"
echo "logs: $((LOG_KB / 3))-$((LOG_KB * 5 / 3)) KB inflated each, $REGIONS chains, $PER_HOUR per hourly digest"
printf '%8s  %10s  %12s  %14s  %8s\n' logs "MB inflated" "RSS text MB" "RSS --json MB" "time s"
for n in $COUNTS; do
    printf '%8s  %10.0f  %12.1f  %14.1f  %8.2f\n' "${LOGS_OF[$n]}" "${MBS[$n]}" "$(calc "${RSS_TEXT[$n]} / 1024")" "$(calc "${RSS_JSON[$n]} / 1024")" "${SECS[$n]}"
done
read -r -a NS <<<"$COUNTS"
FIRST=${NS[0]}
LAST=${NS[${#NS[@]} - 1]}
MAX_MB=$(calc "max($(for n in $COUNTS; do printf '%s,' "${RSS_TEXT[$n]}"; done)0) / 1024")
RATIO=$(calc "${RSS_TEXT[$LAST]} / ${RSS_TEXT[$FIRST]}")
RATIO_JSON=$(calc "${RSS_JSON[$LAST]} / ${RSS_JSON[$FIRST]}")
echo
echo "largest peak RSS (text): $(fmt "$MAX_MB" .1f) MB   (target < 200 MB: $(verdict "$MAX_MB" '<' 200))"
echo "peak RSS $LAST/$FIRST logs: $(fmt "$RATIO" .2f) (text), $(fmt "$RATIO_JSON" .2f) (--format json)   (target: not growing, <= 1.25: $(verdict "$RATIO" '<=' 1.25))"
SLOPE=$(calc "(${RSS_TEXT[$LAST]} - ${RSS_TEXT[$FIRST]}) / (${LOGS_OF[$LAST]} - ${LOGS_OF[$FIRST]})")
echo "growth: $(fmt "$SLOPE" .2f) KB of peak RSS per extra log file; if linear, about $(fmt "$(calc "(${RSS_TEXT[$FIRST]} + $SLOPE * (100000 - ${LOGS_OF[$FIRST]})) / 1024")" .0f) MB at 100,000 logs and $(fmt "$(calc "(${RSS_TEXT[$FIRST]} + $SLOPE * (1000000 - ${LOGS_OF[$FIRST]})) / 1024")" .0f) MB at 1,000,000"
echo "outputs: $RUN"
