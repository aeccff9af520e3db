#!/usr/bin/env python3
"""Groups the samples of a `perf record --call-graph dwarf` profile of ctverify by what the
thread was doing, so that a run's CPU reads as the floor (inflating and hashing) and what the
S3 path adds around it.

    perf script -i perf.data -F comm,tid,ip,sym | perf_groups.py --cpu-seconds S --objects N

Each sample goes to the first group whose test its stack (leaf first) passes, in this order:
- floor: the leaf (or the function it is inlined into) is SHA-256, libdeflate's inflate or its
  CRC-32 (what a directory copy costs);
- trail events: the search of each log for the trail's own calls (memchr's finder);
- SDK request: inside the SDK's orchestrator attempt (`try_attempt`): building, signing, the
  interceptors, sending and reading the answer's headers;
- body and runtime: the rest under tokio or hyper: the connection's I/O, the response body
  bridged to the verifying thread, the runtime's scheduling and wake-ups;
- verify: the rest under ctverify's own frames (reading, copying, the chain walk);
- other: everything else (thread pools idling, the allocator reached from elsewhere).
Prints each group's share, and its CPU per object when --cpu-seconds and --objects are given.
"""

import argparse
import collections
import sys


def read_samples(stream):
    samples, current = [], []
    for line in stream:
        if not line.strip():
            if current:
                samples.append(current)
            current = []
            continue
        if not line[0].isspace():
            current = [line.strip()]
        else:
            parts = line.strip().split(None, 1)
            current.append(parts[1] if len(parts) > 1 else "?")
    if current:
        samples.append(current)
    return samples


def any_frame(stack, *needles):
    return any(needle in frame for frame in stack for needle in needles)


GROUPS = [
    # The leaf, or the functions an inlined intrinsic or helper (the leaf) was inlined into.
    ("floor (SHA-256, inflate, CRC-32)",
     lambda s: any(k in frame for frame in s[:3]
                   for k in ("sha256", "deflate_decompress", "crc32_x86", "adler32"))),
    ("trail events (memchr over each log)",
     lambda s: "memchr" in s[0] and any_frame(s, "trail_events")),
    ("SDK request (try_attempt: sign, interceptors, send, headers)",
     lambda s: any_frame(s, "try_attempt")),
    ("body and runtime (tokio, hyper, bridge)",
     lambda s: any_frame(s, "tokio::", "hyper::", "SyncIoBridge", "h2::")),
    ("verify (ctverify's own frames)", lambda s: any_frame(s, "ctverify::")),
    ("other", lambda s: True),
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cpu-seconds", type=float)
    parser.add_argument("--objects", type=int)
    parser.add_argument("--top", type=int, default=5, help="leaf functions shown per group")
    args = parser.parse_args()
    samples = [s[1:] for s in read_samples(sys.stdin) if len(s) > 1]
    if not samples:
        sys.exit("perf_groups.py: no samples with call stacks")
    counts = collections.Counter()
    leaves = collections.defaultdict(collections.Counter)
    for stack in samples:
        for name, test in GROUPS:
            if test(stack):
                counts[name] += 1
                leaves[name][stack[0][:70]] += 1
                break
    total = len(samples)
    per_object = args.cpu_seconds and args.objects
    print(f"  {total} samples")
    for name, _ in GROUPS:
        share = counts[name] / total
        line = f"  {100 * share:5.1f}%  {name}"
        if per_object:
            line += f": {1000 * share * args.cpu_seconds / args.objects:.3f} ms per object"
        print(line)
        for leaf, n in leaves[name].most_common(args.top):
            print(f"           {100 * n / total:4.1f}%  {leaf}")


if __name__ == "__main__":
    main()
