#!/usr/bin/env python3
"""Summarizes delay_proxy.py's stats file over a time window (a client's run):

    proxy_window.py STATS T0 T1 [--timeline SECONDS]

prints requests answered, bytes, mean and peak requests in flight, the best one-second rate,
and (with --timeline) requests in flight and answered per step, to show how a client fills its
window over time.
"""

import argparse
import json


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("stats")
    parser.add_argument("t0", type=float)
    parser.add_argument("t1", type=float)
    parser.add_argument("--timeline", type=float, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    with open(args.stats) as f:
        for line in f:
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    before = [r for r in rows if r["t"] <= args.t0]
    inside = [r for r in rows if args.t0 < r["t"] <= args.t1 + 0.15]
    if not inside:
        print("no proxy samples in the window")
        return
    base = before[-1] if before else {"done": 0, "bytes": 0, "started": 0}
    last = inside[-1]
    requests = last["done"] - base["done"]
    span = args.t1 - args.t0
    mean_in_flight = sum(r["in_flight"] for r in inside) / len(inside)
    peak = max(r["peak"] for r in inside)
    # best 1 s rate (10 samples of 100 ms)
    best = 0.0
    prev = [base] + inside
    for i in range(len(prev)):
        for j in range(i + 1, len(prev)):
            dt = prev[j]["t"] - prev[i]["t"]
            if dt >= 1.0:
                best = max(best, (prev[j]["done"] - prev[i]["done"]) / dt)
                break
    summary = {
        "requests": requests,
        "bytes": last["bytes"] - base["bytes"],
        "seconds": span,
        "rate": requests / span if span > 0 else 0,
        "best_1s_rate": best,
        "mean_in_flight": mean_in_flight,
        "peak_in_flight": peak,
    }
    if args.json:
        print(json.dumps(summary))
        return
    print(
        f"  proxy saw {requests} requests, {summary['bytes'] / 1e6:.1f} MB in {span:.2f} s "
        f"({summary['rate']:.0f} req/s overall, best 1 s: {best:.0f} req/s); "
        f"in flight: mean {mean_in_flight:.1f}, peak {peak}"
    )
    if args.timeline > 0:
        print(f"  timeline (every {args.timeline:g} s): t  in-flight(mean/peak)  answered/s")
        step_start = args.t0
        prev_row = base
        bucket = []
        for r in inside:
            bucket.append(r)
            if r["t"] - step_start >= args.timeline or r is inside[-1]:
                dt = r["t"] - (prev_row["t"] if "t" in prev_row else args.t0)
                rate = (r["done"] - prev_row["done"]) / dt if dt > 0 else 0
                mean = sum(b["in_flight"] for b in bucket) / len(bucket)
                peak_b = max(b["peak"] for b in bucket)
                print(f"    {step_start - args.t0:6.1f}  {mean:6.1f}/{peak_b:<4d}  {rate:7.0f}")
                step_start = r["t"]
                prev_row = r
                bucket = []


if __name__ == "__main__":
    main()
