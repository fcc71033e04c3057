"""Turn whatever a parser hands over as a date into an aware UTC datetime, or None.

Feeds carry dates as RFC 822 strings (RSS), ISO 8601 / RFC 3339 strings (Atom, JSON Feed, JSON APIs),
``time.struct_time`` (feedparser), epoch numbers (APIs, sometimes in milliseconds) or free text (HTML
listing pages). A date is only useful for ordering and freshness, so anything unparseable or
implausible (before 1995, or more than two days ahead of ``now``) becomes None: the item is kept, the
bad date is dropped and nothing is recorded.
"""

from __future__ import annotations

import re
import time
import warnings
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import dateutil.parser  # type: ignore[import-untyped]  # no stubs; comes with fastfeedparser

EARLIEST = datetime(1995, 1, 1, tzinfo=UTC)
MAX_AHEAD = timedelta(days=2)
_MAX_DATE_CHARS = 100  # real dates are short; anything longer is not worth a parser's time
_MS_EPOCH_FLOOR = 1e11  # 1e11 s is the year 5138, so larger epoch numbers are milliseconds
_EPOCH_TEXT = re.compile(r"\d{9,13}(\.\d+)?")
# "GMT+0900", "UTC+9": an offset written after a zone name, which dateutil reads with the sign
# reversed (POSIX style) and email.utils not at all; "+0900" is what the writer meant.
_GMT_OFFSET = re.compile(r"\b(?:GMT|UTC)\s*([+-])(\d{2}):?(\d{2})\b|\b(?:GMT|UTC)\s*(?=[+-]\d)", re.IGNORECASE)
# Zone names common on Asian news sites that neither parser knows (both would take them as UTC).
_ZONES = {"KST": "+0900", "JST": "+0900", "HKT": "+0800", "SGT": "+0800"}
_ZONE_NAMES = re.compile(r"\b(?:" + "|".join(_ZONES) + r")\b", re.IGNORECASE)
# Missing date parts default to year 1, so "March 5" (no year) falls before EARLIEST and is dropped.
_NO_DEFAULTS = datetime(1, 1, 1)


def first_date(candidates: Iterable[object], now: datetime) -> datetime | None:
    """The first candidate that parses to a plausible date."""
    for candidate in candidates:
        parsed = parse_date(candidate, now)
        if parsed is not None:
            return parsed
    return None


def parse_date(value: object, now: datetime) -> datetime | None:
    """`value` as an aware UTC datetime within [1995, now + 2 days], else None."""
    parsed = _to_datetime(value)
    if parsed is None or not EARLIEST <= parsed <= now + MAX_AHEAD:
        return None
    return parsed


def _to_datetime(value: object) -> datetime | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, time.struct_time):
        return _from_struct_time(value)
    if isinstance(value, int | float):
        return _from_epoch(value)
    if isinstance(value, str):
        return _from_text(value)
    return None


def _as_utc(value: datetime) -> datetime | None:
    """Naive datetimes are taken as UTC (what feeds that omit the zone usually mean)."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 has no UTC equivalent
        return None


def _from_struct_time(value: time.struct_time) -> datetime | None:
    """feedparser's ``*_parsed`` fields are struct_time in UTC; year 0 and the like do not fit."""
    try:
        return datetime(*value[:6], tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _from_epoch(value: float) -> datetime | None:
    seconds = value / 1000 if value > _MS_EPOCH_FLOOR else value
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _from_text(value: str) -> datetime | None:
    text = value.strip()
    if not text or len(text) > _MAX_DATE_CHARS:
        return None
    if _EPOCH_TEXT.fullmatch(text):
        return _from_epoch(float(text))
    text = _ZONE_NAMES.sub(lambda m: _ZONES[m.group(0).upper()], _GMT_OFFSET.sub(r"\1\2\3", text))
    return _from_iso(text) or _from_rfc822(text) or _from_free_text(text)


def _from_iso(text: str) -> datetime | None:
    try:
        return _as_utc(datetime.fromisoformat(text))
    except ValueError:
        return None


def _from_rfc822(text: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(text)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:
        # No zone it knows: none given, "-0000", a name like "CEST", or an "AM"/"PM" it skipped
        # ("Aug 5, 2025 10:00 PM" would be 10:00). dateutil reads the whole text.
        return _from_free_text(text) or _as_utc(parsed)
    return _as_utc(parsed)


def _from_free_text(text: str) -> datetime | None:
    """Last resort for listing pages ("Aug 5, 2025"); dateutil warns about unknown zone names."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _as_utc(dateutil.parser.parse(text, default=_NO_DEFAULTS))
        except (ValueError, OverflowError):
            return None
