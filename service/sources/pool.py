"""Parse fetched bodies in another process, so a big cycle's parsing runs beside the rest of it.

A cold cycle over many sources is CPU-bound, and threads share one interpreter: parsing and
normalising thousands of items (about 40% of a cold cycle's CPU on the shared corpus) would wait
for the same lock as fetching, detecting and storing. The adapters are pure functions of picklable
values (`Source`, `FetchResult` -> `list[Item]`, or a ParseError/ConfigError), so the same call
runs in a worker process and its result, or its error, comes back unchanged.

One worker: the rest of the cycle (fetching, detection, the store) stays the bigger half, so a
second worker would only compete with it for the cores. The worker starts when something is first
parsed (a cycle of 304s starts none) and stops when the pool closes. It is spawned, not forked: the
parent runs threads, and a fork can copy a lock that one of them holds. `ParsePool(0)`, and
`parse_items` called directly, parse in the calling thread.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from types import TracebackType

from service import sources
from service.dedup import canonical_url
from service.models import FetchResult, Item, Source

Parser = Callable[[Source, FetchResult], list[Item]]
MIN_SOURCES = 100  # a cycle smaller than this does not repay the worker's start (about 0.3 s of CPU)


def parse_items(source: Source, result: FetchResult) -> list[Item]:
    """The items of `result` (`sources.parse`), each with its canonical URL (dedup's comparison key)."""
    return [replace(item, canonical_url=canonical_url(item.url)) for item in sources.parse(source, result)]


class ParsePool:
    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    @classmethod
    def for_cycle(cls, sources_in_cycle: int) -> ParsePool:
        """A worker process for a big cycle on a machine with a core to spare, else none."""
        spare_core = (os.cpu_count() or 1) > 1
        return cls(1 if spare_core and sources_in_cycle >= MIN_SOURCES else 0)

    def parse(self, source: Source, result: FetchResult) -> list[Item]:
        """`parse_items(source, result)`, in the worker process when the pool has one."""
        if self.workers <= 0:
            return parse_items(source, result)
        return self._started().submit(parse_items, source, result).result()

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                context = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(self.workers, mp_context=context)
            return self._executor

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
