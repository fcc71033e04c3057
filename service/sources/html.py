"""Adapter for HTML listing pages (blogs and newsrooms without a feed), read with CSS selectors.

The source's `HtmlSelectors.item` picks each item; `title`, `link`, `date` and `summary` are looked
up inside it, with defaults (the item's text; the item's own href when it is a link, else its first
`a[href]`). Links resolve against the page's URL, or its `<base href>` as browsers do. Listing pages
often link an article twice (image and headline), so items are deduplicated by URL, keeping the first
with a title. An item selector that matches nothing is a ParseError (the page changed under us), and
so is an invalid selector: it is recorded on the source and the other sources go on.
"""

from __future__ import annotations

import codecs
import warnings
from datetime import UTC, datetime

import soupsieve
from bs4 import BeautifulSoup, Tag, UnusualUsageWarning
from bs4.dammit import EncodingDetector
from soupsieve import SelectorSyntaxError

from service.errors import ConfigError, ParseError
from service.models import FetchResult, HtmlSelectors, Item, Source
from service.sources._normalize import RawEntry, build_item, dedupe_guids, http_charset, resolve_link


def parse(source: Source, result: FetchResult, *, now: datetime | None = None) -> list[Item]:
    selectors = _selectors(source)
    soup = _soup(result)
    nodes = _compile(selectors.item).select(soup)
    if not nodes:
        raise ParseError(f"no element matches the item selector {selectors.item!r}")
    base_url = _base_url(soup, result.final_url or result.url)
    entries = (_raw_entry(node, selectors) for node in nodes)
    clock = now or datetime.now(UTC)
    built = (build_item(source.name, entry, base_url, clock) for entry in entries)
    return dedupe_guids(dedupe_urls([item for item in built if item is not None]))


def dedupe_urls(items: list[Item]) -> list[Item]:
    """One item per URL, in first-seen order; a later duplicate replaces one without a title."""
    chosen: dict[str, Item] = {}
    for item in items:
        kept = chosen.get(item.url)
        if kept is None or (not kept.title and item.title):
            chosen[item.url] = item
    return list(chosen.values())


def _selectors(source: Source) -> HtmlSelectors:
    if source.html is None:
        raise ConfigError(f"source {source.name!r}: kind html needs html selectors")
    return source.html


# Labels browsers read as a larger encoding (the WHATWG Encoding Standard): Korean sites labelled
# EUC-KR are written in CP949, whose syllables strict EUC-KR lacks (똠, 뷁) and lxml would drop.
_SUPERSETS = {"euc_kr": "cp949", "gb2312": "gb18030", "gbk": "gb18030", "iso8859-1": "cp1252", "ascii": "cp1252"}


def _soup(result: FetchResult) -> BeautifulSoup:
    """The parsed page; an HTTP charset wins over the page's own, as the HTML spec says."""
    declared = http_charset(result.content_type) or _codec(
        EncodingDetector.find_declared_encoding(result.body, is_html=True)
    )
    try:
        with warnings.catch_warnings():
            # bs4 warns when a "page" looks like XML or a URL; either way we only look for the selectors.
            warnings.simplefilter("ignore", UnusualUsageWarning)
            return BeautifulSoup(result.body, "lxml", from_encoding=_SUPERSETS.get(declared or "", declared))
    except ValueError as exc:  # lxml refuses some declared encodings outright ("utf\x01-8")
        raise ParseError(f"unreadable page: {exc}") from exc


def _codec(label: str | None) -> str | None:
    try:
        return codecs.lookup(label).name if label else None
    except LookupError:
        return None


def _compile(selector: str) -> soupsieve.SoupSieve:
    try:
        return soupsieve.compile(selector)  # cached by soupsieve, so per-item calls are cheap
    except SelectorSyntaxError as exc:
        raise ParseError(f"invalid CSS selector {selector!r}: {exc}") from exc


def _select_one(root: Tag, selector: str | None) -> Tag | None:
    """The first match of `selector` under `root`; `root` itself when there is no selector."""
    return root if selector is None else _compile(selector).select_one(root)


def _base_url(soup: BeautifulSoup, page_url: str) -> str:
    base = soup.find("base", href=True)
    href = base.get("href") if isinstance(base, Tag) else None
    resolved = resolve_link(href, page_url) if isinstance(href, str) else ""
    return resolved or page_url


def _raw_entry(node: Tag, selectors: HtmlSelectors) -> RawEntry:
    return RawEntry(
        title=_text(_select_one(node, selectors.title)),
        link=_href(_select_one(node, selectors.link)),
        summary=_text(_select_one(node, selectors.summary)) if selectors.summary else None,
        published=(_date(_select_one(node, selectors.date)),) if selectors.date else (),
    )


def _text(node: Tag | None) -> str | None:
    return node.get_text(" ") if node is not None else None


def _href(node: Tag | None) -> str | None:
    """The node's own href (an `<a>`), else the href of its first link."""
    if node is None:
        return None
    own = node.get("href")
    if isinstance(own, str) and own.strip():
        return own
    first = node.find("a", href=True)
    href = first.get("href") if isinstance(first, Tag) else None
    return href if isinstance(href, str) else None


def _date(node: Tag | None) -> str | None:
    """A `<time datetime>`'s machine-readable value, else the node's text."""
    if node is None:
        return None
    machine = node.get("datetime")
    if isinstance(machine, str) and machine.strip():
        return machine
    return node.get_text(" ")
