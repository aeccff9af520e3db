#!/usr/bin/env python3
"""A loopback HTTP/1.1 proxy that adds a fixed latency to every request.

    delay_proxy.py --listen-port P --upstream HOST:PORT [--upstream HOST:PORT ...]
                   [--delay-ms 50] [--stats FILE] [--log FILE]

Each client connection gets its own upstream connection. Client connections are kept alive as
S3 keeps them; when the upstream closes after a response (moto_server's werkzeug sends
`Connection: close` on every response) the proxy drops that header and dials upstream again for
the next request, so the client sees S3-like keep-alive and the 50 ms is per request, not per
TCP handshake. For every
request the proxy reads the request head (and body, by Content-Length or chunked), waits
--delay-ms, forwards it, and relays the whole response back. Any number of concurrent
connections (asyncio; one task per connection, no thread or connection limit).

With several --upstream (servers holding the same objects), each request goes to the next one
in turn.

--dump-heads FILE: the first 50 request heads as received (to see what a client sends).

--fault-rate P (0..1), --fault-seed S: each request, with probability P, meets one fault drawn
at random (seeded, so a run can be repeated): an S3 error answer without forwarding (500
InternalError, 503 SlowDown or 503 ServiceUnavailable), the connection reset before any answer,
the response cut short after its head and part of its body (fewer bytes than Content-Length),
or a slow body (relayed in small pieces with pauses). Listings, digests and logs alike. The
soak test (bench/soak.sh) uses it; --log marks faulted requests with the fault's name.

--log: one line per request: receive time, answer time (unix seconds), method, status, response
bytes, path.

Stats: every 100 ms a JSON line {"t": unix time, "in_flight": requests received and not yet
answered (including those sleeping), "conns": open client connections, "started": requests
received so far, "done": responses relayed so far, "bytes": response bytes relayed so far} is
appended to --stats, and "in_flight" peaks are kept between samples ("peak"). The bench scripts
read it to show how many requests a client kept in flight over time.
"""

import argparse
import asyncio
import json
import random
import sys
import time

STATE = {"in_flight": 0, "peak": 0, "conns": 0, "started": 0, "done": 0, "bytes": 0}
LOG = None
DUMP = {"file": None, "left": 0}
NEXT_UPSTREAM = [0]
FAULTS = {"rate": 0.0, "rng": random.Random(0), "counts": {}}
FAULT_KINDS = ["500", "503-slowdown", "503-unavailable", "reset", "truncate", "slow"]


def draw_fault():
    if FAULTS["rate"] <= 0 or FAULTS["rng"].random() >= FAULTS["rate"]:
        return None
    kind = FAULTS["rng"].choice(FAULT_KINDS)
    FAULTS["counts"][kind] = FAULTS["counts"].get(kind, 0) + 1
    return kind


def s3_error(status, code, message):
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{message}</Message><RequestId>FAULT</RequestId></Error>"
    ).encode()
    reason = {500: "Internal Server Error", 503: "Service Unavailable"}[status]
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


class Truncating:
    """Passes on at most `limit` body bytes, then fails the relay (the client sees a short body)."""

    def __init__(self, writer, limit):
        self.writer, self.left = writer, limit

    def write(self, data):
        if len(data) >= self.left:
            self.writer.write(data[: self.left])
            self.left = 0
            raise ConnectionError("fault: body cut short")
        self.left -= len(data)
        self.writer.write(data)

    async def drain(self):
        await self.writer.drain()


class Slow:
    """Relays the body in 4 KiB pieces with a pause after each."""

    def __init__(self, writer):
        self.writer = writer
        self.pending = []

    def write(self, data):
        self.pending.append(data)

    async def drain(self):
        data = b"".join(self.pending)
        self.pending = []
        for i in range(0, len(data), 4096):
            self.writer.write(data[i : i + 4096])
            await self.writer.drain()
            await asyncio.sleep(0.02)


async def read_head(reader):
    """The head (start line + headers, up to the blank line) or None at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as e:
        if e.partial.strip():
            raise
        return None
    return head


def parse_headers(head):
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return lines[0], headers


def drop_connection_close(head):
    lines = head.split(b"\r\n")
    kept = [l for l in lines if not l.lower().startswith(b"connection:")]
    return b"\r\n".join(kept)


async def relay_body(reader, writer, headers, until_close):
    """Copies one message body; returns the byte count."""
    total = 0
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = await reader.readuntil(b"\r\n")
            writer.write(size_line)
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                # trailers up to the blank line
                while True:
                    line = await reader.readuntil(b"\r\n")
                    writer.write(line)
                    if line == b"\r\n":
                        return total
            left = size + 2
            while left:
                data = await reader.read(min(left, 1 << 16))
                if not data:
                    raise ConnectionError("upstream closed mid-chunk")
                writer.write(data)
                left -= len(data)
                total += len(data)
            await writer.drain()
    elif "content-length" in headers:
        left = int(headers["content-length"])
        while left:
            data = await reader.read(min(left, 1 << 16))
            if not data:
                raise ConnectionError("closed mid-body")
            writer.write(data)
            left -= len(data)
            total += len(data)
            await writer.drain()
    elif until_close:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            writer.write(data)
            total += len(data)
            await writer.drain()
    return total


async def handle(client_reader, client_writer, upstreams, delay):
    STATE["conns"] += 1
    up_reader = up_writer = None
    try:
        while True:
            head = await read_head(client_reader)
            if head is None:
                return
            STATE["started"] += 1
            received = time.time()
            STATE["in_flight"] += 1
            STATE["peak"] = max(STATE["peak"], STATE["in_flight"])
            try:
                request_line, headers = parse_headers(head)
                if DUMP["left"] > 0:
                    DUMP["left"] -= 1
                    DUMP["file"].write(head.decode("latin-1"))
                    DUMP["file"].flush()
                method = request_line.split(" ", 1)[0].upper()
                # The request body (PUTs) is read before the delay, like a slow link would.
                body_buf = bytearray()

                class Buf:
                    def write(self, data):
                        body_buf.extend(data)

                    async def drain(self):
                        pass

                await relay_body(client_reader, Buf(), headers, until_close=False)
                if delay:
                    await asyncio.sleep(delay)
                fault = draw_fault()
                if fault in ("500", "503-slowdown", "503-unavailable"):
                    status, code = {
                        "500": (500, "InternalError"),
                        "503-slowdown": (503, "SlowDown"),
                        "503-unavailable": (503, "ServiceUnavailable"),
                    }[fault]
                    client_writer.write(s3_error(status, code, f"fault injected: {fault}"))
                    await client_writer.drain()
                    if LOG is not None:
                        LOG.write(f"{received:.4f} {time.time():.4f} {method} {status} 0 {request_line.split(' ')[1]} fault={fault}\n")
                    continue
                if fault == "reset":
                    if LOG is not None:
                        LOG.write(f"{received:.4f} {time.time():.4f} {method} 0 0 {request_line.split(' ')[1]} fault=reset\n")
                    sock = client_writer.get_extra_info("socket")
                    if sock is not None:
                        import socket, struct

                        # SO_LINGER 0: close sends RST, not FIN.
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    client_writer.transport.abort()
                    return
                if up_writer is None:
                    upstream = upstreams[NEXT_UPSTREAM[0] % len(upstreams)]
                    NEXT_UPSTREAM[0] += 1
                    up_reader, up_writer = await asyncio.open_connection(*upstream, limit=1 << 20)
                up_writer.write(head)
                up_writer.write(body_buf)
                await up_writer.drain()
                response_head = await read_head(up_reader)
                if response_head is None:
                    raise ConnectionError("upstream closed")
                status_line, response_headers = parse_headers(response_head)
                upstream_closes = response_headers.get("connection", "").lower() == "close"
                if upstream_closes:
                    # moto (werkzeug) closes after every response; S3 keeps connections alive.
                    # Keep the client's connection open and dial upstream again next time.
                    response_head = drop_connection_close(response_head)
                client_writer.write(response_head)
                status = int(status_line.split(" ")[1])
                no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
                sent = 0
                if not no_body:
                    close_delimited = (
                        "content-length" not in response_headers
                        and "chunked" not in response_headers.get("transfer-encoding", "").lower()
                    )
                    body_writer = client_writer
                    if fault == "truncate" and "content-length" in response_headers:
                        length = int(response_headers["content-length"])
                        body_writer = Truncating(client_writer, FAULTS["rng"].randrange(max(1, length)))
                        if LOG is not None:
                            LOG.write(f"{received:.4f} {time.time():.4f} {method} {status} - {request_line.split(' ')[1]} fault=truncate\n")
                    elif fault == "slow":
                        body_writer = Slow(client_writer)
                    sent = await relay_body(up_reader, body_writer, response_headers, close_delimited)
                    if fault == "slow":
                        await body_writer.drain()
                    if close_delimited:
                        await client_writer.drain()
                        return
                await client_writer.drain()
                STATE["bytes"] += sent
                STATE["done"] += 1
                if LOG is not None:
                    path = request_line.split(" ")[1] if " " in request_line else "?"
                    LOG.write(f"{received:.4f} {time.time():.4f} {method} {status} {sent} {path}\n")
                if upstream_closes:
                    up_writer.close()
                    up_reader = up_writer = None
                if headers.get("connection", "").lower() == "close":
                    return
            finally:
                STATE["in_flight"] -= 1
    except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, IndexError):
        return
    finally:
        STATE["conns"] -= 1
        for w in (client_writer, up_writer):
            if w is not None:
                try:
                    w.close()
                except Exception:
                    pass


async def sampler(path):
    with open(path, "a", buffering=1) as out:
        while True:
            await asyncio.sleep(0.1)
            out.write(
                json.dumps(
                    {
                        "t": round(time.time(), 3),
                        "in_flight": STATE["in_flight"],
                        "peak": STATE["peak"],
                        "conns": STATE["conns"],
                        "started": STATE["started"],
                        "done": STATE["done"],
                        "bytes": STATE["bytes"],
                    }
                )
                + "\n"
            )
            STATE["peak"] = STATE["in_flight"]


async def write_fault_counts(path):
    while True:
        await asyncio.sleep(1)
        with open(path, "w") as out:
            json.dump(FAULTS["counts"], out)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen-port", type=int, required=True)
    parser.add_argument("--upstream", required=True, action="append")
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--stats")
    parser.add_argument("--log")
    parser.add_argument("--dump-heads", help="write the first 50 request heads to this file")
    parser.add_argument("--fault-rate", type=float, default=0.0)
    parser.add_argument("--fault-seed", type=int, default=0)
    parser.add_argument("--fault-counts", help="write the faults injected (JSON) here every second")
    args = parser.parse_args()
    FAULTS["rate"] = args.fault_rate
    FAULTS["rng"] = random.Random(args.fault_seed)
    upstreams = [(u.rsplit(":", 1)[0], int(u.rsplit(":", 1)[1])) for u in args.upstream]
    global LOG
    if args.dump_heads:
        DUMP["file"] = open(args.dump_heads, "w")
        DUMP["left"] = 50
    if args.log:
        LOG = open(args.log, "a", buffering=1)
    delay = args.delay_ms / 1000.0
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, upstreams, delay),
        "127.0.0.1",
        args.listen_port,
        backlog=4096,
        limit=1 << 20,
    )
    if args.stats:
        asyncio.get_running_loop().create_task(sampler(args.stats))
    if args.fault_counts:
        asyncio.get_running_loop().create_task(write_fault_counts(args.fault_counts))
    print(
        f"delay_proxy: 127.0.0.1:{args.listen_port} -> {', '.join(args.upstream)} (+{args.delay_ms} ms)",
        file=sys.stderr,
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        import uvloop  # optional, faster

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main())
