#!/usr/bin/env python3
"""What a client asked for and when, from delay_proxy.py's --log, over a time window:

    request_timeline.py LOG T0 T1 [--step 0.25] [--delay SECONDS]

Requests are grouped by kind (list = ListObjectsV2/ListBuckets, head, digest GET, log GET) and
for each kind prints how many, when the first started and the last finished (seconds after T0)
and the rate; then a timeline: requests of each kind in flight (sampled) and answered per
step. Shows phases that do not overlap (e.g. no log fetched until every digest is) and idle
stretches at the start and the end.

--delay: the latency the proxy adds. A request is then at the server from its receive time plus
the delay until it is answered, and the script prints the stretches where the server had no
request at all: what a client could still win against a server that is the bottleneck.
"""

import argparse


def kind(method, path):
    if method == "HEAD":
        return "head"
    if "list-type=" in path or path.rstrip("/").count("/") <= 1:
        return "list"
    if "/CloudTrail-Digest/" in path:
        return "digest"
    if "/CloudTrail/" in path:
        return "log"
    return "other"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("t0", type=float)
    parser.add_argument("t1", type=float)
    parser.add_argument("--step", type=float, default=0.25)
    parser.add_argument("--delay", type=float)
    args = parser.parse_args()
    rows = []
    with open(args.log) as f:
        for line in f:
            parts = line.split(" ", 5)
            if len(parts) < 6:
                continue
            start, end = float(parts[0]), float(parts[1])
            if start < args.t0 or start > args.t1:
                continue
            rows.append((start - args.t0, end - args.t0, kind(parts[2], parts[5].strip()), int(parts[4])))
    if not rows:
        print("  no requests logged in the window")
        return
    kinds = [k for k in ("head", "list", "digest", "log", "other") if any(r[2] == k for r in rows)]
    span = args.t1 - args.t0
    print(f"  requests by kind (seconds after start; run took {span:.2f} s):")
    for k in kinds:
        rs = [r for r in rows if r[2] == k]
        first = min(r[0] for r in rs)
        last = max(r[1] for r in rs)
        lat = sorted(r[1] - r[0] for r in rs)
        rate = len(rs) / (last - first) if last > first else 0
        print(
            f"    {k:6s} {len(rs):5d}  first start {first:6.2f}  last end {last:6.2f}  "
            f"{rate:6.0f}/s  latency p50 {lat[len(lat) // 2] * 1000:5.0f} ms  "
            f"p90 {lat[int(len(lat) * 0.9)] * 1000:5.0f} ms  {sum(r[3] for r in rs) / 1e6:6.1f} MB"
        )
    idle_start = min(r[0] for r in rows if r[2] in ("digest", "log")) if any(r[2] in ("digest", "log") for r in rows) else 0
    last_object = max((r[1] for r in rows if r[2] in ("digest", "log")), default=span)
    print(
        f"  before the first object GET: {idle_start:.2f} s; after the last object GET ends: "
        f"{span - last_object:.2f} s"
    )
    if args.delay is not None:
        print_server_idle(rows, args.delay, span)
    print(f"  timeline: t | in flight by kind ({' '.join(kinds)}) | answered/s")
    t = 0.0
    while t < span:
        mid = t + args.step / 2
        flights = [sum(1 for r in rows if r[2] == k and r[0] <= mid < r[1]) for k in kinds]
        answered = sum(1 for r in rows if t <= r[1] < t + args.step) / args.step
        print(f"    {t:6.2f} | {' '.join(f'{n:4d}' for n in flights)} | {answered:6.0f}")
        t += args.step


def print_server_idle(rows, delay, span):
    """Stretches with no request at the server (received + delay .. answered)."""
    at_server = sorted((r[0] + delay, r[1]) for r in rows)
    gaps = []
    covered = 0.0
    for start, end in at_server:
        if start > covered:
            gaps.append((covered, start - covered))
        covered = max(covered, end)
    if span > covered:
        gaps.append((covered, span - covered))
    shown = ", ".join(f"{at:.2f} s: {length * 1000:.0f} ms" for at, length in gaps if length >= 0.01)
    print(
        f"  server without a request: {sum(g[1] for g in gaps):.2f} s of {span:.2f} s "
        f"(the first {delay * 1000:.0f} ms cannot be helped); stretches of 10 ms or more: {shown or 'none'}"
    )


if __name__ == "__main__":
    main()
