"""The stories of the window, in memory: which story a new alerted item joins, and what it holds.

One `StoryBook` per process, built from the store at start (stories covered within the window, and
the term frequencies clustering weighs words by) and kept in step with it: `place` is read-only;
the pipeline files the item in the store (`StoryStore.file_item`), then `commit`s the same change
here. Both happen under `lock`, so two sources polled at once cannot both start the same story.
Clustering itself is `service.stories.cluster` (pure); this module only keeps its state.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from service.detect.entities import Entities
from service.models import Item
from service.store.stories import Filing, StoryStore
from service.stories import cluster
from service.stories.cluster import DocumentFrequencies, Features, Story, StoryMatch

TERM_DOCS = 100_000  # term counts past this many items are halved (housekeeping): weeks to months of news


@dataclass
class Entry:
    """A story of the window: its members (for matching), outlets and thread parents."""

    id: int
    title: str
    url: str
    story: Story
    outlets: dict[str, float] = field(default_factory=dict)  # source -> weight
    parents: dict[str, str] = field(default_factory=dict)  # channel -> parent alert key
    topics: dict[str, None] = field(default_factory=dict)  # topics its items matched (an ordered set)


@dataclass(frozen=True)
class Placement:
    """Where an item goes: the story it joins (None: a new one), why, and stories it merges."""

    story: Entry | None
    match: StoryMatch | None = None
    merged: tuple[Entry, ...] = ()

    def _entries(self) -> tuple[Entry, ...]:
        return (*((self.story,) if self.story else ()), *self.merged)

    def outlets(self, source: str, weight: float) -> dict[str, float]:
        """The outlets covering the story once the item has joined it, the first one first."""
        out: dict[str, float] = {}
        for entry in self._entries():
            for name, w in entry.outlets.items():
                out.setdefault(name, w)
        out.setdefault(source, weight)
        return out

    def covered_by(self, source: str) -> bool:
        """Whether the outlet already covered the story before this item."""
        return any(source in entry.outlets for entry in self._entries())

    def parents(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for entry in self._entries():
            for channel, key in entry.parents.items():
                out.setdefault(channel, key)
        return out

    def topics(self) -> tuple[str, ...]:
        """The topics the story's items matched so far (before this one)."""
        return tuple(dict.fromkeys(t for entry in self._entries() for t in entry.topics))


class StoryBook:
    def __init__(
        self, store: StoryStore, window_hours: float = cluster.WINDOW_HOURS, entities: Entities | None = None
    ) -> None:
        self.store = store
        self.entities = entities
        self.window = timedelta(hours=window_hours)
        self.lock = threading.RLock()
        self.df = DocumentFrequencies()
        self._stories: dict[int, Entry] = {}
        self._unsaved: Counter[str] = Counter()
        self._unsaved_docs = 0

    def load(self, now: datetime) -> StoryBook:
        docs, df = self.store.terms()
        self.df = DocumentFrequencies(docs, df)
        for s in self.store.recent(now - self.window):
            members = tuple(Features.from_dict(json.loads(m)) for m in s.members)
            self._stories[s.id] = Entry(
                s.id,
                s.title,
                s.url,
                Story(str(s.id), members),
                dict(s.outlets),
                dict(s.parents),
                dict.fromkeys(s.topics),
            )
        return self

    def observe(self, items: Iterable[Item]) -> None:
        """Count the words of newly seen items (all of them, alerted or not) for term weights.

        Counted in memory at once; written to the store by `flush` (the delivery job, and on
        close), not per poll: a crash loses a few seconds of statistics, nothing that matters."""
        counts: Counter[str] = Counter()
        docs = 0
        for item in items:
            docs += 1
            counts.update(cluster.index_terms(item.title, item.summary, self.entities))
        if docs:
            with self.lock:
                self.df.docs += docs
                for term, n in counts.items():
                    self.df.df[term] = self.df.df.get(term, 0) + n
                self._unsaved_docs += docs
                self._unsaved.update(counts)

    def flush(self) -> None:
        """Write the term counts observed since the last flush."""
        with self.lock:
            docs, counts = self._unsaved_docs, self._unsaved
            self._unsaved_docs, self._unsaved = 0, Counter()
        if docs:
            self.store.add_terms(docs, counts)

    def close_calls(self, features: Features | None, band: tuple[float, float]) -> list[tuple[StoryMatch, Features]]:
        """The stories an item is a close call for, each with its closest member; read-only."""
        if features is None:
            return []
        with self.lock:
            stories = [e.story for e in self._stories.values() if e.story.members]
            return cluster.close_calls(features, stories, self.df, self._hours(), band)

    def age_terms(self, max_docs: int = TERM_DOCS) -> int:
        """Halve the term counts (store and memory alike) until they cover at most `max_docs`
        items: the statistics follow recent news, and the table stays bounded. Returns the halvings."""
        self.flush()
        halvings = 0
        with self.lock:
            while self.df.docs > max_docs:
                self.store.halve_terms()
                self.df = DocumentFrequencies(self.df.docs // 2, {t: n // 2 for t, n in self.df.df.items() if n > 1})
                halvings += 1
        return halvings

    def place(self, features: Features | None, verdicts: Mapping[str, tuple[bool, str]] | None = None) -> Placement:
        """The story an item joins (and any others it also matched), with reasons; read-only.

        `verdicts` are a judge's answers on close calls (member key -> same event?, why)."""
        if features is None:
            return Placement(None)
        with self.lock:
            self._expire(features.published)
            stories = [e.story for e in self._stories.values() if e.story.members]
            found = cluster.matches(features, stories, self.df, self._hours(), verdicts=verdicts)
            if not found:
                return Placement(None)
            best = self._stories[int(found[0].story)]
            merged = tuple(self._stories[int(m.story)] for m in found[1:])
            return Placement(best, found[0], merged)

    def commit(self, filing: Filing, story_id: int, features: Features | None, topics: Iterable[str] = ()) -> None:
        """Record in memory what `StoryStore.file_item` just committed (`topics`: the item's matches)."""
        with self.lock:
            entry = self._stories.get(story_id) or Entry(story_id, filing.title, filing.url, Story(str(story_id), ()))
            for other in filing.merged:
                gone = self._stories.pop(other, None)
                if gone is not None:
                    entry.story = entry.story.merge(gone.story)
                    for name, w in gone.outlets.items():
                        entry.outlets.setdefault(name, w)
                    for channel, key in gone.parents.items():
                        entry.parents.setdefault(channel, key)
                    entry.topics.update(gone.topics)
            if features is not None:
                entry.story = entry.story.add(features)
            entry.outlets.setdefault(filing.source, filing.weight)
            entry.topics.update(dict.fromkeys(topics))
            for channel, key in filing.parents.items():
                entry.parents.setdefault(channel, key)
            if entry.story.members:  # a story kept out of clustering can gain no coverage
                self._stories[story_id] = entry

    def _hours(self) -> float:
        return self.window.total_seconds() / 3600

    def _expire(self, now: datetime) -> None:
        """Forget stories whose latest member is older than the window (the store keeps them)."""
        old = [k for k, e in self._stories.items() if now - e.story.last_published > 2 * self.window]
        for k in old:
            del self._stories[k]

    def __len__(self) -> int:
        return len(self._stories)
