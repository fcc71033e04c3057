"""Links in untrusted text (pure): what Slack would turn into a link, judged against the public
suffix list, so that the only links in a message are the ones newsalert puts there.

Slack links a URL with a scheme, a `www.` name and a bare domain with a known top-level domain
(`evil.zip`, `bit.ly/x`), and it links a masked link `<http://evil|label>` written in mrkdwn. A
feed title, an article and an LLM's answer are all untrusted, so:

- `strip_links` (the LLM's output): masked links become their label and every URL-like string is
  removed; the renderer adds the item's own link itself.
- `defang` (any untrusted text the renderer shows): the same strings stay readable but unlinkable
  (`evil[.]zip`, `hxxp://`), the convention of security reports.

A bare name is URL-like when its last labels are a public suffix of the Public Suffix List
(publicsuffixlist's bundled snapshot: offline, no dependencies; unknown suffixes are not domains,
so `node.js`, `U.S.` and `gpt-5.5` stay text). Why that library: a fixed list of suffixes went
stale (`.zip`, `.page` and `.to` got through), and the list changes monthly.
"""

from __future__ import annotations

import functools
import re

from publicsuffixlist import PublicSuffixList

_MASKED = re.compile(r"<([^<>|\s]*)\|([^<>]*)>")
_SCHEME = re.compile(r"\b(?:https?|ftp)://[^\s<>|\"'`(){}\[\]]+|\bwww\.[^\s<>|\"'`(){}\[\]]+", re.IGNORECASE)
_LABEL = r"[^\W_](?:[\w-]{0,62}[^\W_])?"
_NAME = re.compile(rf"(?<![\w@./-])(?:{_LABEL}\.)+{_LABEL}\.?(?::\d{{1,5}})?(?:/[^\s<>|\"'`(){{}}\[\]]*)?")
_EMAIL = re.compile(rf"[\w.+-]+@((?:{_LABEL}\.)+{_LABEL})")
_TRAILING = ".,;:!?…'\"”’)"


@functools.lru_cache(maxsize=1)
def _psl() -> PublicSuffixList:
    return PublicSuffixList(accept_unknown=False)


def _is_domain(host: str) -> bool:
    host = host.rstrip(".").casefold()
    return _psl().privatesuffix(host) is not None


def _spans(text: str) -> list[tuple[int, int]]:
    """Where the URL-like strings are: scheme and `www.` URLs, and bare names under a public suffix."""
    spans = [
        (m.start(), m.end() - (len(m.group(0)) - len(m.group(0).rstrip(_TRAILING)))) for m in _SCHEME.finditer(text)
    ]
    spans += [(m.start(), m.end()) for m in _EMAIL.finditer(text) if _is_domain(m.group(1))]  # Slack mails them
    for m in _NAME.finditer(text):
        if any(a <= m.start() < b for a, b in spans):
            continue
        found = m.group(0).rstrip(_TRAILING)
        host = found.split("/", 1)[0].split(":", 1)[0]
        if _is_domain(host):
            spans.append((m.start(), m.start() + len(found)))
    return sorted(spans)


def _replace(text: str, how: str) -> str:
    text = _MASKED.sub(r"\2", text)  # a masked link is its label, never its target
    out, last = [], 0
    for start, end in _spans(text):
        out.append(text[last:start])
        if how == "defang":
            out.append(_defanged(text[start:end]))
        last = end
    out.append(text[last:])
    return "".join(out)


def _defanged(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    host, slash, path = rest.partition("/")
    mark = {"http": "hxxp", "https": "hxxps", "ftp": "fxp"}.get(scheme.casefold(), scheme)
    return (f"{mark}://" if sep else "") + host.replace(".", "[.]") + slash + path


def strip_links(text: str) -> str:
    """The text without masked links (their labels stay) or any URL-like string."""
    stripped = _replace(text, "strip")
    return "\n".join(re.sub(r"[ \t]{2,}", " ", line).strip() for line in stripped.split("\n")).strip()


def defang(text: str) -> str:
    """The text with masked links turned into their labels and URL-like strings made unlinkable."""
    if "." not in text and "<" not in text:
        return text
    return _replace(text, "defang")


def has_links(text: str) -> bool:
    return bool(_MASKED.search(text) or _spans(text))
