"""Stories, their threads, held digest entries and term frequencies, in the store's file (migration 6).

It borrows the store's connection and lock, like `LLMCache`. `file_item` is the one transaction
that settles an alerted item: the item is marked processed, it joins (or starts) its story, any
stories it merged are folded in, new thread parents are recorded, its alerts are queued and its
held entries wait for their digest. A crash before the commit leaves the item pending, so the next
poll files it again; after it, nothing is filed twice. `close_digest` likewise queues a digest and
marks the entries it carries in one transaction, so a digest is sent once across restarts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from service.models import Alert, Match
from service.store.sqlite import Store, alert_from_json
from service.stories.digest import Entry


@dataclass(frozen=True)
class StoredStory:
    """A story as loaded at start: its members' features (JSON), outlets and thread parents."""

    id: int
    title: str
    url: str
    members: tuple[str, ...]
    outlets: Mapping[str, float]  # source -> weight, in order of first coverage
    parents: Mapping[str, str]  # channel -> parent alert key
    topics: tuple[str, ...] = ()  # the topics its items matched, first seen first


@dataclass(frozen=True)
class Filing:
    """What one alerted item does to the stories (see `StoryStore.file_item`)."""

    item_id: int
    story_id: int | None  # None: the item starts a story
    title: str
    url: str
    published: datetime
    now: datetime
    source: str
    weight: float
    features: str | None
    why: str | None = None
    merged: tuple[int, ...] = ()  # stories the item also matched: folded into its story
    parents: Mapping[str, str] = field(default_factory=dict)  # new thread parents: channel -> alert key
    held: tuple[tuple[str, Entry], ...] = ()  # (channel, entry) for the digests


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


class StoryStore:
    def __init__(self, store: Store) -> None:
        self._store = store

    def file_item(self, filing: Filing, matches: Sequence[Match], alerts: Callable[[int], Sequence[Alert]]) -> int:
        """Settle an alerted item in one transaction; `alerts(story_id)` builds its alerts once its
        story has an id. Returns the story's id."""
        with self._store._tx() as db:
            story_id = self._story(db, filing)
            db.execute(
                "INSERT OR REPLACE INTO story_items (item_id, story_id, source, weight, features, why)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (filing.item_id, story_id, filing.source, filing.weight, filing.features, filing.why),
            )
            for other in filing.merged:
                self._merge(db, other, story_id)
            db.executemany(
                "INSERT OR IGNORE INTO story_threads (story_id, channel, parent_key) VALUES (?, ?, ?)",
                [(story_id, channel, key) for channel, key in filing.parents.items()],
            )
            # A channel where the story is now posted, and this item holds nothing for the digest
            # (an urgent story breaking through quiet hours): what it held there is told already.
            db.executemany(
                "UPDATE digest_entries SET digest_key = ? WHERE channel = ? AND story = ? AND digest_key IS NULL",
                [
                    (f"posted:{key}", channel, str(story_id))
                    for channel, key in filing.parents.items()
                    if channel not in {c for c, _ in filing.held}
                ],
            )
            db.executemany(
                "INSERT INTO digest_entries (channel, story, topic, title, url, source, score, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (channel, str(story_id), e.topic, e.title, e.url, e.source, e.score, filing.now.timestamp())
                    for channel, e in filing.held
                ],
            )
            self._store._finish(db, filing.item_id, matches, alerts(story_id), filing.now)
        return story_id

    @staticmethod
    def _story(db: sqlite3.Connection, filing: Filing) -> int:
        if filing.story_id is None:
            return int(
                db.execute(
                    "INSERT INTO stories (title, url, created_at, last_published) VALUES (?, ?, ?, ?)",
                    (filing.title, filing.url, _iso(filing.published), _iso(filing.published)),
                ).lastrowid
                or 0
            )
        db.execute(
            "UPDATE stories SET last_published = max(last_published, ?) WHERE id = ?",
            (_iso(filing.published), filing.story_id),
        )
        return filing.story_id

    @staticmethod
    def _merge(db: sqlite3.Connection, other: int, into: int) -> None:
        """Fold a story into another: its items and, for channels the other lacks, its threads."""
        db.execute("UPDATE stories SET merged_into = ? WHERE id = ?", (into, other))
        db.execute("UPDATE story_items SET story_id = ? WHERE story_id = ?", (into, other))
        db.execute(
            "UPDATE OR IGNORE story_threads SET story_id = ? WHERE story_id = ?",
            (into, other),
        )
        db.execute("DELETE FROM story_threads WHERE story_id = ?", (other,))
        # Held entries follow, so a digest shows the merged story once.
        db.execute(
            "UPDATE digest_entries SET story = ? WHERE story = ? AND digest_key IS NULL", (str(into), str(other))
        )
        db.execute(
            "UPDATE stories SET last_published = max(last_published,"
            " (SELECT last_published FROM stories WHERE id = ?)) WHERE id = ?",
            (other, into),
        )

    def recent(self, since: datetime) -> list[StoredStory]:
        """The stories still open for new coverage: not merged away, covered since `since`."""
        with self._store._lock:
            db = self._store._db
            stories = db.execute(
                "SELECT id, title, url FROM stories WHERE merged_into IS NULL AND last_published >= ? ORDER BY id",
                (_iso(since),),
            ).fetchall()
            out = []
            for s in stories:
                items = db.execute(
                    "SELECT si.source, si.weight, si.features, i.matches FROM story_items si"
                    " JOIN items i ON i.id = si.item_id WHERE si.story_id = ? ORDER BY si.rowid",
                    (s["id"],),
                ).fetchall()
                threads = db.execute(
                    "SELECT channel, parent_key FROM story_threads WHERE story_id = ?", (s["id"],)
                ).fetchall()
                out.append(
                    StoredStory(
                        id=s["id"],
                        title=s["title"],
                        url=s["url"],
                        members=tuple(r["features"] for r in items if r["features"]),
                        outlets={r["source"]: r["weight"] for r in items},
                        parents={r["channel"]: r["parent_key"] for r in threads},
                        topics=tuple(dict.fromkeys(m["topic"] for r in items for m in json.loads(r["matches"]))),
                    )
                )
        return out

    # -- digests ----------------------------------------------------------------------------

    def close_digest(
        self, channel: str, before: datetime, build: Callable[[list[Entry], int], Sequence[Alert]], now: datetime
    ) -> int:
        """Queue the digest of the channel's entries held before `before` and mark them carried, in
        one transaction, so a second run of the same digest finds nothing. `build(entries, batch)`
        gets the first entry's id to key the digest with."""
        with self._store._tx() as db:
            rows = db.execute(
                "SELECT * FROM digest_entries WHERE channel = ? AND digest_key IS NULL AND created_at < ? ORDER BY id",
                (channel, before.timestamp()),
            ).fetchall()
            if not rows:
                return 0
            entries = [Entry(r["story"], r["topic"], r["title"], r["url"], r["source"], r["score"]) for r in rows]
            alerts = build(entries, int(rows[0]["id"]))
            for alert in alerts:
                self._store._enqueue(db, None, alert, now)
            db.executemany(
                "UPDATE digest_entries SET digest_key = ? WHERE id = ?", [(alerts[0].key, r["id"]) for r in rows]
            )
        return len(alerts)

    def prune(self, before: datetime) -> int:
        """Forget digest entries carried by a digest before `before` (the digest itself stays in
        the outbox); stories and their items stay, like items do."""
        with self._store._tx() as db:
            return int(
                db.execute(
                    "DELETE FROM digest_entries WHERE digest_key IS NOT NULL AND created_at < ?", (before.timestamp(),)
                ).rowcount
            )

    def held(self, channel: str | None = None) -> list[tuple[str, Entry]]:
        """Entries still waiting for a digest (all channels, or one)."""
        with self._store._lock:
            rows = self._store._db.execute(
                "SELECT * FROM digest_entries WHERE digest_key IS NULL AND (? IS NULL OR channel = ?) ORDER BY id",
                (channel, channel),
            ).fetchall()
        return [
            (r["channel"], Entry(r["story"], r["topic"], r["title"], r["url"], r["source"], r["score"])) for r in rows
        ]

    # -- delivery ----------------------------------------------------------------------------

    def parent(self, key: str) -> tuple[Alert, str | None] | None:
        """A thread's parent alert and the ts of its message (None until it is posted, or if the
        target gave none), or None if no such alert was queued."""
        with self._store._lock:
            row = self._store._db.execute("SELECT payload, message_ts FROM alerts WHERE key = ?", (key,)).fetchone()
        return None if row is None else (alert_from_json(row["payload"]), row["message_ts"])

    # -- term frequencies ------------------------------------------------------------------

    def add_terms(self, docs: int, counts: Mapping[str, int]) -> None:
        with self._store._tx() as db:
            db.executemany(
                "INSERT INTO term_df (term, df) VALUES (?, ?) ON CONFLICT (term) DO UPDATE SET df = df + excluded.df",
                list(counts.items()),
            )
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('term_docs', ?)"
                " ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value",
                (docs,),
            )

    def halve_terms(self) -> None:
        """Halve every count, forgetting terms seen once: old items weigh half as much as new ones."""
        with self._store._tx() as db:
            db.execute("UPDATE term_df SET df = df / 2")
            db.execute("DELETE FROM term_df WHERE df = 0")
            db.execute("UPDATE meta SET value = CAST(value AS INTEGER) / 2 WHERE key = 'term_docs'")

    def terms(self) -> tuple[int, dict[str, int]]:
        with self._store._lock:
            db = self._store._db
            row = db.execute("SELECT value FROM meta WHERE key = 'term_docs'").fetchone()
            df = {r["term"]: r["df"] for r in db.execute("SELECT term, df FROM term_df")}
        return (int(row["value"]) if row else 0), df

    def matching_items(self) -> int:
        """Items that matched a topic (whatever became of their alerts)."""
        with self._store._lock:
            return int(self._store._db.execute("SELECT COUNT(*) FROM items WHERE matches != '[]'").fetchone()[0])

    def story_count(self) -> int:
        with self._store._lock:
            return int(self._store._db.execute("SELECT COUNT(*) FROM stories WHERE merged_into IS NULL").fetchone()[0])
