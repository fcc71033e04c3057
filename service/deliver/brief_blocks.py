"""Render a Brief as Slack Block Kit (pure): headline, original title, key points, details, editor's note.

The layout follows the team's example brief: a header with the translated headline; a context line
with the original title (the link to the article), the source and the time; then the localized
sections (ko: 핵심 요약 / 상세 내용 / 편집자 노트) and the topics. A fallback brief says so in a
last context line ("summary: extractive, LLM unavailable"). Every text, the LLM's included, is
untrusted: it is escaped (`&`, `<`, `>`) and cut to Block Kit's limits *after* escaping: header
plain_text 150 characters, section text 3,000, context elements 10, 50 blocks per message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from service.deliver.text import cut, escape, escape_marks, explain, label, link_target
from service.models import Brief, Match
from service.summarize.brief import Headings, headings

HEADER_LIMIT = 150
SECTION_LIMIT = 3000
POINT_LIMIT = 600
CONTEXT_TEXT_LIMIT = 300
URL_LIMIT = 2000
MAX_BLOCKS = 50


def fit(text: str, limit: int) -> str:
    """Escaped `text`, cut on a word boundary so that the *escaped* result has at most `limit` characters."""
    size = limit
    while True:
        out = escape(cut(text, max(1, size)))
        if len(out) <= limit or size <= 1:
            return out[:limit]
        size = min(size - 1, size * limit // len(out))


def fit_paragraphs(text: str, limit: int) -> str:
    """Like `fit`, keeping paragraphs (blank-line separated) as long as they fit."""
    out: list[str] = []
    used = 0
    for paragraph in re.split(r"\n\s*\n", text):
        if not paragraph.strip():
            continue
        room = limit - used - (2 if out else 0)
        if room < 40:
            break
        piece = fit(paragraph, room)
        out.append(piece)
        used += len(piece) + (2 if len(out) > 1 else 0)
        if piece.endswith("…"):
            break
    return "\n\n".join(out)


def _when(published: datetime | None) -> str:
    return published.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if published else "time unknown"


def _section(heading: str, body: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"*{escape(heading)}*\n{body}"}}


def _context(*texts: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": t} for t in texts[:10]]}


def _bullets(points: Sequence[str], room: int) -> str:
    each = min(POINT_LIMIT, room // max(1, len(points)) - 3)
    return "\n".join(f"• {fit(p, each)}" for p in points)


def _link(url: str, label: str) -> str:
    target = link_target(url)
    # A link this long is no article URL a reader could use; its label alone keeps the line in bounds.
    return f"<{target}|{label}>" if len(target) <= URL_LIMIT else label


def _origin_line(brief: Brief, url: str, source: str, published: datetime | None, h: Headings) -> str:
    """`원제목: <url|Original title> · Source · time`; a headline that is the title itself links the source."""
    where = f"{escape_marks(cut(source, 200))} · {_when(published)}"
    if brief.original_title and brief.original_title.strip() != brief.headline.strip():
        return f"{escape(h.original_title)}: {_link(url, label(brief.original_title))} · {where}"
    return f"{_link(url, label(source) or 'link')} · {_when(published)}"


def topics_text(matches: Sequence[Match], h: Headings) -> str:
    parts = [f"*{m.topic}* ({explain(m)})" for m in matches]
    return fit(f"{h.topics}: " + " · ".join(parts), CONTEXT_TEXT_LIMIT * 3)


def render_brief(
    brief: Brief, url: str, source: str, published: datetime | None, matches: Sequence[Match]
) -> list[dict[str, Any]]:
    h = headings(brief.language)
    headline = brief.headline or brief.original_title or url
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": fit(headline, HEADER_LIMIT), "emoji": True}},
        _context(_origin_line(brief, url, source, published, h)),
    ]
    room = SECTION_LIMIT - len(escape(h.key_points)) - 3
    if brief.headline_only:  # one line, no headings: nothing pretends there was more to brief
        lines = "\n".join(fit(p, POINT_LIMIT) for p in brief.key_points)
        if lines:
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": lines}})
    elif brief.key_points:
        blocks.append(_section(h.key_points, _bullets(brief.key_points, room)))
    if brief.details.strip():
        blocks.append(_section(h.details, fit_paragraphs(brief.details, SECTION_LIMIT - len(escape(h.details)) - 3)))
    if brief.editor_note.strip():
        note_room = SECTION_LIMIT - len(escape(h.editor_note)) - 3
        blocks.append(_section(h.editor_note, fit_paragraphs(brief.editor_note, note_room)))
    if matches:
        blocks.append(_context(topics_text(matches, h)))
    if brief.note:
        blocks.append(_context(f"_{fit(brief.note, CONTEXT_TEXT_LIMIT)}_"))
    return blocks[:MAX_BLOCKS]


def brief_fallback_text(brief: Brief, url: str, source: str, matches: Sequence[Match]) -> str:
    """The message's top-level `text`: the notification line (and what clients without blocks show)."""
    topics = ", ".join(m.topic for m in matches)
    head = cut(brief.headline or brief.original_title, 250)
    return escape(f"[{topics}] {head} ") + escape_marks(f"({source}) {url}")


def brief_console_text(
    brief: Brief, url: str, source: str, published: datetime | None, channel: str, matches: Sequence[Match] = ()
) -> str:
    """A plain-text rendering for the terminal and `newsalert preview` (no escaping needed there),
    with the topics line: why it alerted."""
    h = headings(brief.language)
    lines = [f"━━ {channel} ━━ {cut(brief.headline, 250)}"]
    if brief.original_title and brief.original_title != brief.headline:
        lines.append(f"   {h.original_title}: {cut(brief.original_title, 250)}")
    lines.append(f"   {source} · {_when(published)}")
    if matches:
        lines.append(f"   {h.topics}: " + " · ".join(f"{m.topic} ({explain(m)})" for m in matches))
    if brief.headline_only:
        lines += [f"   {cut(p, POINT_LIMIT)}" for p in brief.key_points]
    elif brief.key_points:
        lines += [f"   {h.key_points}", *(f"   • {cut(p, POINT_LIMIT)}" for p in brief.key_points)]
    for heading, body in ((h.details, brief.details), (h.editor_note, brief.editor_note)):
        if body.strip():
            lines += [f"   {heading}", *(f"   {p.strip()}" for p in re.split(r"\n\s*\n", body) if p.strip())]
    if brief.note:
        lines.append(f"   ({brief.note})")
    lines.append(f"   {url}")
    return "\n".join(lines)
