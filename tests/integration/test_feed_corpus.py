"""Every feed of the shared real-world corpus gives items or a ParseError, never another exception.

The corpus (../shared/data/feeds, or $NEWSALERT_SHARED_DATA/feeds) holds broken XML, odd encodings,
HTML pages and other non-feeds. Floors and ceilings below were measured on it (395 files: 7,104 items,
22 ParseErrors, all of them HTML pages, OPML, non-feed XML or a truncated feed); they leave a little
room for parser upgrades and catch a lost fallback (about 100 items come only from feedparser).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from service.errors import ParseError
from service.models import FetchResult, Item, Source
from service.sources import feed

DATA = Path(os.environ.get("NEWSALERT_SHARED_DATA") or Path(__file__).resolve().parents[3] / "shared" / "data")
FEEDS = DATA / "feeds"
if not FEEDS.is_dir():
    pytest.skip(f"shared feed corpus not found at {FEEDS} (set NEWSALERT_SHARED_DATA)", allow_module_level=True)

ITEMS_FLOOR = 7_050
PARSE_ERRORS_CEILING = 25
NOT_FEEDS = (".txt", ".serde.json", ".md", ".tsv")  # provenance notes and expected outputs
SOURCE = Source(name="corpus", kind="feed", url="https://example.com/feed.xml", interval_seconds=600)

Outcome = list[Item] | ParseError | Exception


def feed_files() -> list[Path]:
    return [
        path
        for path in sorted(FEEDS.rglob("*"))
        if path.is_file()
        and not path.name.endswith(NOT_FEEDS)
        and not path.name.upper().startswith("LICENSE")
        and "output" not in path.relative_to(FEEDS).parts
    ]


def outcome(path: Path) -> Outcome:
    fetched = FetchResult(url=SOURCE.url, final_url=SOURCE.url, status=200, body=path.read_bytes())
    try:
        return feed.parse(SOURCE, fetched)
    except Exception as exc:  # ParseError is expected; anything else is what the test reports
        return exc


@pytest.fixture(scope="module")
def outcomes() -> dict[str, Outcome]:
    return {path.relative_to(FEEDS).as_posix(): outcome(path) for path in feed_files()}


def test_corpus_is_there(outcomes: dict[str, Outcome]) -> None:
    assert len(outcomes) >= 390


def test_every_file_gives_items_or_a_parse_error(outcomes: dict[str, Outcome]) -> None:
    unexpected = {
        name: f"{type(result).__name__}: {result}"
        for name, result in outcomes.items()
        if not isinstance(result, list | ParseError)
    }
    assert unexpected == {}


def test_items_are_well_formed(outcomes: dict[str, Outcome]) -> None:
    items = [item for result in outcomes.values() if isinstance(result, list) for item in result]
    assert all(item.url.startswith(("http://", "https://")) and item.guid for item in items)
    assert all(len(item.title) <= 500 and len(item.summary) <= 5_000 for item in items)
    assert all(item.published is None or item.published.tzinfo is not None for item in items)


def test_item_floor_and_parse_error_ceiling(outcomes: dict[str, Outcome]) -> None:
    items = sum(len(result) for result in outcomes.values() if isinstance(result, list))
    errors = sorted(name for name, result in outcomes.items() if isinstance(result, ParseError))
    assert items >= ITEMS_FLOOR
    assert len(errors) <= PARSE_ERRORS_CEILING, errors


def test_feeds_without_a_declared_encoding_are_not_garbled(outcomes: dict[str, Outcome]) -> None:
    result = outcomes.get("rss_parser/input/uolNoticias.rss")  # ISO-8859-1 bytes, no XML declaration
    assert isinstance(result, list) and result
    assert not any("\ufffd" in item.title for item in result)
