"""The interface every delivery target implements: post one alert, return the message id if any."""

from __future__ import annotations

from typing import Protocol

from service.models import Alert


class Deliverer(Protocol):
    name: str
    threads: bool  # can reply in a thread and update a message (else later coverage goes to the digest)

    def post(self, alert: Alert, thread_ts: str | None = None) -> str | None:
        """Post the alert (in the thread of `thread_ts`, if given); raise RetryableDelivery or
        PermanentDelivery on failure."""
        ...

    def update(self, alert: Alert, ts: str) -> None:
        """Rewrite the message `ts` as `alert` (a thread's parent with its outlets so far)."""
        ...
