"""APScheduler jobs: each source polled when its cadence says, and the outbox delivery job.

A source's job runs once, then is re-added for the time the pipeline computed (adaptive interval,
server hints, backoff; see cadence.py), or follows its cron expression when the user set one.
Job ids are the source names, so a source is never polled twice at once (`max_instances=1`, and
a job is only re-added after its run). First polls resume the stored schedule across restarts and
are spread over the jitter window so a start does not burst every source at the same instant.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from service.models import Source
from service.pipeline import Context, compose_digests, deliver, guarded_poll
from service.store.llm_cache import LLMCache
from service.store.stories import StoryStore

log = logging.getLogger("newsalert.scheduler")


def guarded_deliver(ctx: Context, heartbeat: Callable[[], None] | None = None) -> None:
    """Queue the digests that are due, then drain the outbox (one job: digests keep queue order);
    also save the term counts clustering learned since the last run. The heartbeat (`health`) is
    touched only when the run succeeded: a read-only store or a full disk makes the daemon unhealthy."""
    try:
        compose_digests(ctx)
        deliver(ctx)
        ctx.stories.flush()
    except Exception:
        log.exception("internal error in delivery")
        ctx.metrics.delivery_errors.inc()
        return
    if heartbeat is not None:
        heartbeat()


def housekeeping(ctx: Context) -> None:
    """Daily: forget cached LLM briefs older than a month (a story is not briefed again after that)
    and digest entries their digest carried more than a month ago; age clustering's term counts."""
    try:
        month_ago = ctx.clock() - timedelta(days=30)
        removed = LLMCache(ctx.store).prune(month_ago)
        entries = StoryStore(ctx.store).prune(month_ago)
        halvings = ctx.stories.age_terms()
        log.info(
            "housekeeping llm_cache_removed=%d digest_entries_removed=%d term_counts_halved=%d",
            removed,
            entries,
            halvings,
        )
    except Exception:
        log.exception("internal error in housekeeping")


def _first_run(ctx: Context, source: Source, now: datetime) -> datetime:
    stored = ctx.store.source_state(source.name).next_poll_at
    start = now + timedelta(seconds=random.uniform(0, ctx.settings.jitter))
    return max(start, stored) if stored else start


class Scheduler(BackgroundScheduler):  # type: ignore[misc]  # APScheduler has no type hints
    """APScheduler's background scheduler, for jobs that add their own successor.

    Its `shutdown(wait=True)` holds the job-store lock while it waits for running jobs, so a poll
    that finished meanwhile and added its next run would wait for that lock forever (the daemon
    would hang on SIGTERM). Successors go through `reschedule`, which adds nothing once stopping
    has begun: the store keeps each source's next poll time, and the next start resumes it."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._guard = threading.Lock()
        self._stopping = False

    def reschedule(self, *args: Any, **kwargs: Any) -> None:
        with self._guard:
            if not self._stopping:
                self.add_job(*args, **kwargs)

    def shutdown(self, wait: bool = True) -> None:
        with self._guard:
            self._stopping = True
        super().shutdown(wait)


def _once(source: Source) -> dict[str, Any]:
    """A source's one-shot poll job: replaced by its next one, and run however late it is (a
    missed one-shot job would be dropped, and the source never polled again)."""
    return {"id": source.name, "replace_existing": True, "misfire_grace_time": None}


def build(ctx: Context, heartbeat: Callable[[], None] | None = None) -> Scheduler:
    settings = ctx.settings
    scheduler = Scheduler(
        executors={"default": ThreadPoolExecutor(settings.fetch.workers + 1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone="UTC",
    )

    def poll_and_reschedule(source: Source) -> None:
        report = None
        try:
            report = guarded_poll(ctx, source)
        finally:  # whatever happened, the source's next poll is on the schedule
            retry = ctx.clock() + timedelta(seconds=source.interval_seconds)
            when = report.next_poll if report and report.next_poll else retry
            when += timedelta(seconds=random.uniform(0, settings.jitter))
            scheduler.reschedule(poll_and_reschedule, "date", run_date=when, args=[source], **_once(source))

    now = ctx.clock()
    for source in settings.sources:
        if source.cron:
            trigger = CronTrigger.from_crontab(source.cron, timezone="UTC")
            scheduler.add_job(guarded_poll, trigger, args=[ctx, source], id=source.name, name=f"poll {source.name}")
        else:
            first = _first_run(ctx, source, now)
            scheduler.add_job(poll_and_reschedule, "date", run_date=first, args=[source], **_once(source))
    scheduler.add_job(housekeeping, IntervalTrigger(hours=24), args=[ctx], id="housekeeping", next_run_time=now)
    scheduler.add_job(
        guarded_deliver,
        IntervalTrigger(seconds=settings.delivery_interval),
        args=[ctx, heartbeat],
        id="deliver",
        name="deliver outbox",
        next_run_time=now,
    )
    return scheduler
