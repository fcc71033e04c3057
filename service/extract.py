"""Article page -> clean main text and metadata (`Article`); pure: no network, no files, clock injectable.

Trafilatura finds the main text, the title and (through htmldate) the publication date. The canonical
URL and the language are read here from the page head, because trafilatura folds the canonical link
into a `url` that falls back to the page's own address and reports no language without a detector.
Whatever trafilatura or lxml raise on hostile input becomes `ExtractError`, so the pipeline falls back
to the feed's text; the options in `TUNING` were chosen by `bench/extract_quality.py --sweep`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import urljoin, urlsplit

from lxml.html import HtmlElement
from trafilatura import bare_extraction, load_html
from trafilatura.settings import Document

from service.errors import ExtractError
from service.models import Article

# Trafilatura and htmldate report every verdict on a document (no text, not HTML, bad JSON-LD, a date
# string they could not convert) at WARNING or ERROR. Each verdict that matters reaches the caller as
# an ExtractError or a missing field, so at their default levels they would only repeat it in the log.
for _name in ("trafilatura", "htmldate"):
    logging.getLogger(_name).setLevel(logging.CRITICAL)

# A page may state its date in its own time zone without saying so; we read such dates as UTC, which can
# put them up to 14 hours ahead of us. Anything later than this is a wrong date, not an early article.
FUTURE_SLACK: Final = timedelta(days=1)

# Fewer characters than this are a menu, a caption or a footer, not an article: on pages without one
# trafilatura's fallbacks return such scraps (40-50 characters on our fixtures), while the shortest real
# article of the readability corpus gives 265. The caller then uses the feed's own text instead.
MIN_TEXT_CHARS: Final = 80

# Above this share of U+FFFD and control characters the "text" is binary data or a wrong decoding.
_MAX_UNREADABLE_SHARE: Final = 0.05
_UNREADABLE = re.compile(r"[\ufffd\x00-\x08\x0b\x0c\x0e-\x1f]")

# htmldate renders its date with this format; `%z` is empty when the page gave no zone.
_DATE_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%z"

# BCP 47 tag (or a POSIX locale such as og:locale's `en_US`): the primary subtag is what we keep.
_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*")
_NO_LANGUAGE: Final = frozenset({"und", "mul", "zxx"})
_XML_LANG: Final = "{http://www.w3.org/XML/1998/namespace}lang"


@dataclass(frozen=True)
class Tuning:
    """Trafilatura's extraction switches (see its `bare_extraction`)."""

    favor_precision: bool = False
    favor_recall: bool = False
    include_tables: bool = True
    include_comments: bool = False
    fast: bool = False


# Chosen on the 130 pages of mozilla/readability's test corpus (bench/extract_quality.py --sweep):
# favor_recall has the best mean token F1 (0.908 against 0.904 balanced, 0.903 favor_precision; 0.937
# against 0.933 leaving out the 4 toy pages under MIN_TEXT_CHARS) and is the fastest, as balanced mode
# re-runs short extractions in recall mode anyway. It rescues articles balanced mode cuts in half
# (yahoo-2/-3: F1 0.58/0.47 -> 0.92/0.94); a little boilerplate costs topic detection less than a lost
# paragraph. Tables stay in (F1 -0.013 without). Comments never reach `text`; skipping them is free.
TUNING: Final = Tuning(favor_recall=True)


def extract(
    html: bytes | str,
    url: str,
    *,
    now: datetime | None = None,
    tuning: Tuning = TUNING,
    charset: str | None = None,
) -> Article:
    """Read the main text and metadata of the page at `url`; raise ExtractError if there is none.

    `now` (default: the current time; naive means UTC) bounds the publication date. `charset`
    (the HTTP header's) decodes bytes that are not UTF-8; left to themselves they are guessed, and
    a cp1252 page whose charset is only in the header read "naïve" as "naďve".
    """
    moment = _aware(now) if now is not None else datetime.now(UTC)
    tree = _parse(_decoded(html, charset))
    document = _run_trafilatura(tree, url, moment, tuning)
    return Article(
        url=url,
        text=_main_text(document),
        title=(document.title or "").strip(),
        canonical_url=canonical_url(tree, url),
        published=_published(document.date, moment),
        language=page_language(tree) or language_code(document.language),
    )


def _decoded(html: bytes | str, charset: str | None) -> bytes | str:
    if isinstance(html, str) or not charset:
        return html
    try:
        html.decode("utf-8")
        return html  # valid UTF-8 is UTF-8, whatever the header says (servers often default to Latin-1)
    except UnicodeDecodeError:
        return html.decode(charset, "replace")


def _parse(html: bytes | str) -> HtmlElement:
    # load_html, unlike htmldate's, never treats a string as a URL to download; it guesses the encoding.
    try:
        tree = load_html(html)
    except Exception as err:  # lxml and the charset guesser fail in many ways on hostile bytes
        raise ExtractError(f"cannot parse page: {type(err).__name__}: {err}") from err
    # lxml wraps markup-less text (JSON, plain text naming "html") in one childless element
    if tree is None or (tree.tag != "html" and len(tree) == 0):
        raise ExtractError("not an HTML document")
    return tree


def _run_trafilatura(tree: HtmlElement, url: str, now: datetime, tuning: Tuning) -> Document:
    try:
        document = bare_extraction(
            tree,
            url=url,
            with_metadata=True,
            date_extraction_params=_date_params(now),
            favor_precision=tuning.favor_precision,
            favor_recall=tuning.favor_recall,
            include_tables=tuning.include_tables,
            include_comments=tuning.include_comments,
            fast=tuning.fast,
        )
    except Exception as err:  # heuristics over untrusted markup: a failure here belongs to the page
        raise ExtractError(f"trafilatura failed: {type(err).__name__}: {err}") from err
    if not isinstance(document, Document) or not (document.text or "").strip():
        raise ExtractError("no main text found")
    return document


def _date_params(now: datetime) -> dict[str, Any]:
    # trafilatura's default max_date is "today" as a bare date, i.e. today at 00:00: with a time in the
    # output format, htmldate would then reject an article published this morning. Give it a datetime.
    return {
        "original_date": True,  # the publication date, not the last update
        # Free-text search finds no more right dates on the readability corpus (31/33 on the same day
        # either way) but dates 14 more undated pages, mostly by guessing: copyright years read as
        # 1 January, a CSS escape `\2026` (an ellipsis) read as 2026. A wrong date makes an old story
        # look new; None is safer.
        "extensive_search": False,
        # A date in the URL (/2025/05/30/) has no time of day; prefer the page's full timestamps to it.
        "deferred_url_extractor": True,
        "max_date": now + FUTURE_SLACK,
        "outputformat": _DATE_FORMAT,
    }


def _main_text(document: Document) -> str:
    # One paragraph a line; trafilatura keeps the source's indentation around inline markup it drops.
    lines = (line.strip() for line in (document.text or "").splitlines())
    text = "\n".join(line for line in lines if line)
    if len(text) < MIN_TEXT_CHARS:
        raise ExtractError(f"no main text: {len(text)} characters, fewer than {MIN_TEXT_CHARS}")
    if len(_UNREADABLE.findall(text)) > _MAX_UNREADABLE_SHARE * len(text):
        raise ExtractError("main text is unreadable (binary data or a wrong encoding)")
    return text


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _published(value: str | None, now: datetime) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)  # reads `%z` as rendered, "+0100", and its absence
    except ValueError:
        return None
    moment = _aware(moment)
    return moment if moment <= now + FUTURE_SLACK else None


def canonical_url(tree: HtmlElement, url: str) -> str | None:
    """`<link rel=canonical>`, else `og:url`, made absolute; None unless it is an http(s) URL.

    A site's home page is never an article's canonical URL, whatever the page says (a CMS
    template that points every page at `/`): taken at its word, it would make every later
    article of the site a duplicate of the first."""
    base = _base_url(tree, url)
    for candidate in (_canonical_link(tree), _meta_content(tree, "og:url")):
        resolved = _absolute_http(base, candidate)
        if resolved is not None and (_is_home(url) or not _is_home(resolved)):
            return resolved
    return None


def _is_home(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.path in ("", "/") and not parts.query


def _base_url(tree: HtmlElement, url: str) -> str:
    # HTML: relative URLs resolve against the first <base href>, itself relative to the document URL.
    for base in tree.iter("base"):
        href = _attr(base, "href")
        if href:
            try:
                return urljoin(url, href.strip())
            except ValueError:
                return url
    return url


def _canonical_link(tree: HtmlElement) -> str | None:
    for link in tree.iter("link"):
        if "canonical" in (_attr(link, "rel") or "").lower().split():
            return _attr(link, "href")
    return None


def _meta_content(tree: HtmlElement, *keys: str) -> str | None:
    """The content of the first <meta> whose property, name or http-equiv is one of `keys`."""
    for meta in tree.iter("meta"):
        for attribute in ("property", "name", "http-equiv"):
            if (_attr(meta, attribute) or "").strip().lower() in keys:
                return _attr(meta, "content")
    return None


def _absolute_http(base: str, href: str | None) -> str | None:
    if not href or not href.strip():
        return None
    try:
        absolute = urljoin(base, href.strip())
        parts = urlsplit(absolute)
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None
    return absolute if parts.scheme in ("http", "https") and host else None


def _attr(element: HtmlElement, name: str) -> str | None:
    value = element.get(name)  # str or None, but lxml is untyped here
    return value if isinstance(value, str) else None


def page_language(tree: HtmlElement) -> str | None:
    """The primary language subtag the page declares (`<html lang>`, content-language, og:locale)."""
    declared = (
        _attr(tree, "lang"),
        _attr(tree, "xml:lang"),
        _attr(tree, _XML_LANG),
        _meta_content(tree, "content-language", "language"),
        _meta_content(tree, "og:locale"),
    )
    for value in declared:
        code = language_code(value)
        if code is not None:
            return code
    return None


def language_code(value: str | None) -> str | None:
    """`en-US` -> `en`, `ko_KR` -> `ko`, `de, en` -> `de`; None for anything else."""
    first = (value or "").split(",")[0].strip()
    match = _LANGUAGE_TAG.fullmatch(first)
    if match is None or match[1].lower() in _NO_LANGUAGE:
        return None
    return match[1].lower()
