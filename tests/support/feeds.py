"""Small feeds and article pages for tests, with dates relative to a given clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import format_datetime
from html import escape


def rss(items: list[tuple[str, str, datetime]], title: str = "Test feed") -> bytes:
    """items: (title, link, published)."""
    entries = "".join(
        f"<item><title>{escape(t)}</title><link>{escape(link)}</link><guid>{escape(link)}</guid>"
        f"<pubDate>{format_datetime(when)}</pubDate><description>{escape(t)}.</description></item>"
        for t, link, when in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>http://example.com/</link>{entries}</channel></rss>"
    ).encode()


def atom(items: list[tuple[str, str, datetime]], title: str = "Test atom") -> bytes:
    entries = "".join(
        f'<entry><title>{escape(t)}</title><link href="{escape(link)}"/><id>{escape(link)}</id>'
        f"<updated>{when.isoformat()}</updated><summary>{escape(t)}.</summary></entry>"
        for t, link, when in items
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>{title}</title>'
        f"<id>urn:test</id><updated>2025-01-01T00:00:00Z</updated>{entries}</feed>"
    ).encode()


def article(title: str, paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f"<html lang='en'><head><title>{escape(title)}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/about'>About</a></nav>"
        f"<article><h1>{escape(title)}</h1>{body}</article><footer>Copyright Example News</footer></body></html>"
    ).encode()


def ago(now: datetime, hours: float) -> datetime:
    return now - timedelta(hours=hours)
