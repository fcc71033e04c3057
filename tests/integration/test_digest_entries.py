"""Held digest entries in a real SQLite store: a late entry is not lost, merged stories are one line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from service.models import Alert, Item
from service.store import Store
from service.store.sqlite import alert_from_json
from service.store.stories import Filing, StoryStore
from service.stories.digest import ChannelPolicy, Entry, digest_alerts

DUE = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def _file(store: Store, n: int, story: int | None, held_at: datetime, merged: tuple[int, ...] = ()) -> int:
    """File item `n` into `story` (None: a new one), holding it for #c's digest as of `held_at`."""
    item = Item("Lab", f"g{n}", f"https://lab.example/{n}", f"Story {n}", canonical_url=f"https://lab.example/{n}")
    _, pending = store.record_items("Lab", [item], held_at, None)
    (stored,) = [p for p in pending if p.item.guid == f"g{n}"]
    entry = Entry("", "agi", f"Story {n}", item.url, "Lab", 1.0)
    filing = Filing(
        item_id=stored.id,
        story_id=story,
        title=item.title,
        url=item.url,
        published=held_at,
        now=held_at,
        source="Lab",
        weight=1.0,
        features=None,
        merged=merged,
        held=(("#c", entry),),
    )
    return StoryStore(store).file_item(filing, [], lambda _: [])


def _close(store: Store, now: datetime) -> int:
    build = partial(digest_alerts, "#c", DUE, topic_order=["agi"], zone=ChannelPolicy().zone)
    return StoryStore(store).close_digest("#c", DUE, build, now)


def _digests(store: Store) -> list[Alert]:
    rows = store._db.execute("SELECT payload FROM alerts WHERE channel = '#c' ORDER BY id")
    return [alert_from_json(r["payload"]) for r in rows]


def test_an_entry_stored_after_its_digest_closed_gets_a_digest_of_its_own(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    _file(store, 1, None, DUE - timedelta(minutes=30))
    assert _close(store, DUE + timedelta(seconds=5)) == 1
    # Filed with the clock of 07:59:50, committed at 08:00:10 (an LLM brief took 20 s).
    _file(store, 2, None, DUE - timedelta(seconds=10))
    assert _close(store, DUE + timedelta(seconds=20)) == 1
    assert _close(store, DUE + timedelta(seconds=35)) == 0  # and only once
    first, late = _digests(store)
    assert [line.title for line in first.lines] == ["Story 1"] and [line.title for line in late.lines] == ["Story 2"]
    assert StoryStore(store).held("#c") == []


def test_stories_merged_while_held_are_one_digest_line(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    one = _file(store, 1, None, DUE - timedelta(hours=2))
    two = _file(store, 2, None, DUE - timedelta(hours=1))
    _file(store, 3, one, DUE - timedelta(minutes=30), merged=(two,))  # item 3 tells both: one story
    assert _close(store, DUE + timedelta(seconds=5)) == 1
    (digest,) = _digests(store)
    assert [(line.title, line.outlets) for line in digest.lines] == [("Story 1", ("Lab",))]
