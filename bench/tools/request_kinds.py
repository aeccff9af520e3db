#!/usr/bin/env python3
"""Requests by kind over a time window of delay_proxy.py's --log, as one JSON object:

    request_kinds.py LOG T0 T1

A request counts when it was received between T0 and T1 (unix seconds). Kinds:
- list_digest / list_log: ListObjectsV2 pages of a digest folder (`.../CloudTrail-Digest/...`)
  or a log folder (`.../CloudTrail/...`) without a delimiter: a folder's keys;
- list_search: listings with a delimiter (the search for accounts, regions and folders);
- list_other: any other listing (ListBuckets, a prefix of neither kind);
- digest / log: GETs of one digest or log object; head: HEAD requests; other: anything else.
Also "list" (every listing), "total", "not_2xx" (answers other than 2xx), "bytes" (response
bytes relayed), and where the time went: "list_seconds", "get_seconds" and "busy_seconds" (how
long at least one listing, one object GET, one request of any kind was in flight, from the
proxy's receive time to its answer), "list_max_in_flight" (listings in flight at once, at
most) and "list_mean_ms" (a listing's mean time from receipt to answer, the proxy's delay
included).
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


def covered(intervals):
    """Seconds covered by the union of (start, end) intervals."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(intervals):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def max_in_flight(intervals):
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals], key=lambda x: (x[0], x[1]))
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def main():
    log, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    kinds = ["list_digest", "list_log", "list_search", "list_other", "digest", "log", "head", "other"]
    counts = dict.fromkeys(kinds, 0)
    counts.update(total=0, not_2xx=0, bytes=0)
    spans = {"list": [], "get": [], "all": []}
    with open(log) as f:
        for line in f:
            parts = line.split()
            if len(parts) < 6:
                continue
            start = float(parts[0])
            if not t0 <= start <= t1:
                continue
            method, status, size, target = parts[2], parts[3], parts[4], parts[5]
            kind = classify(method, target)
            counts[kind] += 1
            span = (start, float(parts[1]))
            spans["all"].append(span)
            if kind.startswith("list"):
                spans["list"].append(span)
            elif kind in ("digest", "log"):
                spans["get"].append(span)
            counts["total"] += 1
            if not status.startswith("2"):
                counts["not_2xx"] += 1
            if size.isdigit():
                counts["bytes"] += int(size)
    counts["list"] = sum(counts[k] for k in kinds if k.startswith("list"))
    counts["list_seconds"] = round(covered(spans["list"]), 3)
    counts["get_seconds"] = round(covered(spans["get"]), 3)
    counts["busy_seconds"] = round(covered(spans["all"]), 3)
    counts["list_max_in_flight"] = max_in_flight(spans["list"])
    counts["list_mean_ms"] = round(1000 * sum(e - s for s, e in spans["list"]) / max(1, len(spans["list"])), 1)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
