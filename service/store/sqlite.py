"""The SQLite store: sources' state, seen items and the alerts outbox, in one file.

One connection in WAL mode, shared by the scheduler's threads behind a lock (SQLite allows one
writer anyway); each method is one short transaction. An item becomes `pending` when first seen and
`processed` in the same transaction that puts its alerts in the outbox, so a crash in between means
the item is processed again on the next poll, never lost. Alerts carry a unique key, so an item can
never enqueue the same message twice.
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from service.errors import OutboxFull
from service.models import Alert, Brief, DigestLine, Item, Match, SourceState
from service.store.migrations import MIGRATIONS


def _iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat() if dt else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def alert_to_json(alert: Alert) -> str:
    data = asdict(alert)
    data["published"] = _iso(alert.published)
    return json.dumps(data, ensure_ascii=False)


def alert_from_json(text: str) -> Alert:
    data = json.loads(text)
    data["published"] = _dt(data["published"])
    data["matches"] = tuple(
        Match(m["topic"], m["score"], tuple(m["matched"]), m.get("event"), m.get("evidence"), m.get("model"))
        for m in data["matches"]
    )
    data["summary"] = tuple(data["summary"])
    data["brief"] = Brief.from_dict(data["brief"]) if data.get("brief") else None
    data["outlets"] = tuple(data.get("outlets") or ())
    data["lines"] = tuple(DigestLine(**{**line, "outlets": tuple(line["outlets"])}) for line in data.get("lines") or ())
    return Alert(**data)


DEFAULT_MAX_PENDING = 10_000
BUSY_SECONDS = 30


def _wal(db: sqlite3.Connection) -> None:
    """Switch to WAL. On a new file that another process is switching at the same moment, SQLite
    can answer "database is locked" at once, without waiting in its busy handler: so wait here,
    as long as the busy timeout would."""
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _statements(script: str) -> list[str]:
    """A migration's statements: `--` comments dropped (they may hold `;`), then split on `;`."""
    code = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [s.strip() for s in code.split(";") if s.strip()]


@dataclass(frozen=True)
class PendingAlert:
    id: int
    attempts: int
    alert: Alert
    attempted_at: datetime | None = None  # an earlier post may have reached Slack: look before posting


@dataclass(frozen=True)
class StoredItem:
    id: int
    item: Item


class Store:
    def __init__(self, path: Path, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_pending = max_pending
        self._lock = threading.RLock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=BUSY_SECONDS)
        self._db.row_factory = sqlite3.Row
        _wal(self._db)
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        """Apply each pending migration and its version bump in one write transaction.

        The version is read inside the transaction (after BEGIN IMMEDIATE takes the write lock),
        so two processes opening a new store at once cannot both apply the same migration."""
        while True:
            with self._tx() as db:
                version = db.execute("PRAGMA user_version").fetchone()[0]
                if version >= len(MIGRATIONS):
                    return
                for statement in _statements(MIGRATIONS[version]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {version + 1}")

    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # -- sources ----------------------------------------------------------------------------

    def source_state(self, name: str) -> SourceState:
        with self._lock:
            row = self._db.execute("SELECT * FROM sources WHERE name = ?", (name,)).fetchone()
        if row is None:
            return SourceState()
        return SourceState(
            etag=row["etag"],
            last_modified=row["last_modified"],
            body_hash=row["body_hash"],
            last_success=_dt(row["last_success"]),
            consecutive_errors=row["consecutive_errors"],
            last_error=row["last_error"],
            polled_before=bool(row["polled_before"]),
            failed_body_hash=row["failed_body_hash"],
            next_poll_at=None if row["next_poll_at"] is None else datetime.fromtimestamp(row["next_poll_at"], UTC),
            health=row["health"],
            ttl=row["ttl"],
        )

    def _ensure_source(self, db: sqlite3.Connection, name: str, url: str, kind: str) -> None:
        db.execute(
            "INSERT INTO sources (name, url, kind) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO UPDATE SET url = excluded.url, kind = excluded.kind",
            (name, url, kind),
        )

    def record_success(
        self,
        name: str,
        url: str,
        kind: str,
        now: datetime,
        *,
        etag: str | None,
        last_modified: str | None,
        body_hash: str | None,
        next_poll: datetime | None = None,
        gap: bool = False,
        ttl: float | None = None,
    ) -> None:
        # One statement (a poll's one write when nothing changed): insert or update the source.
        stamp = _iso(now)
        with self._tx() as db:
            db.execute(
                "INSERT INTO sources (name, url, kind, etag, last_modified, body_hash, polled_before, last_poll,"
                " last_success, consecutive_errors, next_poll_at, possible_gap_at, ttl)"
                " VALUES (:name, :url, :kind, :etag, :lm, :hash, 1, :now, :now, 0, :next, :gap, :ttl)"
                " ON CONFLICT (name) DO UPDATE SET url = excluded.url, kind = excluded.kind, etag = excluded.etag,"
                " ttl = excluded.ttl,"
                " last_modified = excluded.last_modified, body_hash = excluded.body_hash, polled_before = 1,"
                " last_poll = excluded.last_poll, last_success = excluded.last_success, consecutive_errors = 0,"
                " failed_body_hash = NULL, next_poll_at = coalesce(excluded.next_poll_at, next_poll_at),"
                " possible_gap_at = coalesce(excluded.possible_gap_at, possible_gap_at)",
                {
                    "name": name,
                    "url": url,
                    "kind": kind,
                    "etag": etag,
                    "lm": last_modified,
                    "hash": body_hash,
                    "now": stamp,
                    "next": next_poll.timestamp() if next_poll is not None else None,
                    "gap": stamp if gap else None,
                    "ttl": ttl,
                },
            )

    def remember_bad_body(
        self, name: str, url: str, kind: str, body_hash: str, etag: str | None, last_modified: str | None
    ) -> None:
        """A body that failed to parse, with its validators: until it changes it fails the same way."""
        with self._tx() as db:
            self._ensure_source(db, name, url, kind)
            db.execute(
                "UPDATE sources SET failed_body_hash = ?, etag = ?, last_modified = ? WHERE name = ?",
                (body_hash, etag, last_modified, name),
            )

    @staticmethod
    def _set_next(db: sqlite3.Connection, name: str, next_poll: datetime | None) -> None:
        if next_poll is not None:
            db.execute("UPDATE sources SET next_poll_at = ? WHERE name = ?", (next_poll.timestamp(), name))

    def record_error(
        self, name: str, url: str, kind: str, now: datetime, error: str, next_poll: datetime | None = None
    ) -> None:
        with self._tx() as db:
            self._ensure_source(db, name, url, kind)
            self._set_next(db, name, next_poll)
            db.execute(
                "UPDATE sources SET last_poll = ?, consecutive_errors = consecutive_errors + 1,"
                " last_error = ?, last_error_at = ? WHERE name = ?",
                (_iso(now), error[:1000], _iso(now), name),
            )

    def set_health(self, name: str, health: str, notice: Alert | None, now: datetime) -> bool:
        """Record a source's health and enqueue its notice, once: False if it was already so."""
        with self._tx() as db:
            changed = db.execute(
                "UPDATE sources SET health = ? WHERE name = ? AND health != ?", (health, name, health)
            ).rowcount
            if changed and notice is not None:
                self._enqueue(db, None, notice, now)
        return bool(changed)

    def published_counts(self, source: str, since: datetime, until: datetime) -> tuple[int, int]:
        """How many of the source's items were published between `since` and `until`, and how many
        carry a date at all (adaptive polling: a quiet source is not an undated one)."""
        with self._lock:
            row = self._db.execute(
                "SELECT coalesce(sum(published >= ? AND published <= ?), 0), count(published)"
                " FROM items WHERE source = ?",
                (_iso(since), _iso(until), source),
            ).fetchone()
        return int(row[0]), int(row[1])

    def sources_report(self, now: datetime) -> list[dict[str, Any]]:
        """Each source's stored state, with items seen in the last 7 days and the average delay
        (seconds) between an item's publication and our first sight of it, over those items."""
        week_ago = _iso(now - timedelta(days=7))
        with self._lock:
            rows = self._db.execute(
                "SELECT s.*,"
                " (SELECT COUNT(*) FROM items i WHERE i.source = s.name AND i.seen_at >= :week) AS items_7d,"
                " (SELECT AVG((julianday(i.seen_at) - julianday(i.published)) * 86400) FROM items i"
                "   WHERE i.source = s.name AND i.seen_at >= :week AND i.status != 'old'"
                "   AND i.published IS NOT NULL) AS avg_delay"
                " FROM sources s ORDER BY s.name",
                {"week": week_ago},
            ).fetchall()
        return [dict(r) for r in rows]

    # -- items ------------------------------------------------------------------------------

    def record_items(
        self, source: str, items: Iterable[Item], now: datetime, old_before: datetime | None
    ) -> tuple[int, list[StoredItem]]:
        """Insert unseen items; return how many were new, and every pending item of the source.

        With `old_before` (a source's first poll), items published before it, or undated, are
        stored as `old`: remembered, never alerted. An item whose source+guid or canonical URL is
        already stored is ignored (the first outlet to report a link owns it), except that a
        publisher's edit (the same source+guid, or a new guid for the source's own link, with a new
        title, summary, text or date) updates the stored item: it keeps its status, so it is never
        processed or alerted again.
        """
        seen_at = _iso(now)
        rows_in = [
            (
                item.source,
                item.guid,
                item.url,
                item.canonical_url or item.url,
                item.title,
                item.summary,
                item.content,
                _iso(item.published),
                seen_at,
                "old"
                if old_before is not None and (item.published is None or item.published < old_before)
                else "pending",
            )
            for item in items
        ]
        with self._tx() as db:
            # rowcount of executemany: the rows it changed, so an ignored duplicate counts 0 as before.
            inserted = db.executemany(
                "INSERT OR IGNORE INTO items (source, guid, url, canonical_url, title, summary, content,"
                " published, seen_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows_in,
            ).rowcount
            # An edit: the same guid, or a new guid for the same link (the source's own item).
            db.executemany(
                "UPDATE items SET title = ?1, summary = ?2, content = ?3, published = coalesce(?4, published)"
                " WHERE source = ?5 AND (guid = ?6 OR canonical_url = ?7)"
                " AND (title IS NOT ?1 OR summary IS NOT ?2 OR content IS NOT ?3"
                " OR (?4 IS NOT NULL AND published IS NOT ?4))",
                [(r[4], r[5], r[6], r[7], r[0], r[1], r[3]) for r in rows_in],
            )
            rows = db.execute(
                "SELECT * FROM items WHERE status = 'pending' AND source = ? ORDER BY id", (source,)
            ).fetchall()
        return inserted, [StoredItem(r["id"], self._item(r)) for r in rows]

    @staticmethod
    def _item(row: sqlite3.Row) -> Item:
        return Item(
            source=row["source"],
            guid=row["guid"],
            url=row["url"],
            title=row["title"],
            summary=row["summary"],
            content=row["content"],
            published=_dt(row["published"]),
            canonical_url=row["canonical_url"],
        )

    def finish_item(self, item_id: int, matches: Sequence[Match], alerts: Sequence[Alert], now: datetime) -> int:
        """Mark an item processed and enqueue its alerts in one transaction; returns alerts added."""
        with self._tx() as db:
            return self._finish(db, item_id, matches, alerts, now)

    def mark_processed(self, item_ids: Sequence[int]) -> None:
        """Mark items that matched nothing processed, in one transaction (most items of a poll)."""
        if item_ids:
            with self._tx() as db:
                db.executemany(
                    "UPDATE items SET status = 'processed', matches = '[]' WHERE id = ?", [(i,) for i in item_ids]
                )

    @staticmethod
    def _mark(db: sqlite3.Connection, item_id: int, matches: Sequence[Match]) -> None:
        db.execute(
            "UPDATE items SET status = 'processed', matches = ? WHERE id = ?",
            (json.dumps([asdict(m) for m in matches], ensure_ascii=False), item_id),
        )

    def _finish(
        self, db: sqlite3.Connection, item_id: int, matches: Sequence[Match], alerts: Sequence[Alert], now: datetime
    ) -> int:
        self._mark(db, item_id, matches)
        return sum(self._enqueue(db, item_id, alert, now) for alert in alerts)

    def _enqueue(self, db: sqlite3.Connection, item_id: int | None, alert: Alert, now: datetime) -> int:
        """Add an alert unless its key is queued already. A story alert is refused with OutboxFull
        when `max_pending` alerts wait (Slack down for days): the caller's transaction rolls back, so
        its item stays pending and is processed again once the queue drains. Notices always go in."""
        if item_id is not None and self._undelivered(db) >= self.max_pending:
            raise OutboxFull(f"the outbox holds {self.max_pending} undelivered alerts (Slack unreachable?)")
        return db.execute(
            "INSERT OR IGNORE INTO alerts (key, item_id, channel, payload, next_attempt_at, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (alert.key, item_id, alert.channel, alert_to_json(alert), now.timestamp(), _iso(now)),
        ).rowcount

    def adopt_canonical(self, item_id: int, canonical_url: str) -> bool:
        """Give an item the canonical URL its page declared; False (and the item is marked
        `duplicate`) when another item already has it: the same article under another link."""
        with self._tx() as db:
            try:
                db.execute("UPDATE items SET canonical_url = ? WHERE id = ?", (canonical_url, item_id))
            except sqlite3.IntegrityError:
                db.execute("UPDATE items SET status = 'duplicate' WHERE id = ?", (item_id,))
                return False
        return True

    def items_since(self, since: datetime) -> list[Item]:
        """Every stored item first seen since `since`, oldest first (for replaying topics)."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM items WHERE seen_at >= ? ORDER BY id", (_iso(since),)).fetchall()
        return [self._item(r) for r in rows]

    def item_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    # -- the outbox -------------------------------------------------------------------------
    # pending -> sending (a post in flight) -> sent | failed; a retryable failure returns it to
    # pending. `attempted_at` stays set while a post's outcome is unknown (see migration 4).

    @staticmethod
    def _undelivered(db: sqlite3.Connection) -> int:
        return int(db.execute("SELECT COUNT(*) FROM alerts WHERE status IN ('pending', 'sending')").fetchone()[0])

    def enqueue_notice(self, alert: Alert, now: datetime) -> bool:
        """Queue a notice that belongs to no item (e.g. a Slack route stopped working); False if
        its key is queued already."""
        with self._tx() as db:
            return bool(self._enqueue(db, None, alert, now))

    def due_alerts(self, now: datetime, limit: int = 50) -> list[PendingAlert]:
        """Undelivered alerts in queue order, up to the first one still waiting for its retry time:
        a deferred alert holds back those behind it, so alerts are never posted out of order.
        An alert left `sending` (the process died during its post) is due like a pending one."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, attempts, payload, next_attempt_at, attempted_at FROM alerts"
                " WHERE status IN ('pending', 'sending') ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        due = itertools.takewhile(lambda r: r["next_attempt_at"] <= now.timestamp(), rows)
        return [
            PendingAlert(
                r["id"],
                r["attempts"],
                alert_from_json(r["payload"]),
                None if r["attempted_at"] is None else datetime.fromtimestamp(r["attempted_at"], UTC),
            )
            for r in due
        ]

    def mark_sending(self, alert_id: int, now: datetime) -> bool:
        """Record that a post starts now; committed before the post is sent. An alert left `sending`
        by a crash is re-armed once the outbox has seen its message is not in Slack. False when the
        alert was settled (sent or failed) meanwhile."""
        with self._tx() as db:
            return bool(
                db.execute(
                    "UPDATE alerts SET status = 'sending', attempted_at = ? WHERE id = ?"
                    " AND status IN ('pending', 'sending')",
                    (now.timestamp(), alert_id),
                ).rowcount
            )

    def mark_sent(self, alert_id: int, now: datetime, message_ts: str | None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE alerts SET status = 'sent', sent_at = ?, message_ts = ?, attempts = attempts + 1 WHERE id = ?",
                (_iso(now), message_ts, alert_id),
            )

    def mark_retry(self, alert_id: int, error: str, next_attempt: datetime) -> None:
        """Back to pending until `next_attempt`; `attempted_at` stays: the post may have arrived."""
        with self._tx() as db:
            db.execute(
                "UPDATE alerts SET status = 'pending', attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
                " WHERE id = ?",
                (error[:1000], next_attempt.timestamp(), alert_id),
            )

    def retry_now(self, now: datetime) -> int:
        """Make every pending alert that waits for a later attempt due now (a fixed token or route
        need not wait out the hour); returns how many."""
        with self._tx() as db:
            cur = db.execute(
                "UPDATE alerts SET next_attempt_at = ? WHERE status = 'pending' AND next_attempt_at > ?",
                (now.timestamp(), now.timestamp()),
            )
        return int(cur.rowcount)

    def mark_failed(self, alert_id: int, error: str) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE alerts SET status = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?",
                (error[:1000], alert_id),
            )

    def outbox_counts(self) -> dict[str, int]:
        """Alerts by state; `pending` includes those being posted right now (`sending`)."""
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) AS n FROM alerts GROUP BY status").fetchall()
        counts: dict[str, int] = {}
        for r in rows:
            status = "pending" if r["status"] == "sending" else r["status"]
            counts[status] = counts.get(status, 0) + r["n"]
        return counts

    def outbox_oldest_pending(self) -> datetime | None:
        """When the oldest undelivered alert was queued (None if none waits): how stale the queue is."""
        with self._lock:
            row = self._db.execute(
                "SELECT created_at FROM alerts WHERE status IN ('pending', 'sending') ORDER BY id LIMIT 1"
            ).fetchone()
        return None if row is None else _dt(row["created_at"])
