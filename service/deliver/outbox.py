"""Drain the outbox: post due alerts in order, effectively once, and settle each one.

Order. Alerts go out in queue order. A retryable failure (rate limit, 5xx, network) stops the run,
so later alerts never overtake earlier ones; the alert waits for Slack's Retry-After or an
exponential backoff capped at an hour, for as long as Slack is down (the queue is bounded by the
store's `max_pending`: past it new items wait unprocessed, see `Store._enqueue`; nothing is dropped).

Effectively once. Slack has no idempotency key for chat.postMessage, so each alert is marked
`sending` (with the attempt time) and committed before it is posted, posted with its key in the
message metadata, and marked `sent` after Slack's answer. A crash or a timeout between Slack
accepting the post and our mark (the one window no ordering can close) leaves the attempt time
set; before posting such an alert again, a target that can read the channel (`Reconciling`: the
bot, through conversations.history) looks for a message carrying the key since that time, and
if there is one the alert is marked sent without a second post. A target that cannot look (an
incoming webhook, the console) posts again: in that window delivery stays at-least-once.

Threads. A reply goes under its parent's message (`thread_ts`, found by the parent's key; queue
order delivers the parent first), and is looked for in that thread after a crash (replies are not
in the channel's history). An update rewrites the parent with the story's outlets so far: editing
twice is harmless, so it needs no reconciling, and without a parent message it is settled as done.

Failures that retrying will not fix are settled at once, never looped on: the alert is marked
`failed` with the reason (`newsalert status`). A broken channel (`RouteFailure`: a channel that
does not exist, excludes the bot or is archived) is logged as an ERROR once per process and
channel and reported once to the ops channel (when `ops_channel` is given and is another
channel); each further alert to it is still tried once and recorded. A broken target (a revoked
or wrong token, a deleted webhook) is logged once too, but its alerts are not failed: the run
stops and everything waits, tried hourly, as in an outage, until the token or URL is fixed. One delivery run at a time per store: the daemon's lock
(`app.store_lock`) and the scheduler's single delivery job.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from service.deliver.base import Deliverer
from service.errors import PermanentDelivery, RetryableDelivery, RouteFailure
from service.models import Alert
from service.store import PendingAlert, Store
from service.store.stories import StoryStore

log = logging.getLogger(__name__)
BASE_BACKOFF = 30.0
MAX_BACKOFF = 3600.0
# Messages are looked for from this long before the attempt: our clock and Slack's may disagree.
RECONCILE_MARGIN = timedelta(minutes=10)


@runtime_checkable
class Reconciling(Protocol):
    """A target that can tell whether an alert already reached its channel."""

    def find_posted(self, alert: Alert, since: datetime, thread_ts: str | None = None) -> str | None:
        """The id (ts) of a message posted for `alert` since `since` (in the thread of `thread_ts`,
        if given), or None if there is none.

        Raises RetryableDelivery when it cannot look now, PermanentDelivery when it never can."""
        ...


class Once:
    """What this process already reported, so each (route, error) is told once, not per alert."""

    def __init__(self) -> None:
        self._seen: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()

    def first(self, *key: str) -> bool:
        with self._lock:
            new = key not in self._seen
            self._seen.add(key)
        return new


REPORTED = Once()


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


def deliver_due(
    store: Store,
    target: Deliverer,
    now: datetime,
    limit: int = 50,
    ops_channel: str | None = None,
    once: Once = REPORTED,
) -> DeliveryReport:
    sent = failed = 0
    for pending in store.due_alerts(now, limit):
        try:
            posted = _deliver(store, target, pending, now, once)
        except RetryableDelivery as e:
            _defer(store, pending, e, now)
            return DeliveryReport(sent, failed, 1)
        except PermanentDelivery as e:
            _report_failure(store, pending.alert, e, now, ops_channel, once)
            if isinstance(e, RouteFailure) and e.channel is None:
                # The whole target refuses us (a revoked token, a deleted webhook): nothing can be
                # posted until someone fixes it, so everything waits, as in an outage, and is
                # tried again hourly; marking the backlog failed would lose it.
                _defer(store, pending, RetryableDelivery(str(e), MAX_BACKOFF), now)
                return DeliveryReport(sent, failed, 1)
            store.mark_failed(pending.id, str(e))
            failed += 1
            continue
        sent += posted
    return DeliveryReport(sent, failed, 0)


def _deliver(store: Store, target: Deliverer, pending: PendingAlert, now: datetime, once: Once) -> bool:
    """Settle one alert: True once it is in Slack (posted now, or found there)."""
    alert = pending.alert
    if alert.kind == "update":
        return _update(store, target, pending, now)
    thread_ts = _thread_ts(store, alert)
    if pending.attempted_at is not None:
        ts = _already_posted(target, pending, pending.attempted_at, once, thread_ts)
        if ts is not None:
            store.mark_sent(pending.id, now, ts)
            log.info(
                "alert=%s channel=%s was already posted (ts=%s): marked sent, not posted again",
                pending.id,
                alert.channel,
                ts,
            )
            return True
    if not store.mark_sending(pending.id, now):
        return False  # settled meanwhile: cannot happen with one delivery run per store
    ts = target.post(alert, thread_ts)
    store.mark_sent(pending.id, now, ts)
    log.info("delivered alert=%s kind=%s channel=%s target=%s", pending.id, alert.kind, alert.channel, target.name)
    return True


def _thread_ts(store: Store, alert: Alert) -> str | None:
    """The parent message a reply goes under. Queue order delivers a parent first; a parent that
    failed or got no ts (console, webhook) leaves the reply to stand on its own."""
    if alert.kind != "reply" or alert.thread_of is None:
        return None
    parent = StoryStore(store).parent(alert.thread_of)
    return parent[1] if parent else None


def _update(store: Store, target: Deliverer, pending: PendingAlert, now: datetime) -> bool:
    """Rewrite a thread's parent with the story's outlets so far; editing twice is harmless, so an
    update needs no reconciling. Without a parent message there is nothing to rewrite."""
    alert = pending.alert
    parent = StoryStore(store).parent(alert.thread_of or "")
    if parent is None or parent[1] is None:
        store.mark_sent(pending.id, now, None)
        return False
    target.update(replace(parent[0], outlets=alert.outlets), parent[1])
    store.mark_sent(pending.id, now, parent[1])
    log.info("updated parent of alert=%s channel=%s outlets=%d", pending.id, alert.channel, len(alert.outlets))
    return True


def _already_posted(
    target: Deliverer, pending: PendingAlert, attempted_at: datetime, once: Once, thread_ts: str | None = None
) -> str | None:
    """After a crash or an unanswered post: the message's ts if it reached Slack, else None."""
    alert = pending.alert
    if not isinstance(target, Reconciling):
        log.warning(
            "alert=%s channel=%s: an earlier post may have arrived; %s cannot check, posting again",
            pending.id,
            alert.channel,
            target.name,
        )
        return None
    try:
        return target.find_posted(alert, attempted_at - RECONCILE_MARGIN, thread_ts)
    except PermanentDelivery as e:
        if once.first("reconcile", alert.channel, str(e)):
            log.warning(
                "cannot check channel=%s for alerts already posted (%s); posting again, which may duplicate"
                " one after a crash (reported once)",
                alert.channel,
                e,
            )
        return None


def _defer(store: Store, pending: PendingAlert, e: RetryableDelivery, now: datetime) -> None:
    wait = backoff(pending.attempts + 1, e.retry_after)
    store.mark_retry(pending.id, str(e), now + timedelta(seconds=wait))
    log.warning(
        "delivery deferred alert=%s channel=%s error=%r retry_in=%.0fs",
        pending.id,
        pending.alert.channel,
        str(e),
        wait,
    )


def _report_failure(
    store: Store, alert: Alert, e: PermanentDelivery, now: datetime, ops_channel: str | None, once: Once
) -> None:
    if not isinstance(e, RouteFailure):
        log.error("delivery failed channel=%s key=%s error=%r (not retried)", alert.channel, alert.key, str(e))
        return
    route = e.channel or "every channel"
    if not once.first("route", route, str(e)):
        log.info(
            "delivery failed channel=%s key=%s error=%r (route broken, reported above)",
            alert.channel,
            alert.key,
            str(e),
        )
        return
    fate = "they wait, tried hourly" if e.channel is None else "its alerts are marked failed, not retried"
    log.error(
        "slack route broken: %s: %s; %s, until this is fixed (logged once per process; see `newsalert status`)",
        route,
        e,
        fate,
    )
    if e.channel is not None and ops_channel and e.channel != ops_channel:
        store.enqueue_notice(route_notice(e.channel, str(e), ops_channel, now), now)


def route_notice(channel: str, reason: str, ops_channel: str, now: datetime) -> Alert:
    """One message to the ops channel: a channel stopped accepting alerts."""
    key = hashlib.sha256(f"route\n{channel}\n{reason}\n{now.isoformat()}".encode()).hexdigest()[:32]
    return Alert(
        key=key,
        channel=ops_channel,
        source="newsalert",
        title=f"Alerts to {channel} cannot be posted: {reason}",
        url="",
        published=now,
        matches=(),
        summary=("Its alerts are marked failed and not retried until this is fixed; see `newsalert status`.",),
        kind="health",
    )
