"""The parse pool: a worker process gives the same items, and the same errors, as parsing in-thread."""

from __future__ import annotations

import pytest

from service.errors import ConfigError, ParseError
from service.models import FetchResult, Source
from service.sources.pool import MIN_SOURCES, ParsePool, parse_items

URL = "https://example.com/feed.xml"
FEED = Source(name="Example", kind="feed", url=URL, interval_seconds=600)
RSS = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
    "<link>https://example.com/</link><description>d</description>"
    "<item><title>A &lt;b&gt;bold&lt;/b&gt; move</title><link>https://WWW.example.com/a/?utm_source=x</link>"
    "<pubDate>Mon, 02 Jun 2025 10:00:00 GMT</pubDate></item>"
    "<item><title>Second</title><link>https://example.com/b</link></item>"
    "</channel></rss>"
)


def result(body: str) -> FetchResult:
    return FetchResult(url=URL, final_url=URL, status=200, body=body.encode())


def test_items_carry_their_canonical_url() -> None:
    items = parse_items(FEED, result(RSS))
    assert [(i.title, i.canonical_url) for i in items] == [
        ("A bold move", "https://example.com/a"),
        ("Second", "https://example.com/b"),
    ]


def test_a_worker_process_parses_like_the_calling_thread() -> None:
    with ParsePool(1) as pool:
        assert pool.parse(FEED, result(RSS)) == parse_items(FEED, result(RSS))
        with pytest.raises(ParseError, match="not a feed"):
            pool.parse(FEED, result("<html><body>no feed here</body></html>"))
        with pytest.raises(ConfigError, match="kind html needs html selectors"):
            pool.parse(Source(name="Page", kind="html", url=URL, interval_seconds=600), result("<p>x</p>"))


def test_no_worker_without_work_or_for_a_small_cycle() -> None:
    with ParsePool(1) as pool:
        pass  # closing a pool that never parsed starts and stops nothing
    assert pool._executor is None
    assert ParsePool.for_cycle(MIN_SOURCES - 1).workers == 0
    with ParsePool(0) as pool:
        assert pool.parse(FEED, result(RSS)) == parse_items(FEED, result(RSS))
        assert pool._executor is None
