"""Replay a JSON-lines file of items through the pipeline, on the items' own clock (`newsalert replay`).

Each line is one item (`{"id","title","link"|"url","published","summary","text"|"content_text",
"feed_title"|"source"}`, the shape of ../shared/data/news_stream.jsonl). Items are sorted by
publication time and fed one by one to the same stages the daemon runs (store, detect, stories,
routing, digests, outbox), with the clock set to each item's time, so story threads, quiet hours
and digests behave as they would have live. Article pages are not fetched. It writes to its own
store (a temporary file unless `--store` is given), never to the daemon's.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from service import app
from service.dedup import canonical_url
from service.deliver.base import Deliverer
from service.errors import NewsalertError
from service.models import Alert, Item, Source
from service.pipeline import Context, compose_digests, deliver, process_items
from service.settings import Settings
from service.sources._dates import parse_date
from service.store.stories import StoryStore

FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)  # a snapshot of the past: accept every real date


def read_items(lines: Iterable[str], where: str = "-") -> Iterator[Item]:
    """Items of a JSON-lines stream; undated lines and lines without a title or link are skipped."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise NewsalertError(f"{where}:{number}: not JSON: {e.msg}") from e
        url = str(row.get("link") or row.get("url") or "")
        published = parse_date(row.get("published"), FAR_FUTURE)
        if not (url and row.get("title") and published):
            continue
        yield Item(
            source=str(row.get("feed_title") or row.get("source") or "replay"),
            guid=str(row.get("id", url)),
            url=url,
            title=str(row["title"]),
            summary=str(row.get("summary") or ""),
            content=str(row.get("text") or row.get("content_text") or ""),
            published=published,
            canonical_url=canonical_url(url),
        )


class ReplayClock:
    """The pipeline's clock during a replay: the time of the item being replayed."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


class Counting:
    """Wraps the replay's delivery target and counts what it posts, by kind."""

    def __init__(self, target: Deliverer) -> None:
        self.target = target
        self.name = target.name
        self.threads = target.threads
        self.kinds: Counter[str] = Counter()

    def post(self, alert: Alert, thread_ts: str | None = None) -> str | None:
        ts = self.target.post(alert, thread_ts)
        self.kinds[alert.kind] += 1
        return ts

    def update(self, alert: Alert, ts: str) -> None:
        self.target.update(alert, ts)
        self.kinds["update"] += 1


@dataclass(frozen=True)
class ReplayReport:
    items: int
    matching: int
    stories: int
    posted: dict[str, int]  # by kind: story (thread parents), reply, update, digest

    def lines(self) -> list[str]:
        parents = self.posted.get("story", 0)
        ratio = parents / self.matching if self.matching else 0.0
        return [
            f"items replayed: {self.items}; matching a topic: {self.matching}; stories: {self.stories}",
            "posted: " + ", ".join(f"{k} {v}" for k, v in sorted(self.posted.items())),
            f"alerts (thread parents) per matching item: {ratio:.2f}",
        ]


def _source(settings: Settings, name: str) -> Source:
    configured = {s.name: s for s in settings.sources}
    return configured.get(name) or Source(name=name, kind="feed", url="replay:", interval_seconds=600)


def run(settings: Settings, items: list[Item], target: Deliverer, store_path: Path) -> ReplayReport:
    """Feed the items, oldest first, through the pipeline and deliver as the clock advances."""
    items = sorted(items, key=lambda i: i.published or FAR_FUTURE)
    if not items:
        raise NewsalertError("nothing to replay: no dated item with a title and a link")
    settings = replace(settings, store_path=store_path, article_fetch=False)
    clock = ReplayClock(items[0].published or FAR_FUTURE)
    counting = Counting(target)
    with app.context(settings, deliverer=counting, clock=clock) as ctx:
        for item in items:
            clock.now = item.published or clock.now
            _replay_one(ctx, item)
        matching = StoryStore(ctx.store).matching_items()
        stories = StoryStore(ctx.store).story_count()
    return ReplayReport(len(items), matching, stories, dict(counting.kinds))


def _replay_one(ctx: Context, item: Item) -> None:
    """Store one item, process it, then queue the digests that are due and deliver."""
    source = _source(ctx.settings, item.source)
    _, pending = ctx.store.record_items(source.name, [item], ctx.clock(), None)
    ctx.stories.observe(p.item for p in pending)
    process_items(ctx, source, pending)
    compose_digests(ctx)
    deliver(ctx)
