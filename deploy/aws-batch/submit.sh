#!/usr/bin/env bash
# One sharded ctverify run on AWS Batch: the shard array job, then the merge job, which runs
# only once every shard has succeeded. The merge's exit status is the run's verdict (0 valid, 1 integrity failure, 3 incomplete,
# 2 reports that do not belong together).
#
#   deploy/aws-batch/submit.sh JOB_QUEUE BUCKET [PREFIX] [SHARDS] [END_TIME]
#
#   JOB_QUEUE  the Batch job queue
#   BUCKET     the trail bucket (read only; reports never go there)
#   PREFIX     the trail's S3 key prefix, "" for none
#   SHARDS     number of shards, 2 to 10000 (an array job has at least 2 children; default 8)
#   END_TIME   end of the verified range, RFC 3339 (default: the start of the current UTC hour)
#
# Environment: RUN_ID (default from END_TIME), WAIT=1 to wait for the verdict and print it.
# Register the job definitions once (after replacing the REPLACE-* and account values):
#   aws batch register-job-definition --cli-input-json file://deploy/aws-batch/job-definition.json
#   aws batch register-job-definition --cli-input-json file://deploy/aws-batch/merge-job-definition.json
set -euo pipefail

die() { echo "submit.sh: $*" >&2; exit 2; }

[ $# -ge 2 ] || die "usage: $0 JOB_QUEUE BUCKET [PREFIX] [SHARDS] [END_TIME]"
QUEUE=$1
BUCKET=$2
PREFIX=${3:-}
SHARDS=${4:-8}
# Computed ONCE, here, and passed to every shard: shards that each took "now" would verify
# different ranges, and the merge would refuse them (exit 2). The start of the hour leaves the
# newest (still being delivered) hour out.
END_TIME=${5:-$(date -u +%Y-%m-%dT%H:00:00Z)}

case $SHARDS in '' | *[!0-9]*) die "SHARDS must be a number, not '$SHARDS'" ;; esac
# An array job needs size 2..10000, and only its children get AWS_BATCH_JOB_ARRAY_INDEX
# (which --shard-count reads). For one shard, run `ctverify validate` as a plain job instead.
[ "$SHARDS" -ge 2 ] && [ "$SHARDS" -le 10000 ] || die "SHARDS must be 2 to 10000"
case $BUCKET in s3://*) die "give the bucket name, not an s3:// URL" ;; esac
case "$BUCKET$PREFIX$END_TIME" in *[\"\\]*) die "no quotes or backslashes in the arguments" ;; esac

SOURCE="s3://$BUCKET${PREFIX:+/$PREFIX}"
# One directory per run on the EFS volume (ctverify creates it). Reusing one would mix two
# runs' shard reports.
RUN_ID=${RUN_ID:-$(printf '%s' "$END_TIME" | tr -cd '0-9' | cut -c1-12)-$(date -u +%H%M%S)}
DIR=/reports/$RUN_ID

submit() { aws batch submit-job --job-queue "$QUEUE" --query jobId --output text "$@"; }

echo "run $RUN_ID: $SOURCE up to $END_TIME in $SHARDS shards"

# The {shard} in the output is replaced by ctverify with AWS_BATCH_JOB_ARRAY_INDEX. The whole
# path is one parameter: Batch substitutes a Ref:: that is a whole argument.
shards=$(submit --job-name "ctverify-shards-$RUN_ID" --job-definition ctverify-shard \
  --array-properties "size=$SHARDS" \
  --parameters "{\"source\": \"$SOURCE\", \"endtime\": \"$END_TIME\",
    \"shardcount\": \"$SHARDS\", \"output\": \"$DIR/shard-{shard}.json\"}")

# A dependency on the array job as a whole: the merge starts when every child has succeeded
# (exit 0, after the retries of its retryStrategy). If a child fails for good, the merge fails
# with "Dependent Job failed" without running: see WAIT below.
merge=$(submit --job-name "ctverify-merge-$RUN_ID" --job-definition ctverify-merge \
  --depends-on "jobId=$shards" \
  --parameters "{\"reports\": \"$DIR/\", \"merged\": \"$DIR/merged/report.json\"}")

echo "shards $shards, merge $merge"
echo "merged report: $DIR/merged/report.json on the EFS file system"

[ "${WAIT:-0}" = 1 ] || exit 0

job_field() { aws batch describe-jobs --jobs "$1" --query "jobs[0].$2" --output text; }

wait_job() {
  local status
  while :; do
    status=$(job_field "$1" status)
    case $status in SUCCEEDED | FAILED) echo "$status"; return ;; esac
    sleep 30
  done
}

status=$(wait_job "$merge")
if [ "$status" = FAILED ] && [ "$(job_field "$merge" 'container.exitCode')" = None ]; then
  # The merge never ran: a shard failed for good (still incomplete after its retries, exit 2,
  # or a crash). Merge what is there anyway, with no dependency: the report names the missing
  # shards (exit 3), or says 1 if a shard that did finish found an integrity failure.
  echo "the shards did not all succeed ($(job_field "$merge" statusReason)); merging what is there"
  echo "array: $(job_field "$shards" 'arrayProperties.statusSummary')"
  merge=$(submit --job-name "ctverify-merge-$RUN_ID-partial" --job-definition ctverify-merge \
    --parameters "{\"reports\": \"$DIR/\", \"merged\": \"$DIR/merged/report.json\"}")
  status=$(wait_job "$merge")
fi

code=$(job_field "$merge" 'container.exitCode')
stream=$(job_field "$merge" 'container.logStreamName')
# The merge's messages (stderr) are in CloudWatch Logs; the JSON report is on EFS: read it from
# an instance or pod that mounts the file system, e.g. `jq .summary $DIR/merged/report.json`.
aws logs get-log-events --log-group-name /aws/batch/job --log-stream-name "$stream" \
  --query 'events[].message' --output text || true
echo "merge $merge: $status, exit status $code"
case $code in 0 | 1 | 2 | 3) exit "$code" ;; *) exit 3 ;; esac
