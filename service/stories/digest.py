"""When a channel gets a story, and what its digests hold (pure; the clock is passed in).

Each channel has a policy (`slack.channels` in settings.yaml): real-time alerts, a digest
(hourly, daily or weekly, at a local time in the channel's time zone), or both; quiet hours during
which alerts are held for the digest that follows (the end of the quiet hours is itself a digest
time); an `urgent_score` above which a story breaks through the quiet hours; and thresholds a story
must reach before it is posted at all (`min_score`, `min_outlets`). Time zones come from the IANA
database (`zoneinfo`), so "09:00 Asia/Seoul" and quiet hours across a DST change mean local time.

A story's importance grows with the number and weight of the outlets covering it, its topic's
priority, and recency (coverage a day old counts half).

`decide` says what to do with one story alert in one channel now; `due_digest` says which digest
time, if any, has passed; `digest_lines` ranks a digest's held entries, one line per story,
grouped by topic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from service.models import Alert, DigestLine

Delivery = Literal["realtime", "digest", "both"]
Action = Literal["post", "hold", "wait"]  # post now; only into the next digest; not yet (thresholds)
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HALF_LIFE_HOURS = 24.0
DIGEST_LINES = 40  # stories per digest message (one section per topic keeps it inside 50 blocks)


@dataclass(frozen=True)
class ChannelPolicy:
    delivery: Delivery = "realtime"
    digest: Literal["hourly", "daily", "weekly"] = "daily"
    digest_at: str = "09:00"  # local time of a daily or weekly digest (an hourly one runs on the hour)
    digest_day: str = "monday"
    timezone: str = "UTC"
    quiet_hours: tuple[str, str] | None = None  # local ("22:00", "08:00"): held until 08:00
    urgent_score: float | None = None  # a story this important breaks through quiet hours
    min_score: float = 0.0
    min_outlets: int = 1

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class Decision:
    action: Action
    digest: bool  # also put the story into the channel's next digest
    why: str


def importance(weights: Sequence[float], priority: float, age_hours: float = 0.0) -> float:
    """Σ outlet weights × topic priority × recency (halved for each day since the latest coverage)."""
    recency = float(0.5 ** (max(0.0, age_hours) / HALF_LIFE_HOURS))
    return round(sum(weights) * priority * recency, 3)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def in_quiet_hours(policy: ChannelPolicy, now: datetime) -> bool:
    if policy.quiet_hours is None:
        return False
    local = now.astimezone(policy.zone).time().replace(tzinfo=None)
    start, end = (_clock(t) for t in policy.quiet_hours)
    return start <= local < end if start < end else local >= start or local < end


def decide(policy: ChannelPolicy, now: datetime, score: float, outlets: int, *, reply: bool, threads: bool) -> Decision:
    """What to do with a story alert (a story's first in the channel, or a `reply` to it)."""
    if not reply and (score < policy.min_score or outlets < policy.min_outlets):
        return Decision("wait", False, f"below the channel's bar (score {score:g}, {outlets} outlet(s))")
    both = policy.delivery == "both"
    if policy.delivery == "digest":
        return Decision("hold", True, "the channel takes digests only")
    if reply and not threads:
        return Decision("hold", True, "later coverage: the target cannot thread, folded into the digest")
    if in_quiet_hours(policy, now):
        if policy.urgent_score is not None and score >= policy.urgent_score:
            return Decision("post", both, f"urgent (score {score:g}) during quiet hours")
        return Decision("hold", True, "quiet hours")
    return Decision("post", both, "real time")


def _latest(local: datetime, step: timedelta, now: datetime) -> datetime:
    """The latest of `local`, `local - step`, ... (wall times) that is real and not after `now`."""
    while _wall(local) > now:
        local -= step  # aware arithmetic in one zone keeps the wall time across a DST change
    return _wall(local)


def _schedule(policy: ChannelPolicy, local: datetime, now: datetime) -> datetime:
    """The latest scheduled digest time at or before `now` (`local` is now in the channel's zone)."""
    if policy.digest == "hourly":
        return _latest(local.replace(minute=0, second=0, microsecond=0), timedelta(hours=1), now)
    at = _clock(policy.digest_at)
    day = local.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    if policy.digest == "daily":
        return _latest(day, timedelta(days=1), now)
    day -= timedelta(days=(local.weekday() - DAYS.index(policy.digest_day)) % 7)
    return _latest(day, timedelta(days=7), now)


def _wall(local: datetime) -> datetime:
    """A local wall-clock time made real: re-attached to the zone, so a day's step across a DST
    change keeps the wall time. Of the two readings PEP 495 allows, the later: a time in a
    spring-forward gap (02:30 on the night clocks jump from 02:00 to 03:00) reads on the clock
    before the change, i.e. 03:30, late but never skipped; a time that happens twice when clocks
    go back (01:30) is its second occurrence, so quiet hours ending then end after both."""
    # In UTC: times in a gap or a fold compare oddly in their zone (PEP 495).
    return max(local.replace(fold=0).astimezone(UTC), local.replace(fold=1).astimezone(UTC))


def due_digest(policy: ChannelPolicy, now: datetime, folds: bool) -> datetime | None:
    """The latest digest time at or before `now`, or None if the channel has no digests.

    A channel has digest times when it takes digests (`digest`, `both`), when it has quiet hours
    (their end releases what they held) and when the target cannot thread (`folds`: later coverage
    goes into the daily digest). A scheduled digest that falls in the quiet hours is left to the
    one at their end."""
    local = now.astimezone(policy.zone)
    times: list[datetime] = []
    if policy.delivery != "realtime" or folds:
        scheduled = _schedule(policy, local, now)
        if not in_quiet_hours(policy, scheduled):  # a digest is a message too: the end of the quiet hours brings it
            times.append(scheduled)
    if policy.quiet_hours is not None:
        end = _clock(policy.quiet_hours[1])
        times.append(
            _latest(local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0), timedelta(days=1), now)
        )
    return max(times) if times else None


@dataclass(frozen=True)
class Entry:
    """A held story alert waiting for its channel's digest."""

    story: str  # the story's id (or the item's key when it joined no story)
    topic: str
    title: str
    url: str
    source: str
    score: float


def digest_lines(entries: Iterable[Entry], topic_order: Sequence[str]) -> tuple[DigestLine, ...]:
    """One line per story (its first headline and link, every outlet once), grouped by topic in
    `topic_order`, best score first within a topic."""
    stories: dict[str, list[Entry]] = {}
    for e in entries:
        stories.setdefault(e.story, []).append(e)
    lines = [
        DigestLine(
            topic=group[0].topic,
            title=group[0].title,
            url=group[0].url,
            outlets=tuple(dict.fromkeys(e.source for e in group)),
            score=max(e.score for e in group),
        )
        for group in stories.values()
    ]
    rank = {t: i for i, t in enumerate(topic_order)}
    return tuple(sorted(lines, key=lambda line: (rank.get(line.topic, len(rank)), -line.score)))


def digest_alerts(
    channel: str, due: datetime, entries: Sequence[Entry], batch: int, topic_order: Sequence[str], zone: ZoneInfo
) -> list[Alert]:
    """The digest due at `due` for a channel: one message per `DIGEST_LINES` stories, keyed by the
    channel, the due time and `batch` (the first held entry's id), so the same digest is never
    queued twice, while an entry held before `due` but stored after its digest was queued (an item
    still being filed when the digest closed) gets a digest of its own instead of being dropped."""
    lines = digest_lines(entries, topic_order)
    base = f"digest\n{channel}\n{due.isoformat()}\n{batch}"
    period = f"until {due.astimezone(zone):%Y-%m-%d %H:%M %Z}"
    return [
        Alert(
            key=hashlib.sha256(f"{base}\n{i}".encode()).hexdigest()[:32],
            channel=channel,
            source="newsalert",
            title=f"Digest for {channel}",
            url="",
            published=due,
            matches=(),
            kind="digest",
            lines=lines[start : start + DIGEST_LINES],
            period=period,
        )
        for i, start in enumerate(range(0, len(lines), DIGEST_LINES))
    ]
