"""Run the stages for one source: fetch -> parse -> dedup -> detect -> extract -> summarize -> outbox.

The only module that calls several stages. Errors of a source (`SourceError`) are handled here,
in one place: recorded on the source and logged, and the cycle goes on with the other sources.
An article page that cannot be fetched or read is not an error of the source: the feed's own
text is used instead. Anything else is a bug: `guarded_poll` (the scheduler's and a cycle's way in)
logs it loudly with its traceback and records it on the source as a failure.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from service import health
from service.cadence import WEEK, Observation, Policy, next_interval
from service.dedup import canonical_url
from service.deliver.base import Deliverer
from service.deliver.outbox import DeliveryReport, deliver_due
from service.detect import Document, Scan, detect, may_match, near_misses
from service.errors import ExtractError, FetchError, HTTPStatusError, OutboxFull, ParseError, SourceError
from service.extract import extract
from service.fetch import Fetcher
from service.fetch.politeness import spread_by_host
from service.metrics import Metrics
from service.models import Alert, Article, Brief, FetchResult, Item, Match, Source, SourceState
from service.settings import Settings
from service.sources._normalize import http_charset
from service.sources.feed import ttl_seconds
from service.sources.pool import ParsePool, Parser, parse_items
from service.store import Store
from service.store.sqlite import StoredItem
from service.store.stories import StoryStore
from service.stories.book import StoryBook
from service.stories.desk import StoryDesk
from service.stories.digest import digest_alerts, due_digest
from service.stories.route import DEFAULT_POLICY, build_alerts, channels_for
from service.summarize.brief import Summarizer
from service.summarize.classify import Classifier, confirm

log = logging.getLogger("newsalert.pipeline")
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"


@dataclass(frozen=True)
class Context:
    """What the stages need, built once by `app` and passed down."""

    settings: Settings
    store: Store
    fetcher: Fetcher
    deliverer: Deliverer
    summarizer: Summarizer
    clock: Callable[[], datetime]
    stories: StoryBook  # the stories of the window (term counts are fed from every poll)
    desk: StoryDesk  # the story stage: files an alerted item with its story
    classifier: Classifier | None = None  # llm.classify: the LLM's opinion on near misses
    metrics: Metrics = field(default_factory=Metrics)  # what the stages count, scraped at metrics.listen


@dataclass(frozen=True)
class SourceReport:
    source: str
    status: str  # ok | not-modified | unchanged | error
    items: int = 0
    new: int = 0
    alerts: int = 0
    error: str | None = None
    next_poll: datetime | None = None
    gap: bool = False


def poll_source(ctx: Context, source: Source, parse: Parser = parse_items) -> SourceReport:
    """One poll of one source; never raises a SourceError (it is recorded on the source).

    `parse` reads the fetched body into items with canonical URLs (in this thread, or a ParsePool's)."""
    started = time.monotonic()
    now = ctx.clock()
    state = ctx.store.source_state(source.name)
    try:
        report = _poll(ctx, source, state, now, parse)
    except OutboxFull as e:
        # Not the source's fault: its items stay pending (and its validators unrecorded), so the
        # next poll processes them again once Slack has drained the queue.
        log.error("source=%r held back: %s", source.name, e)
        ctx.metrics.poll(source.name, "held", 0, time.monotonic() - started)
        return SourceReport(source.name, "held", error=str(e))
    except SourceError as e:
        retry_after = e.retry_after if isinstance(e, HTTPStatusError) else None
        report = _record_failure(ctx, source, state, now, str(e), retry_after)
    _track_health(ctx, source, state, report, now)
    seconds = time.monotonic() - started
    _log_report(report, state, seconds)
    ctx.metrics.poll(source.name, report.status, report.new, seconds)
    return report


def guarded_poll(ctx: Context, source: Source, parse: Parser = parse_items) -> SourceReport:
    """`poll_source`, where a bug is logged loudly with its traceback and counts as a failure of
    the source (recorded, backed off, told to the ops channel after N in a row, like any other),
    so the daemon and a cycle go on with the other sources."""
    try:
        return poll_source(ctx, source, parse)
    except Exception as e:
        log.exception("internal error polling source=%r", source.name)
        ctx.metrics.poll(source.name, "error", 0, 0.0)
        error = f"internal error: {type(e).__name__}"
    try:
        return record_internal_error(ctx, source, error)
    except Exception:  # the store itself failing (a full disk): the next poll tries again
        log.exception("could not record the internal error of source=%r", source.name)
        return SourceReport(source.name, "error", error=error)


def record_internal_error(ctx: Context, source: Source, error: str) -> SourceReport:
    """Record a poll that failed on a bug as a failure of the source (see `guarded_poll`)."""
    now = ctx.clock()
    state = ctx.store.source_state(source.name)
    report = _record_failure(ctx, source, state, now, error)
    _track_health(ctx, source, state, report, now)
    return report


def _record_failure(
    ctx: Context, source: Source, state: SourceState, now: datetime, error: str, retry_after: float | None = None
) -> SourceReport:
    obs = Observation(
        ok=False,
        consecutive_errors=state.consecutive_errors + 1,
        retry_after=retry_after,
        published_this_week=_published_this_week(ctx, source, now),
    )
    next_poll = _next_poll(source, obs, now)
    ctx.store.record_error(source.name, source.url, source.kind, now, error, next_poll)
    return SourceReport(source.name, "error", error=error, next_poll=next_poll)


def _published_this_week(ctx: Context, source: Source, now: datetime) -> int | None:
    """Items the source published in the last week, None if it never dates them (cadence.py)."""
    this_week, dated = ctx.store.published_counts(source.name, now - timedelta(seconds=WEEK), now)
    return this_week if dated else None


def _poll(ctx: Context, source: Source, state: SourceState, now: datetime, parse: Parser) -> SourceReport:
    result = ctx.fetcher.get(source.url, state.etag, state.last_modified)
    if result.not_modified:
        # A 304 need not repeat every validator (RFC 9110 15.4.5): keep the ones it leaves out.
        result = replace(
            result, etag=result.etag or state.etag, last_modified=result.last_modified or state.last_modified
        )
    body_hash = hashlib.sha256(result.body).hexdigest() if not result.not_modified else state.body_hash
    # A 304 has no body: the <ttl> of the last full answer still holds.
    ttl = state.ttl if result.not_modified else ttl_seconds(result.body) if source.kind == "feed" else None
    hint = max((h for h in (result.max_age, ttl) if h), default=None)
    if state.failed_body_hash and (result.not_modified or body_hash == state.failed_body_hash):
        # The body that failed last time, unchanged: the same error, without parsing it again.
        raise ParseError(
            f"unchanged since it failed: {(state.last_error or '').removeprefix('unchanged since it failed: ')}"
        )
    if result.not_modified or body_hash == state.body_hash:
        next_poll = _record_success(ctx, source, result, body_hash, now, Observation(ok=True, server_hint=hint), ttl)
        return SourceReport(source.name, "not-modified" if result.not_modified else "unchanged", next_poll=next_poll)
    try:
        items = parse(source, result)
    except ParseError:
        if body_hash is not None:
            ctx.store.remember_bad_body(
                source.name, source.url, source.kind, body_hash, result.etag, result.last_modified
            )
        raise
    old_before = None if state.polled_before else now - timedelta(seconds=ctx.settings.first_poll_window)
    inserted, pending = ctx.store.record_items(source.name, items, now, old_before)
    ctx.stories.observe(stored.item for stored in pending)
    alerts = process_items(ctx, source, pending)
    # Every item new since the last poll: the feed may have rolled over items we never saw.
    gap = state.polled_before and len(items) > 1 and inserted == len(items)
    obs = Observation(ok=True, server_hint=hint, gap=gap)
    next_poll = _record_success(ctx, source, result, body_hash, now, obs, ttl)
    return SourceReport(source.name, "ok", len(items), len(pending), alerts, next_poll=next_poll, gap=gap)


def _next_poll(source: Source, obs: Observation, now: datetime) -> datetime:
    policy = Policy(
        default=source.interval_seconds,
        minimum=source.min_interval,
        maximum=source.max_interval,
        fixed=source.interval_seconds if source.pinned else None,
    )
    return now + timedelta(seconds=next_interval(policy, obs))


def _record_success(
    ctx: Context,
    source: Source,
    result: FetchResult,
    body_hash: str | None,
    now: datetime,
    obs: Observation,
    ttl: float | None,
) -> datetime:
    next_poll = _next_poll(source, replace(obs, published_this_week=_published_this_week(ctx, source, now)), now)
    ctx.store.record_success(
        source.name,
        source.url,
        source.kind,
        now,
        etag=result.etag,
        last_modified=result.last_modified,
        body_hash=body_hash,
        next_poll=next_poll,
        gap=obs.gap,
        ttl=ttl,
    )
    return next_poll


def _track_health(ctx: Context, source: Source, before: SourceState, report: SourceReport, now: datetime) -> None:
    """One notice to the ops channel when a source starts failing, one when it recovers."""
    to = health.change(before, report.status != "error", ctx.settings.health_threshold)
    if to is not None:
        channel = ctx.settings.slack.ops_channel
        ctx.store.set_health(source.name, to, health.notice(source, to, before, report.error, channel, now), now)


def analyze(ctx: Context, source: Source, item: Item) -> tuple[Item, tuple[Match, ...], str]:
    """Detect topics, fetching the article when the feed text may match; also return the text
    to summarize (the article's, else the feed's)."""
    topics = ctx.settings.topics
    doc = Document(item.title, item.summary, item.content)
    scan = Scan(doc)  # shared by the stages below, so none searches the same text twice
    article = None
    if ctx.settings.article_fetch and source.fetch_articles and may_match(topics, scan):
        article = fetch_article(ctx, item.url)
    if article is not None:
        doc = Document(item.title, item.summary, article.text)
        scan = Scan(doc)
        key = canonical_url(article.canonical_url) if article.canonical_url else item.canonical_url
        item = replace(item, published=item.published or article.published, canonical_url=key)
    matches = detect(topics, scan, ctx.settings.entities, ctx.settings.model)
    if ctx.classifier is not None:  # llm.classify: a second opinion on near misses
        near = near_misses(topics, scan, ctx.settings.entities, ctx.classifier.margin)
        matches += confirm(ctx.classifier, topics, doc, near)
    body = article.text if article is not None else (item.content or item.summary)
    return item, matches, body


def briefs_for(ctx: Context, source: Source, item: Item, body: str, channels: Sequence[str]) -> dict[str, Brief]:
    """One brief per channel, in the channel's language (a route's `language`, else the team's).

    Only matching items get here: with an LLM configured, that is what bounds its cost; a second
    language costs one more call, the same language for several channels none."""
    slack, by_language = ctx.settings.slack, {}
    for channel in channels:
        language = slack.languages.get(channel, ctx.settings.language)
        if language not in by_language:
            by_language[language] = ctx.summarizer.write(item.title, source.name, body, language)
    return {c: by_language[slack.languages.get(c, ctx.settings.language)] for c in channels}


def process_items(ctx: Context, source: Source, pending: Sequence[StoredItem]) -> int:
    """Process a source's pending items in order; returns the alerts queued.

    The items that match nothing (most of them) are marked processed together, in one
    transaction, once the others are filed: if the process dies first they are simply processed
    again on the next poll, which alerts nothing."""
    quiet: list[int] = []
    alerts = 0
    try:
        for stored in pending:
            filed = process_item(ctx, source, stored.id, stored.item)
            if filed is None:
                quiet.append(stored.id)
            else:
                alerts += filed
    finally:
        ctx.store.mark_processed(quiet)
    return alerts


def process_item(ctx: Context, source: Source, item_id: int, item: Item) -> int | None:
    """The alerts queued for a matching item (filed with its story), 0 for a duplicate, or None
    when it matches nothing: the caller marks it processed (`process_items`)."""
    linked_as = item.canonical_url
    item, matches, body = analyze(ctx, source, item)
    if item.canonical_url != linked_as and not ctx.store.adopt_canonical(item_id, item.canonical_url):
        log.info("duplicate source=%r url=%s canonical=%s", source.name, item.url, item.canonical_url)
        return 0
    if not matches:
        return None
    ctx.metrics.matched(m.topic for m in matches)
    write = partial(briefs_for, ctx, source, item, body)
    return ctx.desk.file(source, item_id, item, matches, body, write)


def alerts_for(ctx: Context, source: Source, item: Item, matches: Sequence[Match], body: str) -> list[Alert]:
    """The alerts an item would get as a story of its own (`newsalert preview`)."""
    if not matches:
        return []
    slack = ctx.desk.slack  # as the daemon routes (a webhook: its one channel)
    briefs = briefs_for(ctx, source, item, body, channels_for(matches, slack.routes, slack.default_channel))
    return build_alerts(item, matches, briefs, slack.routes, slack.default_channel)


def fetch_article(ctx: Context, url: str) -> Article | None:
    try:
        result = ctx.fetcher.get(url, accept=ACCEPT_HTML)
        return extract(result.body, result.final_url, charset=http_charset(result.content_type))
    except (FetchError, ExtractError) as e:
        log.info("article unavailable url=%s error=%r (using the feed's text)", url, str(e))
        return None


def _log_report(report: SourceReport, state: SourceState, seconds: float) -> None:
    level = logging.WARNING if report.status == "error" else logging.INFO
    log.log(
        level,
        "source=%r status=%s items=%d new=%d alerts=%d errors_in_row=%d duration_ms=%d next_poll=%s%s%s",
        report.source,
        report.status,
        report.items,
        report.new,
        report.alerts,
        state.consecutive_errors + 1 if report.status == "error" else 0,
        seconds * 1000,
        report.next_poll.strftime("%H:%M:%S") if report.next_poll else "-",
        " possible_gap=yes" if report.gap else "",
        f" error={report.error!r}" if report.error else "",
    )


def run_cycle(ctx: Context, selected: Sequence[Source]) -> list[SourceReport]:
    """Poll the sources concurrently (one worker per source at a time) and wait for all.

    Workers take the sources one host after another (so a host's politeness limit does not hold
    them all), and a big cycle parses in another process (sources/pool.py), beside the rest."""
    order = spread_by_host([s.url for s in selected])
    with (
        ParsePool.for_cycle(len(selected)) as parser,
        ThreadPoolExecutor(max_workers=ctx.settings.fetch.workers, thread_name_prefix="poll") as pool,
    ):
        polled = dict(zip(order, pool.map(lambda i: guarded_poll(ctx, selected[i], parser.parse), order), strict=True))
    return [polled[i] for i in range(len(selected))]


def compose_digests(ctx: Context) -> int:
    """Queue every digest whose time has come (each channel's schedule, the end of its quiet hours,
    and, when the target cannot thread, the daily digest later coverage is folded into)."""
    now, slack = ctx.clock(), ctx.settings.slack
    folds = not ctx.deliverer.threads
    channels = set(slack.channels) | ({*slack.routes.values(), slack.default_channel} if folds else set())
    topic_order = [t.id for t in ctx.settings.topics]
    queued = 0
    for channel in sorted(channels):
        policy = slack.channels.get(channel, DEFAULT_POLICY)
        due = due_digest(policy, now, folds)
        if due is None:
            continue
        queued += StoryStore(ctx.store).close_digest(
            channel, due, partial(digest_alerts, channel, due, topic_order=topic_order, zone=policy.zone), now
        )
    return queued


def deliver(ctx: Context) -> DeliveryReport:
    report = deliver_due(ctx.store, ctx.deliverer, ctx.clock(), ops_channel=ctx.settings.slack.ops_channel)
    ctx.metrics.delivered(report.sent, report.failed, report.deferred)
    return report
