"""A fast static feed server for benchmarks: asyncio, many loopback addresses, validators, delay.

Serves `/<i>.xml` from the i-th file of a list, on port PORT of each of ADDRESSES loopback
addresses (127.0.0.1, 127.0.0.2, ...: Linux routes all of 127/8 to loopback), with ETag and
Last-Modified (answering 304 to a matching request) and an optional delay before each answer
(simulated distance: asyncio sleeps, so the delay does not tie up the server). Runs in its own
process so the client under test does not share its interpreter.

    python bench/static_server.py FILELIST PORT ADDRESSES [DELAY]
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
from pathlib import Path

MODIFIED = b"Mon, 27 Oct 2025 10:00:00 GMT"


def load(filelist: Path) -> list[tuple[bytes, bytes]]:
    bodies = [Path(line).read_bytes() for line in filelist.read_text().splitlines() if line]
    return [(body, b'"' + hashlib.sha1(body).hexdigest()[:16].encode() + b'"') for body in bodies]


async def handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, files: list[tuple[bytes, bytes]], delay: float
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            etag_sent = next(
                (
                    line.split(b":", 1)[1].strip()
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"if-none-match:")
                ),
                None,
            )
            if delay:
                await asyncio.sleep(delay)
            try:
                body, etag = files[int(path.strip(b"/").removesuffix(b".xml"))]
            except (ValueError, IndexError):
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
                continue
            if etag_sent == etag:
                writer.write(b"HTTP/1.1 304 Not Modified\r\nETag: " + etag + b"\r\nContent-Length: 0\r\n\r\n")
            else:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nETag: "
                    + etag
                    + b"\r\nLast-Modified: "
                    + MODIFIED
                    + b"\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main() -> None:
    filelist, port, addresses = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    files = load(filelist)
    servers = [
        await asyncio.start_server(lambda r, w: handle(r, w, files, delay), f"127.0.0.{i}", port, backlog=1024)
        for i in range(1, addresses + 1)
    ]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    asyncio.run(main())
