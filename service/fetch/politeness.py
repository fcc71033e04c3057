"""Per-host politeness: at most N requests in flight to one host, and their starts spread out.

A feed reader that polls hundreds of sources must not look like a burst to any one publisher
(Miniflux and most crawlers cap per-host concurrency for the same reason). The global limit is the
worker pool's size; this adds the per-host one. Hosts are compared case-insensitively with their
port, so two loopback servers on different ports are different hosts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlsplit


def host_key(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{(parts.hostname or '').lower()}:{parts.port or ''}"
    except ValueError:  # "http://[bad/", a port past 65535: httpx will refuse the URL itself
        return url.lower()


def spread_by_host(urls: Sequence[str]) -> list[int]:
    """The indexes of `urls`, one host's turn after another's (round robin), each host's in order.

    A pool of workers that takes requests in list order would otherwise stall on a list sorted by
    host (an OPML export by category, twenty feeds on one feed host): every worker would wait for
    the same host's few slots while the other hosts' requests wait for a worker.
    """
    seen: dict[str, int] = {}
    keys = []
    for index, url in enumerate(urls):
        host = host_key(url)
        turn = seen[host] = seen.get(host, -1) + 1
        keys.append((turn, index))
    return [index for _, index in sorted(keys)]


class HostLimiter:
    def __init__(self, per_host: int, spacing: float = 0.0) -> None:
        self.per_host = per_host
        self.spacing = spacing
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._next_start: dict[str, float] = {}

    def _semaphore(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            return self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))

    def _wait_turn(self, host: str) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start.get(host, now))
            self._next_start[host] = start + self.spacing
        if start > now:
            time.sleep(start - now)

    @contextmanager
    def slot(self, url: str) -> Iterator[None]:
        """Hold one of the host's slots for the duration of a request."""
        host = host_key(url)
        semaphore = self._semaphore(host)
        with semaphore:
            self._wait_turn(host)
            yield
