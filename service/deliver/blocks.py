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

from service.models import Alert

SECTION_LIMIT = 3000
TITLE_LIMIT = 250
SENTENCE_LIMIT = 600


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """Shorten to at most `limit` characters, at a word boundary, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip(" ,;:.-") + "…"


def _link_target(url: str) -> str:
    # Inside <url|text> the characters <, > and | end the link: percent-encode them.
    return url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")


def _label(title: str) -> str:
    # `|` cannot be escaped inside a link label; a look-alike keeps the headline readable.
    return escape(cut(title, TITLE_LIMIT)).replace("|", "¦")


def when(alert: Alert) -> str:
    return alert.published.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if alert.published else "time unknown"


def topics_line(alert: Alert) -> str:
    parts = [f"*{escape(m.topic)}* ({escape(', '.join(m.matched))})" for m in alert.matches]
    return "Topics: " + " · ".join(parts)


def fallback_text(alert: Alert) -> str:
    """The notification text (also what screen readers and webhooks without blocks show)."""
    if alert.kind == "health":
        return escape(f"[newsalert] {alert.title}")
    topics = ", ".join(m.topic for m in alert.matches)
    return escape(f"[{topics}] {cut(alert.title, TITLE_LIMIT)} ({alert.source}) {alert.url}")


def _render_health(alert: Alert) -> list[dict[str, Any]]:
    icon = ":white_check_mark:" if "recovered" in alert.title else ":warning:"
    lines = [
        f"{icon} *{escape(cut(alert.title, TITLE_LIMIT))}*",
        *(escape(cut(s, SENTENCE_LIMIT)) for s in alert.summary),
    ]
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"{escape(alert.url)} · {when(alert)}"}]},
    ]


def render(alert: Alert) -> list[dict[str, Any]]:
    if alert.kind == "health":
        return _render_health(alert)
    headline = f"*<{_link_target(alert.url)}|{_label(alert.title)}>*"
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": headline}},
        {
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": f"{escape(cut(alert.source, 200))} · {when(alert)}"}],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(topics_line(alert), SECTION_LIMIT)}},
    ]
    if alert.summary:
        bullets = "\n".join(f"• {escape(cut(s, SENTENCE_LIMIT))}" for s in alert.summary)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": bullets[:SECTION_LIMIT]}})
    return blocks


def console_text(alert: Alert) -> str:
    """A readable plain-text rendering for the terminal (no escaping needed there)."""
    if alert.kind == "health":
        return "\n".join([f"!! {alert.channel} !! {alert.title}", *(f"   {s}" for s in alert.summary)])
    lines = [
        f"━━ {alert.channel} ━━ {cut(alert.title, TITLE_LIMIT)}",
        f"   {alert.source} · {when(alert)}",
        "   Topics: " + " · ".join(f"{m.topic} ({', '.join(m.matched)}; score {m.score:g})" for m in alert.matches),
        *(f"   • {cut(s, SENTENCE_LIMIT)}" for s in alert.summary),
        f"   {alert.url}",
    ]
    return "\n".join(lines)
