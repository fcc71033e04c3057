"""Routing (pure): which Slack channels an item's matches go to, as one alert per channel."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from service.models import Alert, Brief, Item, Match


def channels_for(matches: Sequence[Match], routes: Mapping[str, str], default: str) -> list[str]:
    """Each matched topic's channel (or the default), once each, in topic order."""
    out: list[str] = []
    for m in matches:
        channel = routes.get(m.topic, default)
        if channel not in out:
            out.append(channel)
    return out


def alert_key(item: Item, channel: str) -> str:
    """Stable identity of 'this story in this channel': the outbox refuses a second copy."""
    return hashlib.sha256(f"{item.canonical_url or item.url}\n{channel}".encode()).hexdigest()[:32]


def build_alerts(
    item: Item, matches: Sequence[Match], briefs: Mapping[str, Brief] | None, routes: Mapping[str, str], default: str
) -> list[Alert]:
    """One alert per channel the matches route to, each with that channel's brief (if any)."""
    briefs = briefs or {}
    return [
        Alert(
            key=alert_key(item, channel),
            channel=channel,
            source=item.source,
            title=item.title,
            url=item.url,
            published=item.published,
            matches=tuple(matches),
            summary=briefs[channel].key_points if channel in briefs else (),
            brief=briefs.get(channel),
        )
        for channel in channels_for(matches, routes, default)
    ]
