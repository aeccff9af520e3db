#!/usr/bin/env python3
"""Compares a run through faults with a fault-free run of the same trail (both
`--format json --verbose`, so every file is listed). Prints one JSON line of counts; exits 1
when any file was misreported.

    compare_reports.py BASELINE.json FAULTY.json

For every file of either report:
- same status (and moved_to) in both: `same`;
- `error` in the faulty run: `unreadable` (a read that failed after retries; allowed, it must
  never be a tamper status or `valid`);
- `unverified` in the faulty run because the digest that vouches for it could not be read
  (its detail names a digest the faulty run reports as `error`, or it is listed by one):
  `unverified_by_unreadable_digest` (allowed: a consequence of an unreadable file);
- anything else, including a file only one report has: `mismatch`, printed to stderr.
"""

import json
import sys


def files(report):
    return {(f["kind"], f["bucket"], f["key"]): f for f in report["files"]}


def main():
    base = json.load(open(sys.argv[1]))
    faulty = json.load(open(sys.argv[2]))
    b, f = files(base), files(faulty)
    errored = {k for k, v in f.items() if v["status"] == "error"}
    errored_urls = {f"s3://{k[1]}/{k[2]}" for k in errored if k[0] == "digest"}
    errored_keys = {k[2] for k in errored if k[0] == "digest"}
    counts = {"files": len(b), "same": 0, "unreadable": 0, "unverified_by_unreadable_digest": 0, "mismatch": 0}
    for key in sorted(set(b) | set(f)):
        fb, ff = b.get(key), f.get(key)
        if ff is not None and ff["status"] == "error":
            counts["unreadable"] += 1
            continue
        if fb is not None and ff is not None and fb["status"] == ff["status"] and fb.get("moved_to") == ff.get("moved_to"):
            counts["same"] += 1
            continue
        if ff is not None and ff["status"] == "unverified":
            detail = ff.get("detail") or ""
            if ff.get("digest") in errored_keys or any(url in detail for url in errored_urls):
                counts["unverified_by_unreadable_digest"] += 1
                continue
        counts["mismatch"] += 1
        print(f"MISMATCH {key}: baseline {fb and (fb['status'], fb.get('detail'))} faulty {ff and (ff['status'], ff.get('detail'))}", file=sys.stderr)
    print(json.dumps(counts))
    sys.exit(1 if counts["mismatch"] else 0)


if __name__ == "__main__":
    main()
