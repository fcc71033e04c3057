"""The fetch policy against a loopback server: validators, 304, errors, caps, deadlines."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from service.errors import FetchError, HTTPStatusError, TooLargeError
from service.fetch import Fetcher
from service.retry_after import parse_retry_after
from service.settings import FetchSettings
from tests.support.servers import Page, Site


def fetcher(**kw: float) -> Fetcher:
    """A fetcher with `kw` as its settings; the test sites are on loopback, which it must reach."""
    return Fetcher(FetchSettings(**kw, allow_private_hosts=("127.0.0.0/8",)))  # type: ignore[arg-type]


def test_conditional_get_round_trip(site: Site) -> None:
    site.pages["/f"] = Page(b"<rss/>")
    f = fetcher()
    first = f.get(site.url + "/f")
    assert first.status == 200 and first.body == b"<rss/>" and first.etag and first.last_modified
    second = f.get(site.url + "/f", first.etag, first.last_modified)
    assert second.not_modified and second.body == b""
    headers = site.requests[-1][1]
    assert headers["If-None-Match"] == first.etag
    assert headers["If-Modified-Since"] == first.last_modified
    assert headers["User-Agent"].startswith("newsalert/")


@pytest.mark.parametrize("status", [404, 500, 403])
def test_http_errors(site: Site, status: int) -> None:
    site.pages["/f"] = Page(b"no", status=status)
    with pytest.raises(HTTPStatusError) as e:
        fetcher().get(site.url + "/f")
    assert e.value.status == status and f"HTTP {status}" in str(e.value)


def test_retry_after_is_read(site: Site) -> None:
    site.pages["/f"] = Page(b"slow down", status=429, headers={"Retry-After": "120"})
    with pytest.raises(HTTPStatusError) as e:
        fetcher().get(site.url + "/f")
    assert e.value.retry_after == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60
    assert parse_retry_after("garbage") is None


def test_size_cap_counts_decompressed_bytes(site: Site) -> None:
    site.pages["/bomb"] = Page(b"\0" * 5_000_000, gzip=True)  # ~5 KB on the wire
    with pytest.raises(TooLargeError, match="after decompression"):
        fetcher(max_bytes=1_000_000).get(site.url + "/bomb")
    site.pages["/big"] = Page(b"x" * 2_000_000)
    with pytest.raises(TooLargeError):
        fetcher(max_bytes=1_000_000).get(site.url + "/big")


def test_read_timeout(site: Site) -> None:
    site.pages["/slow"] = Page(b"late", delay=1.5)
    with pytest.raises(FetchError, match="timed out"):
        fetcher(read_timeout=0.3).get(site.url + "/slow")


def test_overall_deadline_stops_a_dripping_server(site: Site) -> None:
    site.pages["/drip"] = Page(b"x" * 200, drip=0.05)  # 10 s in all, never a read timeout
    started = time.monotonic()
    with pytest.raises(FetchError, match="deadline"):
        fetcher(deadline=0.5, read_timeout=2).get(site.url + "/drip")
    assert time.monotonic() - started < 3


def test_redirect_limit_and_refused_connection(site: Site) -> None:
    site.pages["/loop"] = Page(b"", status=302, headers={"Location": "/loop"}, validators=False)
    with pytest.raises(FetchError, match="redirects"):
        fetcher(max_redirects=3).get(site.url + "/loop")
    with pytest.raises(FetchError):
        fetcher(connect_timeout=1).get("http://127.0.0.1:9/")


def test_per_host_limit_is_never_exceeded_and_starts_are_spread(site: Site) -> None:
    site.pages["/f"] = Page(b"<rss/>", delay=0.2, validators=False)
    f = fetcher(per_host=2, per_host_spacing=0.05)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: f.get(site.url + "/f"), range(8)))
    assert site.max_in_flight == 2
    gaps = [b - a for a, b in itertools.pairwise(sorted(site.starts))]
    assert min(gaps) >= 0.04


def test_other_hosts_are_not_held_back(site: Site) -> None:
    other = Site()
    try:
        site.pages["/slow"] = Page(b"x", delay=1.0, validators=False)
        other.pages["/fast"] = Page(b"y", validators=False)
        f = fetcher(per_host=1)
        with ThreadPoolExecutor(4) as pool:
            slow = [pool.submit(f.get, site.url + "/slow") for _ in range(2)]
            time.sleep(0.1)
            started = time.monotonic()
            assert f.get(other.url + "/fast").body == b"y"
            assert time.monotonic() - started < 0.5
            for s in slow:
                s.result()
    finally:
        other.close()
