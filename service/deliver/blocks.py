"""Render an alert as Slack Block Kit and a plain-text fallback (pure).

Every piece of text from a source is untrusted: it is escaped as Slack asks (`&`, `<`, `>` become
entities, https://api.slack.com/reference/surfaces/formatting#escaping), so a headline can never
become `<!channel>`, a user mention or a disguised link; we never set `link_names`, so a bare
`@here` stays text. Lengths are cut on a word boundary to stay inside Block Kit's limits
(section text 3,000 characters, 50 blocks, message text 40,000).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from service.deliver.brief_blocks import brief_console_text, brief_fallback_text, render_brief
from service.deliver.story_blocks import (
    console_digest,
    console_reply,
    console_update,
    digest_text,
    outlets_context,
    render_digest,
    render_reply,
    reply_text,
)
from service.deliver.text import TITLE_LIMIT, cut, escape, escape_marks, explain, label, link_target
from service.models import Alert, Brief

SECTION_LIMIT = 3000
SENTENCE_LIMIT = 600
CONSOLE = {"reply": console_reply, "update": console_update, "digest": console_digest}


def when(alert: Alert) -> str:
    return alert.published.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if alert.published else "time unknown"


def topics_line(alert: Alert) -> str:
    parts = [f"*{escape(m.topic)}* ({escape(explain(m))})" for m in alert.matches]
    return "Topics: " + " · ".join(parts)


def brief_of(alert: Alert) -> Brief | None:
    """The brief to render: an LLM's, or the extractive fallback that must show its note.

    Without an LLM configured the extractive brief carries no note, and the classic layout
    (headline link, topics, summary bullets) is used: nothing changes but the summary.
    """
    brief = alert.brief
    return brief if brief is not None and (brief.origin == "llm" or brief.note) else None


def fallback_text(alert: Alert) -> str:
    """The notification text (also what screen readers and webhooks without blocks show)."""
    if alert.kind == "reply":
        return reply_text(alert)
    if alert.kind == "digest":
        return digest_text(alert)
    if (brief := brief_of(alert)) is not None:
        return brief_fallback_text(brief, alert.url, alert.source, alert.matches)
    if alert.kind == "health":
        return escape(f"[newsalert] {alert.title}")
    topics = ", ".join(m.topic for m in alert.matches)
    return escape(f"[{topics}] {cut(alert.title, TITLE_LIMIT)} ") + escape_marks(f"({alert.source}) {alert.url}")


def _render_health(alert: Alert) -> list[dict[str, Any]]:
    icon = ":white_check_mark:" if "recovered" in alert.title else ":warning:"
    lines = [
        f"{icon} *{escape(cut(alert.title, TITLE_LIMIT))}*",
        *(escape(cut(s, SENTENCE_LIMIT)) for s in alert.summary),
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{escape_marks(alert.url)} · {when(alert)}"}]},
    ]


def render(alert: Alert) -> list[dict[str, Any]]:
    if alert.kind == "reply":
        return render_reply(alert)
    if alert.kind == "digest":
        return render_digest(alert)
    if (brief := brief_of(alert)) is not None:
        brief_blocks = render_brief(brief, alert.url, alert.source, alert.published, alert.matches)
        return (brief_blocks + outlets_context(alert))[:50]
    if alert.kind == "health":
        return _render_health(alert)
    headline = f"*<{link_target(alert.url)}|{label(alert.title)}>*"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"{escape_marks(cut(alert.source, 200))} · {when(alert)}"}],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(topics_line(alert), SECTION_LIMIT)}},
    ]
    if alert.summary:
        bullets = "\n".join(f"• {escape(cut(s, SENTENCE_LIMIT))}" for s in alert.summary)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": bullets[:SECTION_LIMIT]}})
    return blocks + outlets_context(alert)


def console_text(alert: Alert) -> str:
    """A readable plain-text rendering for the terminal (no escaping needed there)."""
    if alert.kind in CONSOLE:
        return CONSOLE[alert.kind](alert)
    if (brief := brief_of(alert)) is not None:
        return brief_console_text(brief, alert.url, alert.source, alert.published, alert.channel, alert.matches)
    if alert.kind == "health":
        return "\n".join([f"!! {alert.channel} !! {alert.title}", *(f"   {s}" for s in alert.summary)])
    lines = [
        f"━━ {alert.channel} ━━ {cut(alert.title, TITLE_LIMIT)}",
        f"   {alert.source} · {when(alert)}",
        "   Topics: " + " · ".join(f"{m.topic} ({explain(m)}; score {m.score:g})" for m in alert.matches),
        *(f"   • {cut(s, SENTENCE_LIMIT)}" for s in alert.summary),
        f"   {alert.url}",
    ]
    return "\n".join(lines)
