"""Slack text helpers (pure): escaping untrusted text (and defanging its URLs) and cutting it cleanly to a limit."""

from __future__ import annotations

from service.links import defang
from service.models import Match

TITLE_LIMIT = 250


def escape(text: str) -> str:
    """Untrusted text for mrkdwn: no Slack syntax (`<!channel>`, `<@U1>`, `<url|label>`), and no
    URL Slack would link (`defang`: `evil[.]zip`): the only links in a message are ours."""
    return escape_marks(defang(text))


def escape_marks(text: str) -> str:
    """Slack's three escapes only: for the item's own link (meant to be a link) and a configured
    source name."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    """Shorten to at most `limit` characters, at a word boundary, with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip(" ,;:.-") + "…"


def link_target(url: str) -> str:
    # Inside <url|text> the characters <, > and | end the link: percent-encode them.
    return url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")


def label(title: str) -> str:
    # `|` cannot be escaped inside a link label; a look-alike keeps the headline readable.
    return escape(cut(title, TITLE_LIMIT)).replace("|", "¦")


def explain(m: Match) -> str:
    """Why a topic matched, as plain text: `Microsoft + OpenAI (ended); matched Microsoft, deal; model 0.93 (...)`."""
    event = m.event.split(": ", 1)[-1] + "; " if m.event else ""
    words = f"{event}matched {', '.join(m.matched)}" if event else ", ".join(m.matched)
    return f"{words}; {m.model}" if m.model else words
