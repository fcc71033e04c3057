"""Source health (pure): when a failing source deserves one message to the ops channel, and its recovery.

One message when a source reaches `threshold` consecutive failures, one when it next succeeds;
nothing in between, however long the outage. The notice goes through the outbox like any alert.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Literal

from service.models import Alert, Source, SourceState

Change = Literal["down", "ok"]


def change(before: SourceState, ok: bool, threshold: int) -> Change | None:
    """The health the source moves to after this poll, or None if it stays as it was."""
    if ok:
        return "ok" if before.health == "down" else None
    errors = before.consecutive_errors + 1
    return "down" if before.health != "down" and errors >= threshold else None


def notice(source: Source, to: Change, before: SourceState, error: str | None, channel: str, now: datetime) -> Alert:
    if to == "down":
        title = f"Source '{source.name}' is failing: {before.consecutive_errors + 1} errors in a row"
        detail = f"Last error: {error}" if error else "Last error: unknown"
    else:
        title = f"Source '{source.name}' recovered after {before.consecutive_errors} failed polls"
        detail = f"Last error was: {before.last_error}" if before.last_error else ""
    key = hashlib.sha256(f"health\n{source.name}\n{to}\n{now.isoformat()}".encode()).hexdigest()[:32]
    return Alert(
        key=key,
        channel=channel,
        source=source.name,
        title=title,
        url=source.url,
        published=now,
        matches=(),
        summary=(detail,) if detail else (),
        kind="health",
    )
