"""Adapter for JSON APIs (e.g. Hacker News via Algolia), read through the source's `JsonMapping`.

The mapping names, as dotted paths, where the list of items is (`hits`, `data.items`, `.` for a
document that is itself the list; a numeric segment indexes a list) and where each field is inside an item (`title`, `author.name`). An item
whose url is empty or null (an "Ask HN" post) gets `url_template` with `{id}` replaced by its id,
URL-quoted. Plain traversal with type checks is enough here: every value is then treated as untrusted
by `_normalize`. Invalid JSON, or an items path that does not lead to a list, is a ParseError.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

from service.errors import ConfigError, ParseError
from service.models import FetchResult, Item, JsonMapping, Source
from service.sources._normalize import RawEntry, build_items, scalar_text


def parse(source: Source, result: FetchResult, *, now: datetime | None = None) -> list[Item]:
    mapping = _mapping(source)
    records = _records(_load(result.body), mapping.items)
    entries = (_raw_entry(record, mapping) for record in records if isinstance(record, Mapping))
    return build_items(source.name, entries, result.final_url or result.url, now)


def lookup(document: object, path: str) -> object:
    """The value at dotted `path` in `document`, or None where the path leads nowhere."""
    value = document
    for key in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, list) and key.isdecimal() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def _mapping(source: Source) -> JsonMapping:
    if source.json is None:
        raise ConfigError(f"source {source.name!r}: kind json needs a json mapping")
    return source.json


def _load(body: bytes) -> object:
    try:
        return json.loads(body)  # detects UTF-8/16/32 itself
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ParseError(f"invalid JSON: {str(exc)[:200]}") from exc


def _records(document: object, path: str) -> list[object]:
    # "." (or nothing): the document itself is the list, as WordPress's /wp-json/wp/v2/posts answers.
    records = document if path.strip() in ("", ".") else lookup(document, path)
    if not isinstance(records, list):
        found = "nothing" if records is None else type(records).__name__
        raise ParseError(f"no list of items at {path!r} (found {found})")
    return records


def _raw_entry(record: Mapping[str, object], mapping: JsonMapping) -> RawEntry:
    ident = lookup(record, mapping.id) if mapping.id else None
    return RawEntry(
        title=lookup(record, mapping.title),
        link=_link(record, mapping, scalar_text(ident)),
        guid=ident,
        summary=lookup(record, mapping.summary) if mapping.summary else None,
        published=(lookup(record, mapping.published),) if mapping.published else (),
    )


def _link(record: Mapping[str, object], mapping: JsonMapping, ident: str) -> object:
    link = lookup(record, mapping.url)
    if scalar_text(link) or not (mapping.url_template and ident):
        return link
    # str.replace, not str.format: a stray brace in the configured template cannot raise.
    return mapping.url_template.replace("{id}", quote(ident, safe=""))
