"""Routing (pure): which channels an item's matches go to, and what each channel gets of its story.

A story's first alert in a channel is the thread's parent; later coverage from other outlets is a
reply in that thread plus an update of the parent (the outlets so far). Each channel's policy
(`service.stories.digest.decide`) may hold an alert for the digest instead (digest-only channels, quiet
hours, a target that cannot thread) or wait until the story is important enough.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from service.models import Alert, Brief, Item, Match
from service.stories.digest import ChannelPolicy, Decision, Entry, decide, importance

DEFAULT_POLICY = ChannelPolicy()


def channels_for(matches: Sequence[Match], routes: Mapping[str, str], default: str) -> list[str]:
    """Each matched topic's channel (or the default), once each, in topic order."""
    out: list[str] = []
    for m in matches:
        channel = routes.get(m.topic, default)
        if channel not in out:
            out.append(channel)
    return out


def alert_key(item: Item, channel: str) -> str:
    """Stable identity of 'this item in this channel': the outbox refuses a second copy."""
    return hashlib.sha256(f"{item.canonical_url or item.url}\n{channel}".encode()).hexdigest()[:32]


def _update_key(parent: str, outlets: int) -> str:
    return hashlib.sha256(f"update\n{parent}\n{outlets}".encode()).hexdigest()[:32]


@dataclass(frozen=True)
class StoryView:
    """What routing needs to know of the story an item joins (or starts)."""

    title: str  # the story's first headline and link (the item's own for a new story)
    url: str
    outlets: Mapping[str, float]  # every outlet covering it, this item's included: source -> weight
    parents: Mapping[str, str] = field(default_factory=dict)  # channel -> parent alert key
    priority: float = 1.0  # the highest priority among the item's topics
    topics: tuple[str, ...] = ()  # what the story's earlier items matched
    repeat: bool = False  # the item's outlet already covered the story: a duplicate, not more coverage


@dataclass(frozen=True)
class Plan:
    alerts: tuple[Alert, ...]
    held: tuple[tuple[str, Entry], ...]  # (channel, entry) waiting for that channel's digest
    parents: Mapping[str, str]  # channels where this item's alert starts the story's thread
    decisions: Mapping[str, Decision]
    score: float


def plan(
    item: Item,
    matches: Sequence[Match],
    story: StoryView,
    briefs: Mapping[str, Brief],
    *,
    routes: Mapping[str, str],
    default: str,
    policies: Mapping[str, ChannelPolicy],
    now: datetime,
    threads: bool,
) -> Plan:
    """Each routed channel's share of one alerted item: a parent, a reply and an update, a held
    entry, or nothing yet (below the channel's bar)."""
    age = (now - item.published).total_seconds() / 3600 if item.published else 0.0
    score = importance(list(story.outlets.values()), story.priority, age)
    alerts: list[Alert] = []
    held: list[tuple[str, Entry]] = []
    parents: dict[str, str] = {}
    decisions: dict[str, Decision] = {}
    outlets = tuple(story.outlets)
    for channel, topic in _channels(matches, story, routes, default):
        parent = story.parents.get(channel)
        d = decide(
            policies.get(channel, DEFAULT_POLICY), now, score, len(outlets), reply=parent is not None, threads=threads
        )
        decisions[channel] = d
        if parent is not None and story.repeat:
            continue  # the same outlet twice is a duplicate: no reply, update or digest line under its own post
        if d.digest:
            held.append((channel, Entry("", topic, story.title, story.url, item.source, score)))
        if d.action != "post":
            continue
        base = Alert(
            key=alert_key(item, channel),
            channel=channel,
            source=item.source,
            title=item.title,
            url=item.url,
            published=item.published,
            matches=tuple(matches),
            outlets=outlets,
        )
        if parent is None:
            brief = briefs.get(channel)
            alerts.append(replace(base, summary=brief.key_points if brief else (), brief=brief))
            parents[channel] = base.key
        else:
            alerts.append(replace(base, kind="reply", thread_of=parent))
            alerts.append(replace(base, key=_update_key(parent, len(outlets)), kind="update", thread_of=parent))
    return Plan(tuple(alerts), tuple(held), parents, decisions, score)


def _channels(
    matches: Sequence[Match], story: StoryView, routes: Mapping[str, str], default: str
) -> list[tuple[str, str]]:
    """(channel, topic) for each channel the item's matches route to, then for each channel the
    story's earlier topics route to that has no thread yet: a story kept back there (below the
    channel's bar) is posted once coverage lifts it, whatever this item's own topics."""
    own = [(routes.get(m.topic, default), m.topic) for m in matches]
    earlier = [(routes.get(t, default), t) for t in story.topics]
    out: dict[str, str] = {}
    for channel, topic in own:
        out.setdefault(channel, topic)
    for channel, topic in earlier:
        if channel not in story.parents:
            out.setdefault(channel, topic)
    return list(out.items())


def build_alerts(
    item: Item, matches: Sequence[Match], briefs: Mapping[str, Brief] | None, routes: Mapping[str, str], default: str
) -> list[Alert]:
    """One alert per channel the matches route to, each with that channel's brief (if any)."""
    briefs = briefs or {}
    story = StoryView(item.title, item.url, {item.source: 1.0})
    found = plan(item, matches, story, briefs, routes=routes, default=default, policies={}, now=_EPOCH, threads=True)
    return list(found.alerts)


_EPOCH = datetime.fromtimestamp(0).astimezone()
