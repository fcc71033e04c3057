"""Undo a response's Content-Encoding a bounded piece at a time, so a compression bomb stays small.

httpx decodes each network read whole: 64 KiB of gzipped zeros becomes 64 MiB in one call, before
any size cap can look at it. Here zlib's `max_length` hands out at most `PIECE` bytes per call and
keeps the rest of the input for the next one, so the fetcher's cap (counted on these pieces)
stops a 200 MiB bomb having inflated little more than the cap. Only gzip and deflate are asked
for (`ACCEPT_ENCODING`): brotli and zstd would need packages newsalert does not install. A coding
we do not know is passed through unchanged, as httpx does: servers label plain bodies "utf-8" or
"none" and the parser copes with, or reports, what arrives.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator

ACCEPT_ENCODING = "gzip, deflate"
PIECE = 64 * 1024


class DecodingError(Exception):
    """The body is not valid for its Content-Encoding; the fetcher translates it."""


def decoded(chunks: Iterable[bytes], content_encoding: str) -> Iterator[bytes]:
    """The body of `chunks` with every listed coding undone, the last one applied first."""
    stream: Iterator[bytes] = iter(chunks)
    for coding in reversed([c.strip().lower() for c in content_encoding.split(",") if c.strip()]):
        if coding in ("gzip", "x-gzip"):
            stream = _inflate(stream, zlib.MAX_WBITS | 16)
        elif coding == "deflate":
            stream = _inflate(stream, zlib.MAX_WBITS, raw_fallback=True)
    return stream


def _inflate(chunks: Iterator[bytes], wbits: int, raw_fallback: bool = False) -> Iterator[bytes]:
    """zlib-decompress `chunks` in pieces of at most PIECE bytes.

    `deflate` is the zlib format (RFC 9110 8.4.1.2), but many servers send a raw deflate stream:
    like httpx, a first chunk that is not zlib is tried again as raw deflate.
    """
    inflater = zlib.decompressobj(wbits)
    first = True
    for chunk in chunks:
        data = chunk
        while data and not inflater.eof:
            try:
                piece = inflater.decompress(data, PIECE)
            except zlib.error as e:
                if not (first and raw_fallback):
                    raise DecodingError(f"not valid {'deflate' if raw_fallback else 'gzip'} data: {e}") from e
                inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                first = False
                continue
            first = False
            data = inflater.unconsumed_tail
            if piece:
                yield piece
    # With all input consumed, what zlib still holds is at most the rest of one match.
    tail = inflater.flush()
    if tail:
        yield tail
