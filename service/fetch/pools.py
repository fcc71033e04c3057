"""One small httpcore connection pool per origin, so that keeping connections alive costs nothing.

httpcore's `ConnectionPool` walks all its connections on every request and every response, and for
each idle one walks them all again (O(n^2) under the pool's lock). With one pool for every origin a
cycle reaches, that pool holds hundreds of connections, and keeping them alive made 1,000 loopback
fetches on 32 threads cost twice the CPU of closing them (bench/fetch_pool.py). Here each origin
(scheme, host, port) has its own pool, which holds the few connections that per-host politeness
lets run at once, so every walk is short and a connection can be kept for the next request to the
same origin (a feed's articles, the next cycle of a many-feed host).

The pools of origins not used for a while are closed: the least recently used beyond
`max_idle_origins`, and any unused for `keepalive_expiry` seconds. A pool is closed only when no
request of it is in flight (counted here: from dispatch until its response is closed), so closing
never cuts a response short and no connection is left in a pool nobody will sweep.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType

import httpcore

Origin = tuple[bytes, bytes, int | None]


@dataclass
class _Entry:
    pool: httpcore.ConnectionPool
    in_flight: int = 0
    last_used: float = field(default_factory=time.monotonic)


class _CountedStream:
    """A response body that tells its origin's entry when it is closed (once)."""

    def __init__(self, stream: Iterable[bytes], done: Callable[[], None]) -> None:
        self._stream = stream
        self._done: Callable[[], None] | None = done

    def __iter__(self) -> Iterator[bytes]:
        yield from self._stream

    def close(self) -> None:
        try:
            close = getattr(self._stream, "close", None)
            if close is not None:
                close()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


class OriginPools:
    """What httpx's transport calls on its pool (`handle_request`, `close`), over one pool per origin."""

    def __init__(
        self, make_pool: Callable[[], httpcore.ConnectionPool], max_idle_origins: int, keepalive_expiry: float
    ) -> None:
        self._make_pool = make_pool
        self._max_idle = max_idle_origins
        self._expiry = keepalive_expiry
        self._lock = threading.Lock()
        self._entries: OrderedDict[Origin, _Entry] = OrderedDict()

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        origin = (request.url.scheme, request.url.host, request.url.port)
        entry, stale = self._checkout(origin)
        _close(stale)
        try:
            response = entry.pool.handle_request(request)
        except BaseException:
            self._checkin(entry)
            raise
        body = _CountedStream(response.stream, lambda: self._checkin(entry))  # type: ignore[arg-type]
        return httpcore.Response(
            status=response.status, headers=response.headers, content=body, extensions=response.extensions
        )

    def _checkout(self, origin: Origin) -> tuple[_Entry, list[httpcore.ConnectionPool]]:
        with self._lock:
            entry = self._entries.get(origin)
            if entry is None:
                entry = self._entries[origin] = _Entry(self._make_pool())
            self._entries.move_to_end(origin)
            entry.in_flight += 1
            entry.last_used = time.monotonic()
            return entry, self._evict()

    def _checkin(self, entry: _Entry) -> None:
        with self._lock:
            entry.in_flight -= 1
            entry.last_used = time.monotonic()

    def _evict(self) -> list[httpcore.ConnectionPool]:
        """Pools to close (called under the lock): least recently used first, none in flight."""
        now, evicted = time.monotonic(), []
        for origin, entry in list(self._entries.items()):
            too_many = len(self._entries) > self._max_idle
            if not too_many and now - entry.last_used < self._expiry:
                break  # the rest were used more recently still
            if entry.in_flight == 0:
                del self._entries[origin]
                evicted.append(entry.pool)
        return evicted

    def close(self) -> None:
        with self._lock:
            pools = [entry.pool for entry in self._entries.values()]
            self._entries.clear()
        _close(pools)

    def __enter__(self) -> OriginPools:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _close(pools: list[httpcore.ConnectionPool]) -> None:
    for pool in pools:
        pool.close()
