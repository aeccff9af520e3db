#!/usr/bin/env python3
"""Requests by kind over a time window of delay_proxy.py's --log, as one JSON object:

    request_kinds.py LOG T0 T1

A request counts when it was received between T0 and T1 (unix seconds). Kinds:
- list_digest / list_log: ListObjectsV2 pages of a digest folder (`.../CloudTrail-Digest/...`)
  or a log folder (`.../CloudTrail/...`) without a delimiter: a folder's keys;
- list_search: listings with a delimiter (the search for accounts, regions and folders);
- list_other: any other listing (ListBuckets, a prefix of neither kind);
- digest / log: GETs of one digest or log object; head: HEAD requests; other: anything else.
Also "list" (every listing), "total", "not_2xx" (answers other than 2xx) and "bytes" (response
bytes relayed).
"""

import json
import sys
from urllib.parse import parse_qs, unquote, urlsplit


def classify(method, target):
    if method == "HEAD":
        return "head"
    url = urlsplit(target)
    query = parse_qs(url.query, keep_blank_values=True)
    path = unquote(url.path)
    if "list-type" in query or path.rstrip("/").count("/") <= 1:
        if query.get("delimiter", [""])[0]:
            return "list_search"
        prefix = query.get("prefix", [""])[0]
        if "/CloudTrail-Digest/" in prefix:
            return "list_digest"
        if "/CloudTrail/" in prefix:
            return "list_log"
        return "list_other"
    if "/CloudTrail-Digest/" in path:
        return "digest"
    if "/CloudTrail/" in path:
        return "log"
    return "other"


def main():
    log, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    kinds = ["list_digest", "list_log", "list_search", "list_other", "digest", "log", "head", "other"]
    counts = dict.fromkeys(kinds, 0)
    counts.update(total=0, not_2xx=0, bytes=0)
    with open(log) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 6:
                continue
            start = float(parts[0])
            if not t0 <= start <= t1:
                continue
            method, status, size, target = parts[2], parts[3], parts[4], parts[5]
            counts[classify(method, target)] += 1
            counts["total"] += 1
            if not status.startswith("2"):
                counts["not_2xx"] += 1
            if size.isdigit():
                counts["bytes"] += int(size)
    counts["list"] = sum(counts[k] for k in kinds if k.startswith("list"))
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
