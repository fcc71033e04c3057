"""The one composition root: settings -> clients, store, delivery target, scheduler, signals."""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit
from wsgiref.simple_server import WSGIServer

import httpx

from service import scheduler as jobs
from service.deliver.base import Deliverer
from service.deliver.console import ConsoleDeliverer
from service.deliver.slack import SlackBotDeliverer, SlackWebhookDeliverer
from service.errors import NewsalertError
from service.fetch import Fetcher
from service.fetch.addresses import AddressPolicy
from service.fetch.transport import GuardedTransport
from service.metrics import Metrics, serve
from service.metrics import stop as stop_listener
from service.pipeline import Context, SourceReport, compose_digests, deliver, run_cycle
from service.settings import Settings
from service.store import Store
from service.store.llm_cache import LLMCache
from service.store.stories import StoryStore
from service.stories.book import StoryBook
from service.stories.desk import StoryDesk
from service.summarize.brief import ExtractiveWriter, Summarizer
from service.summarize.classify import TopicClassifier
from service.summarize.llm import BriefWriter, LLMClient
from service.summarize.same_story import StoryJudge

__all__ = ["Context", "context", "deliver", "run_daemon", "run_once"]
log = logging.getLogger("newsalert")


def utc_now() -> datetime:
    return datetime.now(UTC)


def make_deliverer(settings: Settings) -> Deliverer:
    slack = settings.slack
    if slack.bot_token:
        return SlackBotDeliverer(slack.bot_token, slack.api_url)
    if slack.webhook_url:
        return SlackWebhookDeliverer(slack.webhook_url)
    return ConsoleDeliverer()


def make_summarizer(settings: Settings, store: Store) -> Summarizer:
    """The LLM brief writer (with its SQLite cache and budget) when configured, else the embedded one."""
    llm = settings.llm
    if llm is None:
        return ExtractiveWriter(settings.summary_sentences)
    # The same address guard as for feeds: a private or loopback endpoint only when declared `local`.
    host = urlsplit(llm.base_url).hostname or ""
    policy = AddressPolicy.allowing([host] if llm.local else [])
    transport = GuardedTransport(policy, httpx.Limits(max_connections=max(1, llm.concurrency) * 2))
    client = LLMClient(llm, transport)
    return BriefWriter(llm, LLMCache(store), client=client, max_sentences=settings.summary_sentences)


def make_classifier(settings: Settings, summarizer: Summarizer, store: Store) -> TopicClassifier | None:
    """The grey-zone classifier (`llm.classify`), on the brief writer's client: one pool, one limit."""
    if not isinstance(summarizer, BriefWriter) or settings.llm is None or not settings.llm.classify:
        return None
    return TopicClassifier(settings.llm, LLMCache(store), client=summarizer.client)


def make_judge(settings: Settings, summarizer: Summarizer, store: Store) -> StoryJudge | None:
    """The close-call judge of story clustering (`llm.same_story`), on the brief writer's client."""
    if not isinstance(summarizer, BriefWriter) or settings.llm is None or not settings.llm.same_story:
        return None
    return StoryJudge(settings.llm, LLMCache(store), client=summarizer.client)


@contextmanager
def context(
    settings: Settings,
    deliverer: Deliverer | None = None,
    transport: httpx.BaseTransport | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Iterator[Context]:
    store = Store(settings.store_path, max_pending=settings.outbox_max_pending)
    fetcher = Fetcher(settings.fetch, transport)
    summarizer = make_summarizer(settings, store)
    stories = StoryBook(StoryStore(store), entities=settings.entities).load(clock())
    classifier = make_classifier(settings, summarizer, store)
    target = deliverer or make_deliverer(settings)
    desk = StoryDesk(
        book=stories,
        store=store,
        # a webhook posts to its one channel: every topic goes there, once (routes would post twice)
        slack=settings.slack if target.threads else replace(settings.slack, routes={}),
        entities=settings.entities,
        priorities={t.id: t.priority for t in settings.topics},
        threads=target.threads,
        clock=clock,
        judge=make_judge(settings, summarizer, store),
    )
    try:
        metrics = Metrics()
        metrics.watch_outbox(store.outbox_counts, store.outbox_oldest_pending, clock)
        yield Context(settings, store, fetcher, target, summarizer, clock, stories, desk, classifier, metrics)
    finally:
        stories.flush()
        if isinstance(summarizer, BriefWriter):
            summarizer.close()
        fetcher.close()
        store.close()


def heartbeat_path(settings: Settings) -> Path:
    return settings.store_path.with_name(settings.store_path.name + ".heartbeat")


def lock_path(settings: Settings) -> Path:
    return settings.store_path.with_name(settings.store_path.name + ".lock")


@contextmanager
def store_lock(settings: Settings) -> Iterator[None]:
    """Hold the store's exclusive lock (`<store>.lock`, flock) or refuse with the holder's pid.

    Two daemons on one store would poll twice and post every alert twice: the outbox's
    effectively-once delivery assumes one delivery run per store. The kernel drops the lock when
    the process ends however it ends, so a killed daemon never leaves a stale lock behind."""
    path = lock_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise NewsalertError(
                f"another newsalert (pid {holder}) is already running on {settings.store_path}; "
                f"stop it first (lock: {path})"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def run_once(ctx: Context) -> list[SourceReport]:
    """One cycle of every source, then deliver everything that is due (under the store's lock)."""
    with store_lock(ctx.settings):
        reports = run_cycle(ctx, ctx.settings.sources)
        compose_digests(ctx)
        report = deliver(ctx)
    log.info("cycle done sources=%d alerts_sent=%d deferred=%d", len(reports), report.sent, report.deferred)
    return reports


def run_daemon(ctx: Context) -> None:
    """Poll on schedule until SIGTERM or SIGINT, then finish running jobs and stop cleanly."""
    with store_lock(ctx.settings):
        held = ctx.store.retry_now(ctx.clock())  # a restart is often the fix (a new token): try now
        if held:
            log.info("alerts_waiting=%d made due now at start", held)
        _run_scheduler(ctx)


def _run_scheduler(ctx: Context) -> None:
    beat = heartbeat_path(ctx.settings)
    scheduler = jobs.build(ctx, heartbeat=lambda: beat.touch())
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s, shutting down", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    scheduler.start()
    listener = _listen(ctx, alive=lambda: scheduler.running)
    log.info(
        "newsalert running sources=%d target=%s store=%s metrics=%s",
        len(ctx.settings.sources),
        ctx.deliverer.name,
        ctx.settings.store_path,
        "http://{}:{}/metrics".format(*listener.server_address[:2]) if listener else "off",
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        if listener is not None:
            stop_listener(listener)
        scheduler.shutdown(wait=True)
    log.info("stopped")


def _listen(ctx: Context, alive: Callable[[], bool]) -> WSGIServer | None:
    """The metrics and health listener, or None when it is off or cannot bind (alerts matter more
    than metrics: the daemon runs on and says why)."""
    if ctx.settings.metrics_listen is None:
        return None
    host, port = ctx.settings.metrics_listen
    try:
        return serve(ctx.metrics, host, port, alive=alive, ready=lambda: healthy(ctx.settings))
    except OSError as e:
        log.error("metrics.listen %s:%d: cannot listen (%s); running without metrics", host, port, e.strerror or e)
        return None


def healthy(settings: Settings, now: float | None = None) -> bool:
    """The daemon is healthy when its delivery job succeeded recently (it then touches a heartbeat
    file; a run that fails, e.g. on a read-only store or a full disk, does not)."""
    beat = heartbeat_path(settings)
    limit = max(3 * settings.delivery_interval, 120)
    return beat.exists() and (now or time.time()) - beat.stat().st_mtime < limit
