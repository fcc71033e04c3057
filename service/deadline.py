"""A request's deadline: the time by which every connect, read and write of it must be done.

httpx's timeouts bound each read, so a server that drips a byte every few seconds never trips
them. The caller sets the request's deadline in a context variable (the sync clients do all of a
request's I/O in the caller's thread) and the guarded transport (`service.fetch.transport`) gives
every connect, TLS handshake, read and write at most the time that is left. The fetcher and the
LLM client both use it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_DEADLINE: ContextVar[float | None] = ContextVar("newsalert_fetch_deadline", default=None)


class DeadlineExceeded(Exception):
    """Raised below httpx when a request's deadline passes; the fetcher translates it."""


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Every connect, read and write in this thread must finish by `at` (time.monotonic())."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def remaining(timeout: float | None) -> float | None:
    """`timeout`, shortened to what is left of the deadline; DeadlineExceeded if nothing is."""
    at = _DEADLINE.get()
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise DeadlineExceeded
    return left if timeout is None else min(timeout, left)


def raise_if_past() -> None:
    """DeadlineExceeded if this thread's request is past its deadline."""
    at = _DEADLINE.get()
    if at is not None and time.monotonic() >= at:
        raise DeadlineExceeded
