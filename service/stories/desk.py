"""The story stage's entry point: file one alerted item with its story and queue what each channel gets.

`StoryDesk.file` is what the pipeline calls: the item's features for clustering, the judge's
verdicts on close calls (outside the lock: an LLM is slow), the placement (`book`), the channels'
plan (`route`), and the filing in the store with the alerts in one transaction (`StoryStore`),
then the same change in memory. Briefs are written only for the channels where this item starts
the story's thread, outside the story lock, by the `write` callback the pipeline passes (the
summarize stage); the placement is checked again under the lock, and a brief another source's
item made unnecessary meanwhile is simply not used.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from service.detect.entities import Entities
from service.models import Alert, Brief, Item, Match, Source
from service.settings import SlackSettings
from service.store import Store
from service.store.stories import Filing, StoryStore
from service.stories import cluster
from service.stories.book import Placement, StoryBook
from service.stories.route import Plan, StoryView, plan
from service.summarize.same_story import StoryJudge

log = logging.getLogger("newsalert.pipeline")

BriefsFor = Callable[[Sequence[str]], Mapping[str, Brief]]  # channels -> the brief each gets


@dataclass(frozen=True)
class StoryDesk:
    """What filing a story needs, built once by the pipeline's context."""

    book: StoryBook
    store: Store
    slack: SlackSettings
    entities: Entities
    priorities: Mapping[str, float]  # topic id -> priority
    threads: bool  # the delivery target can thread and edit (a bot token; not a webhook)
    clock: Callable[[], datetime]
    judge: StoryJudge | None = None  # llm.same_story: the LLM decides clustering's close calls

    def file(
        self, source: Source, item_id: int, item: Item, matches: Sequence[Match], body: str, write: BriefsFor
    ) -> int:
        """Join the item to its story (or start one) and queue what each channel gets, in one
        transaction; returns the alerts queued."""
        now = self.clock()
        feats = (
            cluster.features(item.title, item.summary or body, item.published or now, self.entities, str(item_id))
            if source.cluster
            else None
        )
        verdicts = self.judge_close_calls(feats)
        briefs: dict[str, Brief] = {}
        while True:
            with self.book.lock:
                placed, story_plan = self._plan(source, item, matches, feats, verdicts, briefs, now)
                missing = [c for c in _parent_channels(story_plan) if c not in briefs]
                if not missing:
                    alerts, story_id = self._file(source, item_id, item, matches, feats, placed, story_plan, now)
                    break
            # Briefs are written outside the lock (an LLM takes seconds); the first round writes them
            # all, and another round is needed only when another item changed the story meanwhile.
            briefs |= write(missing)
        _log_story(source, item, story_id, placed, story_plan)
        return len(alerts)

    def _file(
        self,
        source: Source,
        item_id: int,
        item: Item,
        matches: Sequence[Match],
        feats: cluster.Features | None,
        placed: Placement,
        story_plan: Plan,
        now: datetime,
    ) -> tuple[tuple[Alert, ...], int]:
        """File the item with its story and queue its alerts (the caller holds the story lock)."""
        filing = Filing(
            item_id=item_id,
            story_id=placed.story.id if placed.story else None,
            title=placed.story.title if placed.story else item.title,
            url=placed.story.url if placed.story else item.url,
            published=item.published or now,
            now=now,
            source=source.name,
            weight=source.weight,
            features=json.dumps(feats.to_dict(), ensure_ascii=False) if feats else None,
            why=placed.match.why() if placed.match else None,
            merged=tuple(e.id for e in placed.merged),
            parents=story_plan.parents,
            held=story_plan.held,
        )
        alerts = story_plan.alerts
        story_id = StoryStore(self.store).file_item(
            filing, matches, lambda sid: [replace(a, story_id=sid) for a in alerts]
        )
        self.book.commit(filing, story_id, feats, (m.topic for m in matches))
        return alerts, story_id

    def judge_close_calls(self, feats: cluster.Features | None) -> dict[str, tuple[bool, str]]:
        """The judge's verdicts on the item's close calls (member key -> same event?, why), asked
        outside the story lock; a story that appears meanwhile is decided by its score alone."""
        if self.judge is None:
            return {}
        verdicts: dict[str, tuple[bool, str]] = {}
        for call, member in self.book.close_calls(feats, self.judge.band):
            verdict = self.judge.same(feats, member) if feats is not None else None
            if verdict is not None:
                verdicts[call.member_key] = verdict
        return verdicts

    def _plan(
        self,
        source: Source,
        item: Item,
        matches: Sequence[Match],
        feats: cluster.Features | None,
        verdicts: Mapping[str, tuple[bool, str]],
        briefs: Mapping[str, Brief],
        now: datetime,
    ) -> tuple[Placement, Plan]:
        placed = self.book.place(feats, verdicts)
        view = StoryView(
            title=placed.story.title if placed.story else item.title,
            url=placed.story.url if placed.story else item.url,
            outlets=placed.outlets(source.name, source.weight),
            parents=placed.parents(),
            priority=max(self.priorities.get(m.topic, 1.0) for m in matches),
            topics=placed.topics(),
            repeat=placed.covered_by(source.name),
        )
        story_plan = plan(
            item,
            matches,
            view,
            briefs,
            routes=self.slack.routes,
            default=self.slack.default_channel,
            policies=self.slack.channels,
            now=now,
            threads=self.threads,
        )
        return placed, story_plan


def _parent_channels(story_plan: Plan) -> list[str]:
    return [a.channel for a in story_plan.alerts if a.kind == "story"]


def _log_story(source: Source, item: Item, story_id: int, placed: Placement, story_plan: Plan) -> None:
    joined = f" joined ({placed.match.why()})" if placed.match else " new"
    merged = f" merged={[e.id for e in placed.merged]}" if placed.merged else ""
    channels = " ".join(f"{c}:{d.action}" for c, d in story_plan.decisions.items())
    log.info(
        "story=%d%s%s source=%r title=%r score=%g %s",
        story_id,
        joined,
        merged,
        source.name,
        item.title[:80],
        story_plan.score,
        channels,
    )
