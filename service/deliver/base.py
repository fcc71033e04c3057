"""The interface every delivery target implements: post one alert, return the message id if any."""

from __future__ import annotations

from typing import Protocol

from service.models import Alert


class Deliverer(Protocol):
    name: str

    def post(self, alert: Alert) -> str | None:
        """Post the alert; raise RetryableDelivery or PermanentDelivery on failure."""
        ...
