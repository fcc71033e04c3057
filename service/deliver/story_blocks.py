"""Render a story's thread replies, its outlets line and digests as Block Kit and text (pure).

Like blocks.py, every text from a source is escaped and cut to Block Kit's limits. A digest is
one message of at most `service.stories.digest.DIGEST_LINES` stories (several when there are more).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from service.deliver.text import cut, escape, escape_marks, label, link_target
from service.models import Alert, DigestLine

SECTION_LIMIT = 3000
LINK_LIMIT = 1000
OUTLETS_SHOWN = 6


def outlets_text(outlets: Sequence[str]) -> str:
    """`Covered by 3 outlets: TechCrunch, The Verge, Hacker News` (the first few named)."""
    named = ", ".join(outlets[:OUTLETS_SHOWN]) + (
        f" and {len(outlets) - OUTLETS_SHOWN} more" if len(outlets) > OUTLETS_SHOWN else ""
    )
    return f"Covered by {len(outlets)} outlet{'' if len(outlets) == 1 else 's'}: {named}"


def outlets_context(alert: Alert) -> list[dict[str, Any]]:
    """A parent's context line once other outlets covered its story (nothing before)."""
    if len(alert.outlets) < 2:
        return []
    return [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(cut(outlets_text(alert.outlets), 2000))}]}
    ]


def reply_text(alert: Alert) -> str:
    return (
        escape_marks(f"Also reported by {alert.source}: ")
        + escape(f"{cut(alert.title, 250)} ")
        + escape_marks(alert.url)
    )


def render_reply(alert: Alert) -> list[dict[str, Any]]:
    line = f"Also reported by *{escape_marks(cut(alert.source, 200))}*: <{link_target(alert.url)}|{label(alert.title)}>"
    return [{"type": "section", "text": {"type": "mrkdwn", "text": line}}]


def _digest_line(line: DigestLine) -> str:
    """One story of a digest; at most about 1,400 characters, so every line fits a section."""
    more = f" (+{len(line.outlets) - 1} more)" if len(line.outlets) > 1 else ""
    target = link_target(line.url)
    # A link of thousands of characters would push a section past Block Kit's limit: the title goes unlinked.
    story = f"<{target}|{label(line.title)}>" if len(target) <= LINK_LIMIT else label(line.title)
    return f"• {story} · {escape_marks(cut(line.outlets[0], 100))}{more}"


def digest_text(alert: Alert) -> str:
    return escape(f"newsalert digest for {alert.channel}: {len(alert.lines)} stories {alert.period}".strip())


def render_digest(alert: Alert) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*{digest_text(alert)}*"}},
    ]
    for topic in dict.fromkeys(line.topic for line in alert.lines):
        text = f"*{escape(topic)}*"
        for line in (x for x in alert.lines if x.topic == topic):
            entry = _digest_line(line)
            if len(text) + len(entry) + 1 > SECTION_LIMIT:
                blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
                text = ""
            text = f"{text}\n{entry}" if text else entry
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    return blocks


def console_digest(alert: Alert) -> str:
    lines = [f"══ {alert.channel} ══ digest: {len(alert.lines)} stories {alert.period}".rstrip()]
    for topic in dict.fromkeys(line.topic for line in alert.lines):
        lines.append(f"   {topic}")
        for line in (x for x in alert.lines if x.topic == topic):
            more = f" (+{len(line.outlets) - 1}: {', '.join(line.outlets[1:4])})" if len(line.outlets) > 1 else ""
            lines.append(f"   • {cut(line.title, 160)} · {line.outlets[0]}{more}  {line.url}")
    return "\n".join(lines)


def console_reply(alert: Alert) -> str:
    return f"   ↳ {alert.channel} also reported by {alert.source}: {cut(alert.title, 160)}  {alert.url}"


def console_update(alert: Alert) -> str:
    return f"   ↻ {alert.channel} story now: {outlets_text(alert.outlets)}"
