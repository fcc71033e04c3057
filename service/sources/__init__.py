"""Source adapters: the bytes of one fetched response -> the items it lists, with no I/O at all.

One module per source kind (`feed`, `html` listing pages, `json` APIs), each a pure function of the
`Source` and its `FetchResult`; `_normalize` holds the rules they share (plain capped text, absolute
http(s) links, the guid rule, sane UTC dates, one item per guid). For hostile input an adapter raises
only ParseError; a source whose configuration cannot be used (no selectors, a bad CSS selector)
raises ConfigError. `now` is the clock that future dates are checked against (default: the time now).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from service.errors import ConfigError
from service.models import FetchResult, Item, Source, SourceKind
from service.sources import feed, html, json_api


class Adapter(Protocol):
    def __call__(self, source: Source, result: FetchResult, *, now: datetime | None = None) -> list[Item]: ...


ADAPTERS: dict[SourceKind, Adapter] = {"feed": feed.parse, "html": html.parse, "json": json_api.parse}


def parse(source: Source, result: FetchResult, *, now: datetime | None = None) -> list[Item]:
    """The items of `result`, read by the adapter for `source.kind`."""
    adapter = ADAPTERS.get(source.kind)
    if adapter is None:
        raise ConfigError(f"source {source.name!r}: unknown kind {source.kind!r}")
    return adapter(source, result, now=now)
