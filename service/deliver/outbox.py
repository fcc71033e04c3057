"""Drain the outbox: post due alerts in order, mark each sent, or schedule its retry.

Delivery is at-least-once: an alert is marked sent only after Slack accepted it. A retryable
failure (rate limit, 5xx, network) stops this run so that later alerts never overtake earlier
ones; the alert waits for Slack's Retry-After or an exponential backoff capped at an hour, and
is retried for as long as it takes. A permanent failure (bad channel or token) marks it `failed`
with the reason, visible in `newsalert status`, and delivery goes on with the next alert.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.deliver.base import Deliverer
from service.errors import PermanentDelivery, RetryableDelivery
from service.store import Store

log = logging.getLogger(__name__)
BASE_BACKOFF = 30.0
MAX_BACKOFF = 3600.0


def backoff(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try after `attempts` failed ones (Retry-After wins when given)."""
    if retry_after is not None:
        return max(1.0, retry_after)
    return float(min(MAX_BACKOFF, BASE_BACKOFF * 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    deferred: int = 0


def deliver_due(store: Store, target: Deliverer, now: datetime, limit: int = 50) -> DeliveryReport:
    sent = failed = 0
    for pending in store.due_alerts(now, limit):
        alert = pending.alert
        try:
            ts = target.post(alert)
        except RetryableDelivery as e:
            wait = backoff(pending.attempts + 1, e.retry_after)
            store.mark_retry(pending.id, str(e), now + timedelta(seconds=wait))
            log.warning(
                "delivery deferred alert=%s channel=%s error=%r retry_in=%.0fs", pending.id, alert.channel, str(e), wait
            )
            return DeliveryReport(sent, failed, 1)
        except PermanentDelivery as e:
            store.mark_failed(pending.id, str(e))
            log.error("delivery failed alert=%s channel=%s error=%r (not retried)", pending.id, alert.channel, str(e))
            failed += 1
            continue
        store.mark_sent(pending.id, now, ts)
        sent += 1
        log.info("delivered alert=%s channel=%s target=%s", pending.id, alert.channel, target.name)
    return DeliveryReport(sent, failed, 0)
