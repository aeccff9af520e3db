#!/usr/bin/env python3
"""Fallback for wrk: GETs the paths in a file over C keep-alive connections for D seconds.

    loadgen.py --url http://127.0.0.1:PORT --paths FILE [-c 64] [-d 10]

Prints "LOADGEN_RESULT requests=N seconds=S non200=K" (and req/s). Python costs far more CPU
per request than wrk, on the same cores as the server, so its ceiling is a lower bound.
"""

import argparse
import asyncio
import time

AUTH = (
    "Authorization: AWS4-HMAC-SHA256 Credential=testing/20240501/us-east-1/s3/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=0000\r\nx-amz-date: 20240501T000000Z\r\n"
    "x-amz-checksum-mode: ENABLED\r\n"
    "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\r\n"
)


async def worker(host, port, paths, offset, deadline, counts):
    i = offset
    reader = writer = None
    while time.monotonic() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port, limit=1 << 20)
            path = paths[i % len(paths)]
            i += 1
            writer.write(f"GET {path}?x-id=GetObject HTTP/1.1\r\nHost: {host}:{port}\r\n{AUTH}\r\n".encode())
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            close = False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
                elif name.strip().lower() == b"connection" and value.strip().lower() == b"close":
                    close = True
            await reader.readexactly(length)
            counts["requests"] += 1
            if status != 200:
                counts["non200"] += 1
            if close:
                writer.close()
                writer = None
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            counts["errors"] += 1
            if writer is not None:
                writer.close()
            writer = None


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--paths", required=True)
    parser.add_argument("-c", type=int, default=64)
    parser.add_argument("-d", type=float, default=10)
    args = parser.parse_args()
    host, port = args.url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    with open(args.paths) as f:
        paths = [l.strip() for l in f if l.strip()]
    counts = {"requests": 0, "non200": 0, "errors": 0}
    start = time.monotonic()
    deadline = start + args.d
    await asyncio.gather(
        *(worker(host, int(port), paths, k * 7919, deadline, counts) for k in range(args.c))
    )
    seconds = time.monotonic() - start
    print(
        f"LOADGEN_RESULT requests={counts['requests']} seconds={seconds:.3f} "
        f"non200={counts['non200']} errors={counts['errors']} rate={counts['requests'] / seconds:.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
