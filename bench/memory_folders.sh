#!/usr/bin/env bash
# Peak memory of ctverify validate on an organization's directory copy of many LONG folders
# (account-and-region chains of thousands of hourly digests each): what the folder gate bounds.
#
#   bench/memory_folders.sh                      # 8, 16 and 32 folders of 8,000 digests each
#   FOLDERS="8 32" HOURS=4000 bench/memory_folders.sh
#
# One synthetic signed trail in bench/data/: ACCOUNTS x REGIONS (4) folders, each HOURS (8,000)
# hourly digests and one log of ~1 KB per digest (what a folder holds while it is verified grows
# with its digests and log keys, not with the logs' size, so small logs keep generation to about
# 10 s per folder on one core). Each count in FOLDERS is verified on its own, the first N/REGIONS
# accounts chosen with --account-id, at --concurrency CONCURRENCY (64, the default), RUNS (2)
# times; peak RSS from GNU time, the largest of the runs. Every run must report every file
# valid.
#
# Prints each count's peak RSS and time, the growth per extra folder, and beside it what the
# folders would hold if all were verified at once (about 0.7 KB per digest and 48 B per log key,
# the gate's own estimate). Target: every peak under 200 MB.
#
# Environment: FOLDERS ("8 16 32", multiples of REGIONS), REGIONS (4), HOURS (8000),
# CONCURRENCY (64), RUNS (2), CTVERIFY_ARGS, FORCE_REGEN=1.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

REGIONS=${REGIONS:-4}
HOURS=${HOURS:-8000}
CONCURRENCY=${CONCURRENCY:-64}
RUNS=${RUNS:-2}
FOLDERS=${FOLDERS:-"8 16 32"}
read -r -a EXTRA <<<"${CTVERIFY_ARGS:-}"
read -r -a COUNTS <<<"$FOLDERS"

MAX_FOLDERS=0
for n in "${COUNTS[@]}"; do
    [[ $n =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ] && [ $((n % REGIONS)) = 0 ] ||
        die "FOLDERS: $n is not a positive multiple of REGIONS ($REGIONS)"
    [ "$n" -gt "$MAX_FOLDERS" ] && MAX_FOLDERS=$n
done
ACCOUNTS=$((MAX_FOLDERS / REGIONS))

build_release
check_idle
if ! /usr/bin/time -v true >/dev/null 2>&1; then
    ensure_tool /usr/bin/time time || die "GNU time (/usr/bin/time) is needed: apt-get install time"
fi

gen_trail "long-folders-$ACCOUNTS-$REGIONS-$HOURS" \
    --logs $((HOURS * MAX_FOLDERS)) --log-kb 1 --logs-per-hour 1 --regions "$REGIONS" --accounts "$ACCOUNTS"
START=$(summary_field start_time)
read -r -a ACCOUNT_IDS <<<"$(summary_field account_ids)"
[ "${#ACCOUNT_IDS[@]}" = "$ACCOUNTS" ] || die "the trail has ${#ACCOUNT_IDS[@]} accounts, not $ACCOUNTS"
PER_FOLDER_DIGESTS=$(calc "$(summary_field digests) // $MAX_FOLDERS")
PER_FOLDER_LOGS=$(calc "$(summary_field logs) // $MAX_FOLDERS")
say "warming the page cache"
(cd "$TRAIL_DIR" && find AWSLogs -type f -print0 | xargs -0 cat >/dev/null)

RUN="$DATA/long-folders-run"
rm -rf "$RUN"
mkdir -p "$RUN"
declare -A RSS SECS
for n in "${COUNTS[@]}"; do
    ids=()
    for ((a = 0; a < n / REGIONS; a++)); do ids+=(--account-id "${ACCOUNT_IDS[$a]}"); done
    peak=0
    best=""
    for ((r = 1; r <= RUNS; r++)); do
        say "ctverify on $n folders, run $r/$RUNS"
        t0=$(now)
        set +e
        /usr/bin/time -v -o "$RUN/$n-$r.time" \
            "$CTVERIFY" validate "$TRAIL_DIR" "${ids[@]}" --start-time "$START" --concurrency "$CONCURRENCY" \
            --format text --no-progress "${EXTRA[@]}" >"$RUN/$n-$r.out" 2>"$RUN/$n-$r.err"
        rc=$?
        set -e
        t1=$(now)
        [ $rc = 0 ] || { tail -5 "$RUN/$n-$r.err" >&2; die "ctverify exited $rc on $n folders of $TRAIL_DIR"; }
        kb=$(awk -F: '/Maximum resident set size/{gsub(/ /,"",$2); print $2}' "$RUN/$n-$r.time")
        [ "$kb" -gt "$peak" ] && peak=$kb
        secs=$(calc "$t1 - $t0")
        best="$best $(fmt "$secs" .2f)"
    done
    RSS[$n]=$peak
    SECS[$n]=$best
done

echo
echo "== ctverify peak memory, many long folders (directory copy) =="
echo "machine:   $(machine_line) ${BUSY_NOTE}"
echo "ctverify:  $CTVERIFY_REV   --concurrency $CONCURRENCY ${EXTRA[*]:-}"
echo "folders:   $PER_FOLDER_DIGESTS hourly digests and $PER_FOLDER_LOGS logs (~1 KB) each, $REGIONS regions per account"
printf '%8s  %12s  %22s  %s\n' folders "peak RSS MB" "all at once would hold" "time s (each run)"
for n in "${COUNTS[@]}"; do
    held=$(calc "$n * ($PER_FOLDER_DIGESTS * 700 + $PER_FOLDER_LOGS * 48) / 1e6")
    printf '%8s  %12.1f  %19.0f MB  %s\n' "$n" "$(calc "${RSS[$n]} / 1024")" "$held" "${SECS[$n]}"
done
FIRST=${COUNTS[0]}
LAST=${COUNTS[${#COUNTS[@]} - 1]}
MAX_MB=$(calc "max($(for n in "${COUNTS[@]}"; do printf '%s,' "${RSS[$n]}"; done)0) / 1024")
echo
echo "largest peak RSS: $(fmt "$MAX_MB" .1f) MB   (target < 200 MB: $(verdict "$MAX_MB" '<' 200))"
if [ "$FIRST" != "$LAST" ]; then
    echo "peak RSS $LAST/$FIRST folders: $(fmt "$(calc "${RSS[$LAST]} / ${RSS[$FIRST]}")" .2f);" \
        "growth $(fmt "$(calc "(${RSS[$LAST]} - ${RSS[$FIRST]}) / 1024 / ($LAST - $FIRST)")" .2f) MB per extra folder" \
        "(each folder would hold $(fmt "$(calc "($PER_FOLDER_DIGESTS * 700 + $PER_FOLDER_LOGS * 48) / 1e6")" .1f) MB)"
fi
echo "outputs: $RUN"
