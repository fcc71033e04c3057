"""APScheduler jobs: each source on its own interval with jitter, and the outbox delivery job.

`max_instances=1` guarantees a source is never polled twice at once; `coalesce` folds polls missed
while the machine slept into one. First polls are spread over the jitter window so a start does not
burst every source at the same instant.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from datetime import timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from service.models import Source
from service.pipeline import Context, deliver, poll_source

log = logging.getLogger("newsalert.scheduler")


def guarded_poll(ctx: Context, source: Source) -> None:
    """A bug in one poll is logged with its traceback and recorded on the source; the daemon goes on."""
    try:
        poll_source(ctx, source)
    except Exception as e:
        log.exception("internal error polling source=%r", source.name)
        ctx.store.record_error(source.name, source.url, source.kind, ctx.clock(), f"internal error: {e!r}")


def guarded_deliver(ctx: Context, heartbeat: Callable[[], None] | None = None) -> None:
    try:
        deliver(ctx)
    except Exception:
        log.exception("internal error in delivery")
    if heartbeat is not None:
        heartbeat()


def build(ctx: Context, heartbeat: Callable[[], None] | None = None) -> BackgroundScheduler:
    settings = ctx.settings
    scheduler = BackgroundScheduler(
        executors={"default": ThreadPoolExecutor(settings.fetch.workers + 1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        timezone="UTC",
    )
    now = ctx.clock()
    for source in settings.sources:
        scheduler.add_job(
            guarded_poll,
            IntervalTrigger(seconds=source.interval_seconds, jitter=int(settings.jitter) or None),
            args=[ctx, source],
            id=f"source:{source.name}",
            name=f"poll {source.name}",
            next_run_time=now + timedelta(seconds=random.uniform(0, settings.jitter)),
        )
    scheduler.add_job(
        guarded_deliver,
        IntervalTrigger(seconds=settings.delivery_interval),
        args=[ctx, heartbeat],
        id="deliver",
        name="deliver outbox",
        next_run_time=now,
    )
    return scheduler
