"""LLM briefs by content key and tokens spent per UTC day, in the store's SQLite file (migration 3).

Satisfies `service.summarize.llm.BriefCache`. It borrows the store's connection and lock, as each
store method does, so it shares the store's one-writer discipline; each method is one short
transaction. The cache keeps validated JSON; the writer validates it again when it reads it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from service.store.sqlite import Store


class LLMCache:
    def __init__(self, store: Store) -> None:
        self._store = store

    def get(self, key: str) -> str | None:
        with self._store._lock:
            row = self._store._db.execute("SELECT brief FROM llm_cache WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["brief"])

    def put(self, key: str, brief: str, now: datetime) -> None:
        with self._store._tx() as db:
            db.execute(
                "INSERT OR REPLACE INTO llm_cache (key, brief, created_at) VALUES (?, ?, ?)",
                (key, brief, now.astimezone(UTC).isoformat()),
            )

    def add_tokens(self, day: date, tokens: int) -> int:
        """Add to the day's total and return the new total (atomically, for the budget check)."""
        with self._store._tx() as db:
            db.execute(
                "INSERT INTO llm_usage (day, tokens) VALUES (?, ?)"
                " ON CONFLICT (day) DO UPDATE SET tokens = tokens + excluded.tokens",
                (day.isoformat(), tokens),
            )
            row = db.execute("SELECT tokens FROM llm_usage WHERE day = ?", (day.isoformat(),)).fetchone()
        return int(row["tokens"])

    def tokens_today(self, today: date) -> int:
        with self._store._lock:
            row = self._store._db.execute("SELECT tokens FROM llm_usage WHERE day = ?", (today.isoformat(),)).fetchone()
        return 0 if row is None else int(row["tokens"])

    def prune(self, before: datetime) -> int:
        """Forget briefs cached before `before` (a story is not summarized again after weeks); returns rows removed."""
        with self._store._tx() as db:
            cur = db.execute("DELETE FROM llm_cache WHERE created_at < ?", (before.astimezone(UTC).isoformat(),))
        return cur.rowcount
