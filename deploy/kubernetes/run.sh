#!/usr/bin/env bash
# One sharded ctverify run on Kubernetes: the shard Job, then the merge Job, whose exit status
# is the run's verdict (0 valid, 1 integrity failure, 3 incomplete, 2 misconfigured).
#
#   deploy/kubernetes/run.sh BUCKET [PREFIX] [SHARDS] [END_TIME]
#
#   BUCKET    the trail bucket (read only; reports never go there)
#   PREFIX    the trail's S3 key prefix, "" for none
#   SHARDS    number of shards (default 8)
#   END_TIME  end of the verified range, RFC 3339 (default: the start of the current UTC hour)
#
# Environment: IMAGE (required: the pushed image), NAMESPACE (default: the context's),
# PARALLELISM (default: SHARDS), AWS_REGION (default us-east-1), RUN_ID (default from END_TIME),
# TIMEOUT (default 6h: the wait for the shards), MERGE_TIMEOUT (default 30m).
# Needs kubectl and envsubst (gettext). Apply serviceaccount.yaml and pvc.yaml once beforehand.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)

die() { echo "run.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || die "usage: $0 BUCKET [PREFIX] [SHARDS] [END_TIME]"
BUCKET=$1
PREFIX=${2:-}
SHARDS=${3:-8}
# Computed ONCE, here: every shard gets this same value. Letting each pod take "now" would give
# shards different ranges, and the merge would refuse them. The start of the hour leaves the
# newest (still being delivered) hour out.
END_TIME=${4:-$(date -u +%Y-%m-%dT%H:00:00Z)}

: "${IMAGE:?set IMAGE to the pushed ctverify image, e.g. 111122223333.dkr.ecr.us-east-1.amazonaws.com/ctverify:0.1.0}"
PARALLELISM=${PARALLELISM:-$SHARDS}
AWS_REGION=${AWS_REGION:-us-east-1}
TIMEOUT=${TIMEOUT:-6h}
MERGE_TIMEOUT=${MERGE_TIMEOUT:-30m}

case $SHARDS in '' | *[!0-9]* | 0) die "SHARDS must be a positive integer, not '$SHARDS'" ;; esac
case $BUCKET in s3://*) die "give the bucket name, not an s3:// URL" ;; esac
command -v envsubst >/dev/null || die "envsubst not found (package gettext-base / gettext)"

SOURCE="s3://$BUCKET${PREFIX:+/$PREFIX}"
# A DNS label: job names, pod names and the report directory. One per run; reusing one would
# mix two runs' shard reports in the same directory.
RUN_ID=${RUN_ID:-$(printf '%s' "$END_TIME" | tr -cd '0-9' | cut -c1-12)-$(date -u +%H%M%S)}

kc() { kubectl ${NAMESPACE:+--namespace "$NAMESPACE"} "$@"; }

# Only these variables are substituted: $(VAR) in the manifests is Kubernetes' own.
render() {
  RUN_ID=$RUN_ID SOURCE=$SOURCE END_TIME=$END_TIME SHARDS=$SHARDS PARALLELISM=$PARALLELISM \
    IMAGE=$IMAGE AWS_REGION=$AWS_REGION \
    envsubst '${RUN_ID} ${SOURCE} ${END_TIME} ${SHARDS} ${PARALLELISM} ${IMAGE} ${AWS_REGION}' <"$1"
}

# Waits until the Job is Complete or Failed (kubectl wait alone cannot wait for either), or
# the timeout passes. Prints Complete, Failed or Timeout.
wait_job() {
  local job=$1 timeout=$2
  kc wait "job/$job" --for=condition=Complete --timeout="$timeout" >/dev/null 2>&1 &
  local complete=$!
  kc wait "job/$job" --for=condition=Failed --timeout="$timeout" >/dev/null 2>&1 &
  local failed=$!
  local result=Timeout
  while kill -0 "$complete" 2>/dev/null && kill -0 "$failed" 2>/dev/null; do sleep 5; done
  if ! kill -0 "$complete" 2>/dev/null && wait "$complete"; then
    result=Complete
  elif ! kill -0 "$failed" 2>/dev/null && wait "$failed"; then
    result=Failed
  fi
  kill "$complete" "$failed" 2>/dev/null || true
  wait "$complete" "$failed" 2>/dev/null || true
  echo "$result"
}

echo "run $RUN_ID: $SOURCE up to $END_TIME in $SHARDS shards ($PARALLELISM at a time)"

shards_job=ctverify-shards-$RUN_ID
render "$here/shards-job.yaml" | kc apply -f -
shards=$(wait_job "$shards_job" "$TIMEOUT")
echo "shards: $shards"
case $shards in
  Complete) ;;
  Failed)
    reason=$(kc get job "$shards_job" -o jsonpath='{.status.conditions[?(@.type=="Failed")].reason}')
    echo "failed ($reason); failed indexes: $(kc get job "$shards_job" -o jsonpath='{.status.failedIndexes}')"
    kc logs -l "job-name=$shards_job" -c ctverify --prefix --tail=5 || true
    if [ "$reason" = PodFailurePolicy ]; then
      # A shard exited 2: bad flags or configuration, nothing verified. No merge.
      exit 2
    fi
    # A shard still incomplete after its retries (or out of time). The merge still runs: it
    # names the missing shards and reports what the others verified, with exit 3 (or 1 if a
    # shard found an integrity failure).
    ;;
  *)
    echo "the shards did not finish within $TIMEOUT; job/$shards_job keeps running" >&2
    exit 3
    ;;
esac

merge_job=ctverify-merge-$RUN_ID
render "$here/merge-job.yaml" | kc apply -f -
merge=$(wait_job "$merge_job" "$MERGE_TIMEOUT")
echo "merge: $merge"

kc logs "job/$merge_job" -c text || true
code=$(kc get pods -l "job-name=$merge_job" \
  -o jsonpath='{.items[0].status.containerStatuses[?(@.name=="merge")].state.terminated.exitCode}')
echo "merged report: /reports/$RUN_ID/merged/report.json on PVC ctverify-reports (exit status ${code:-unknown})"
# The verdict, for a scheduler: 0 valid, 1 integrity failure, 2 misconfigured, 3 incomplete.
exit "${code:-3}"
