"""Hostile responses through the real fetch + parse path on loopback: bombs, drips, entity tricks, junk.

Each case is one named test. Memory is measured with tracemalloc (which sees zlib's buffers and
every bytes object), time with the monotonic clock; every bound is far from what the unguarded
code needed (a 64 MiB inflate per read for the bombs, 9 s and 760 MB for the entity expansion).
"""

from __future__ import annotations

import socketserver
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest

from service import sources
from service.errors import FetchError, ParseError, TooLargeError
from service.fetch import Fetcher
from service.models import Item, Source
from service.settings import FetchSettings
from tests.support.servers import Page, Site

MiB = 1024 * 1024
CAP = 1 * MiB
BOMB_SIZE = 200 * MiB
FEED = Source(name="Hostile", kind="feed", url="http://127.0.0.1/feed.xml", interval_seconds=600)
T = TypeVar("T")


def fetcher(**kw: Any) -> Fetcher:
    settings = {"allow_private_hosts": ("127.0.0.0/8",), "per_host_spacing": 0, "max_bytes": CAP, **kw}
    return Fetcher(FetchSettings(**settings))


def measured(call: Callable[[], T]) -> tuple[T | BaseException, int, float]:
    """What `call` returned or raised, the peak of traced memory while it ran, and its seconds."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        outcome: T | BaseException = call()
    except Exception as e:
        outcome = e
    seconds = time.monotonic() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, peak, seconds


def fetch_and_parse(site: Site, page: Page, path: str = "/feed.xml", **kw: Any) -> list[Item]:
    site.pages[path] = page
    result = fetcher(**kw).get(site.url + path)
    return sources.parse(FEED, result)


# --- compression bombs ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def deflated_zeros() -> tuple[bytes, int, int]:
    """200 MiB of zeros as one raw deflate stream (about 200 KB), with its CRC-32 and Adler-32."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = bytes(MiB)
    parts, crc, adler = [], 0, 1
    for _ in range(BOMB_SIZE // MiB):
        parts.append(compressor.compress(block))
        crc, adler = zlib.crc32(block, crc), zlib.adler32(block, adler)
    parts.append(compressor.flush())
    return b"".join(parts), crc, adler


def _bomb(deflated_zeros: tuple[bytes, int, int], form: str) -> bytes:
    raw, crc, adler = deflated_zeros
    if form == "gzip":
        return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + raw + struct.pack("<II", crc, BOMB_SIZE % 2**32)
    if form == "zlib":
        return b"\x78\xda" + raw + struct.pack(">I", adler)
    return raw


@pytest.mark.parametrize(
    ("form", "content_encoding"), [("gzip", "gzip"), ("zlib", "deflate"), ("raw", "deflate"), ("gzip", "x-gzip")]
)
def test_compression_bomb_stops_at_the_cap_without_inflating(
    site: Site, deflated_zeros: tuple[bytes, int, int], form: str, content_encoding: str
) -> None:
    bomb = _bomb(deflated_zeros, form)
    wbits = {"gzip": zlib.MAX_WBITS | 16, "zlib": zlib.MAX_WBITS, "raw": -zlib.MAX_WBITS}[form]
    assert len(bomb) < 300_000 and zlib.decompressobj(wbits).decompress(bomb, 1000) == bytes(1000)
    site.pages["/bomb"] = Page(bomb, headers={"Content-Encoding": content_encoding}, validators=False)
    f = fetcher()
    outcome, peak, seconds = measured(lambda: f.get(site.url + "/bomb"))
    assert isinstance(outcome, TooLargeError) and "after decompression" in str(outcome)
    assert peak < 3 * CAP, f"peak {peak / MiB:.1f} MiB for a {CAP / MiB:.0f} MiB cap"
    assert seconds < 1.5


def test_nested_compression_bomb_stops_at_the_cap(site: Site, deflated_zeros: tuple[bytes, int, int]) -> None:
    """`Content-Encoding: gzip, gzip`: 200 MiB in under a kilobyte, both layers inflated piece by piece."""
    inner = _bomb(deflated_zeros, "gzip")
    outer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    bomb = outer.compress(inner) + outer.flush()
    assert len(bomb) < 2_000
    site.pages["/bomb"] = Page(bomb, headers={"Content-Encoding": "gzip, gzip"}, validators=False)
    f = fetcher()
    outcome, peak, _ = measured(lambda: f.get(site.url + "/bomb"))
    assert isinstance(outcome, TooLargeError)
    assert peak < 3 * CAP


def test_only_gzip_and_deflate_are_asked_for(site: Site) -> None:
    """brotli and zstd are not installed here: a server must not be invited to send them."""
    site.pages["/f"] = Page(b"<rss/>", gzip=True)
    assert fetcher().get(site.url + "/f").body == b"<rss/>"
    assert site.requests[-1][1]["Accept-Encoding"] == "gzip, deflate"


def test_corrupt_compressed_body_is_a_fetch_error(site: Site) -> None:
    site.pages["/f"] = Page(b"\x1f\x8b\x08\x00 this is not gzip at all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError, match="could not decompress"):
        fetcher().get(site.url + "/f")


def test_unknown_content_encoding_passes_through_and_is_still_capped(site: Site) -> None:
    site.pages["/f"] = Page(b"<rss/>", headers={"Content-Encoding": "utf-8"})
    assert fetcher().get(site.url + "/f").body == b"<rss/>"
    site.pages["/big"] = Page(b"x" * (2 * CAP), headers={"Content-Encoding": "br"})
    with pytest.raises(TooLargeError):
        fetcher().get(site.url + "/big")


# --- slow servers -----------------------------------------------------------------------------------


class _Trickle:
    """A loopback server that reads a request, then writes `response` one byte every `drip` seconds."""

    def __init__(self, response: bytes, drip: float) -> None:
        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.recv(65536)
                try:
                    for i in range(len(response)):
                        self.request.sendall(response[i : i + 1])
                        time.sleep(drip)
                except OSError:  # the client gave up, as it should
                    pass

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            block_on_close = False
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def trickle() -> Iterator[Callable[[bytes, float], _Trickle]]:
    servers: list[_Trickle] = []

    def start(response: bytes, drip: float) -> _Trickle:
        servers.append(_Trickle(response, drip))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def test_body_dripping_a_byte_every_300ms_is_cut_at_the_deadline(site: Site) -> None:
    site.pages["/drip"] = Page(b"<rss>" + b" " * 100 + b"</rss>", drip=0.3, validators=False)  # 33 s in all
    started = time.monotonic()
    with pytest.raises(FetchError, match="deadline of 2s passed"):
        fetcher(deadline=2, read_timeout=5).get(site.url + "/drip")
    assert time.monotonic() - started < 10  # not the 33 s the drip takes (a loose bound: this is no timing test)


def test_headers_dripping_a_byte_every_300ms_are_cut_at_the_deadline(
    trickle: Callable[[bytes, float], _Trickle],
) -> None:
    """No read ever waits past its timeout, yet the status line and headers never finish."""
    server = trickle(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200 + b"\r\n\r\n", 0.3)
    started = time.monotonic()
    with pytest.raises(FetchError, match="deadline of 1s passed"):
        fetcher(deadline=1, read_timeout=5).get(server.url)
    assert time.monotonic() - started < 10  # not the minute the headers take to drip


# --- XML entities -----------------------------------------------------------------------------------


def _entity_feed(title: str, description: str, *, entities: str, prolog: str = '<?xml version="1.0"?>') -> str:
    return (
        f"{prolog}\n<!DOCTYPE rss [\n{entities}\n]>\n"
        f'<rss version="2.0"><channel><title>Caf\u00e9</title><link>http://a.example/</link>'
        f"<item><title>{title}</title><link>http://a.example/1</link><description>{description}</description></item>"
        f"</channel></rss>"
    )


QUADRATIC = _entity_feed("x &e;", "&e;" * 15_000, entities=f'<!ENTITY e "{"A" * 50_000}">')  # 95 KB -> 750 MB


@pytest.mark.parametrize(
    ("encoding", "content_type"),
    [
        ("utf-8", "application/rss+xml"),  # fastfeedparser's reading, which never expands
        ("utf-16", "application/rss+xml"),  # the same, decoded from UTF-16 first
        ("latin-1", "application/rss+xml; charset=iso-8859-1"),  # straight to the feedparser fallback
    ],
)
def test_quadratic_entity_expansion_is_never_expanded(site: Site, encoding: str, content_type: str) -> None:
    body = QUADRATIC.encode(encoding)
    page = Page(body, content_type=content_type)
    outcome, peak, seconds = measured(lambda: fetch_and_parse(site, page))
    assert seconds < 1 and peak < 20 * MiB, f"{seconds:.1f} s, peak {peak / MiB:.0f} MiB"
    if isinstance(outcome, ParseError):
        assert "declares XML entities" in str(outcome)
    else:
        assert isinstance(outcome, list)
        assert all("AAAA" not in item.title + item.summary for item in outcome)


def test_billion_laughs_is_harmless(site: Site) -> None:
    levels = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    body = _entity_feed("&l9;", "&l9;", entities=f'<!ENTITY l0 "lol">{levels}')
    for content_type in ("application/rss+xml", "application/rss+xml; charset=iso-8859-1"):
        page = Page(body.encode("latin-1"), content_type=content_type)
        outcome, peak, seconds = measured(partial(fetch_and_parse, site, page))
        assert seconds < 1 and peak < 20 * MiB
        assert isinstance(outcome, ParseError | list)
        assert not isinstance(outcome, list) or all("lol" not in item.title for item in outcome)


@pytest.mark.parametrize("charset", ["", "; charset=iso-8859-1"], ids=["fastfeedparser", "feedparser"])
def test_external_entities_are_never_read_or_fetched(site: Site, tmp_path: Path, charset: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-MARKER")
    site.pages["/xxe"] = Page(b"FETCHED-MARKER", content_type="text/plain")
    site.pages["/dtd"] = Page(b'<!ENTITY x "FETCHED-MARKER">', content_type="application/xml-dtd")
    entities = (
        f'<!ENTITY file SYSTEM "file://{secret}">'
        f'<!ENTITY web SYSTEM "{site.url}/xxe">'
        f'<!ENTITY % param SYSTEM "{site.url}/dtd"> %param;'
    )
    bodies = [
        _entity_feed("a &file; b", "c &web; d &x;", entities=entities),
        # An external DTD only (no entity declared here): feedparser gets this one too.
        f'<?xml version="1.0"?>\n<!DOCTYPE rss SYSTEM "{site.url}/dtd">\n'
        '<rss version="2.0"><channel><title>Caf\u00e9</title>'
        "<item><title>t &x;</title><link>http://a.example/1</link></item></channel></rss>",
    ]
    for body in bodies:
        try:
            items = fetch_and_parse(site, Page(body.encode("latin-1"), content_type="application/rss+xml" + charset))
        except ParseError:
            items = []
        text = " ".join(f"{i.title} {i.summary} {i.content}" for i in items)
        assert "SECRET-MARKER" not in text and "FETCHED-MARKER" not in text
    assert site.hits("/xxe") == 0 and site.hits("/dtd") == 0


# --- junk that must never crash -----------------------------------------------------------------------


NOW = datetime.now(UTC).replace(microsecond=0)


def _rss(items: str, prolog: str = '<?xml version="1.0" encoding="utf-8"?>') -> str:
    return f'{prolog}<rss version="2.0"><channel><title>t</title><link>http://a.example/</link>{items}</channel></rss>'


def _item(title: str = "t", link: str | None = "http://a.example/1", extra: str = "") -> str:
    link_tag = f"<link>{link}</link>" if link is not None else ""
    return f"<item><title>{title}</title>{link_tag}{extra}</item>"


def test_charset_header_that_lies_is_survived(site: Site) -> None:
    body = _rss(_item("Café"), prolog='<?xml version="1.0"?>').encode("latin-1")
    items = fetch_and_parse(site, Page(body, content_type="application/rss+xml; charset=utf-8"))
    assert [i.url for i in items] == ["http://a.example/1"] and items[0].title.startswith("Caf")


def test_missing_charset_is_guessed(site: Site) -> None:
    body = _rss(_item("Café déjà vu"), prolog="").encode("latin-1")
    items = fetch_and_parse(site, Page(body, content_type="application/rss+xml"))
    assert [i.title for i in items] == ["Café déjà vu"]


def test_unknown_charset_is_survived(site: Site) -> None:
    body = _rss(_item("plain"), prolog='<?xml version="1.0" encoding="x-klingon"?>').encode()
    items = fetch_and_parse(site, Page(body, content_type="application/rss+xml; charset=x-klingon"))
    assert [i.title for i in items] == ["plain"]


@pytest.mark.parametrize(
    "pub_date",
    [
        format_datetime(NOW + timedelta(days=400)),
        "Fri, 31 Dec 9999 23:59:59 +0000",
        "0000-00-00T00:00:00Z",
        "Sat, 01 Jan 0000 00:00:00 +0000",
        "Mon, 99 Foo 2025 99:99:99 +9999",
    ],
)
def test_future_and_year_zero_dates_become_none(site: Site, pub_date: str) -> None:
    (item,) = fetch_and_parse(site, Page(_rss(_item(extra=f"<pubDate>{pub_date}</pubDate>")).encode()))
    assert item.published is None


def test_empty_and_duplicate_guids(site: Site) -> None:
    items = fetch_and_parse(
        site,
        Page(
            _rss(
                _item("empty", "http://a.example/1", '<guid isPermaLink="false"> </guid>')
                + _item("first", "http://a.example/2", '<guid isPermaLink="false">dup</guid>')
                + _item("second", "http://a.example/3", '<guid isPermaLink="false">dup</guid>')
            ).encode()
        ),
    )
    assert [(i.title, i.guid) for i in items] == [("empty", "http://a.example/1"), ("first", "dup")]


def test_javascript_relative_and_missing_links(site: Site) -> None:
    """Relative links resolve against the URL the feed was finally served from, after redirects."""
    site.pages["/old.xml"] = Page(b"", status=301, headers={"Location": "/new/feed.xml"}, validators=False)
    body = _rss(
        _item("script", "javascript:alert(document.cookie)")
        + _item("data", "data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;")
        + _item("none", None)
        + _item("empty", "")
        + _item("relative", "../story?id=7")
    )
    site.pages["/new/feed.xml"] = Page(body.encode())
    items = sources.parse(FEED, fetcher().get(site.url + "/old.xml"))
    assert [(i.title, i.url) for i in items] == [("relative", f"{site.url}/story?id=7")]
